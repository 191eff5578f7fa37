"""Shared fixtures. Reference data lives in ../shared beside the repository (override with
FASTREID_EXT_SHARED); its absence is a failure, not a skip."""
import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_dir() -> pathlib.Path:
    env = os.environ.get("FASTREID_EXT_SHARED")
    return pathlib.Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_data_dir() -> pathlib.Path:
    d = shared_dir() / "data"
    if not d.is_dir():
        pytest.fail(f"Reference data not found at {d}; put shared/ beside the repository or set FASTREID_EXT_SHARED.")
    return d


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT
