"""LLCM test fixtures: a tiny synthetic LLCM in the released layout (session-scoped, read-only)."""
from __future__ import annotations

import pathlib

import pytest


@pytest.fixture(scope="session")
def llcm_root(tmp_path_factory) -> pathlib.Path:
    import llcm  # noqa: F401  (registration, as IMPORTS would)
    from llcm.synthetic import generate_llcm

    root = tmp_path_factory.mktemp("datasets_llcm")
    generate_llcm(str(root / "LLCM"), seed=0, num_ids=12, images_per_camera=2, height=48, width=24, progress=False)
    return root
