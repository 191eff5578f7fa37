"""Package discovery only: metadata and dependencies live in setup.cfg.

setup.cfg cannot combine ``find:`` with other source roots, and the project packages live in
``projects/PAENet/paenet``, ``projects/LLCM/llcm`` and ``projects/DDAG/ddag`` (importable as ``paenet``,
``llcm``, ``ddag``), so every tree is discovered here.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["fastreid_ext", "fastreid_ext.*"])
    + find_packages("projects/PAENet", include=["paenet", "paenet.*"])
    + find_packages("projects/LLCM", include=["llcm", "llcm.*"])
    + find_packages("projects/DDAG", include=["ddag", "ddag.*"]),
)
