"""Package discovery only: metadata and dependencies live in setup.cfg.

setup.cfg cannot combine ``find:`` with a second source root, and the PAENet project package lives
in ``projects/PAENet/paenet`` (importable as ``paenet``), so both trees are discovered here.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["fastreid_ext", "fastreid_ext.*"])
    + find_packages("projects/PAENet", include=["paenet", "paenet.*"]),
)
