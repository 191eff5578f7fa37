"""Package discovery only: metadata and dependencies live in setup.cfg.

setup.cfg cannot combine ``find:`` with other source roots, and the project packages live in
``projects/PAENet/paenet``, ``projects/LLCM/llcm``, ``projects/DDAG/ddag`` and ``projects/MPANet/mpanet``
(importable as ``paenet``, ``llcm``, ``ddag``, ``mpanet``), so every tree is discovered here.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["fastreid_ext", "fastreid_ext.*"])
    + find_packages("projects/PAENet", include=["paenet", "paenet.*"])
    + find_packages("projects/LLCM", include=["llcm", "llcm.*"])
    + find_packages("projects/DDAG", include=["ddag", "ddag.*"])
    + find_packages("projects/MPANet", include=["mpanet", "mpanet.*"]),
)
