"""Fixtures shared by every test folder (tests/ and projects/*/tests/: this file is at the
repository root, above all of them).

Reference files (released attribute files, official state-dict key list, golden outputs) are
vendored under tests/assets/ (see its README). ``FASTREID_EXT_SHARED`` may point to another copy
(a folder holding ``data/`` in the same layout) — an optional override, never needed.
"""
import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent
ASSETS_DIR = REPO_ROOT / "tests" / "assets"


def reference_dir() -> pathlib.Path:
    """tests/assets, or ``$FASTREID_EXT_SHARED/data`` when that variable is set (optional loader)."""
    env = os.environ.get("FASTREID_EXT_SHARED")
    return pathlib.Path(env) / "data" if env else ASSETS_DIR


@pytest.fixture(scope="session")
def reference_data_dir() -> pathlib.Path:
    d = reference_dir()
    if not (d / "paenet_official_state_dict.json").is_file():
        pytest.fail(f"Reference data not found at {d} (expected the layout of tests/assets/).")
    return d


@pytest.fixture(scope="session")
def shared_data_dir(reference_data_dir) -> pathlib.Path:
    """Older name of ``reference_data_dir``, kept for the tests that still ask for it."""
    return reference_data_dir


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


# --- Synthetic datasets (fastreid_ext.data.synthetic) ------------------------------------------
# `sysu_root` / `regdb_root`: session-scoped DATASETS.ROOT folders holding a tiny generated
# SYSU-MM01/ (20 ids: 12 train+val, 8 test; ~3 images per camera; ~64x32 px; sysu_attribute/*.mat)
# and RegDB/ (20 ids: 10/10 per trial, 4 images per modality, 10 idx trials, attributes.csv),
# in the real layouts. Use: cfg.DATASETS.ROOT = str(sysu_root); cfg.DATASETS.NAMES = ["SYSU_MM01"].
# Treat them as read-only (they are shared by the whole session).
@pytest.fixture(scope="session")
def sysu_root(tmp_path_factory) -> pathlib.Path:
    from fastreid_ext.data.synthetic import generate_sysu

    root = tmp_path_factory.mktemp("datasets_sysu")
    generate_sysu(str(root / "SYSU-MM01"), seed=0, num_ids=20, images_per_camera=3, height=64, width=32, progress=False)
    return root


@pytest.fixture(scope="session")
def regdb_root(tmp_path_factory) -> pathlib.Path:
    from fastreid_ext.data.synthetic import generate_regdb

    root = tmp_path_factory.mktemp("datasets_regdb")
    generate_regdb(str(root / "RegDB"), seed=0, num_ids=20, images_per_id=4, height=64, width=32, progress=False)
    return root


@pytest.fixture
def two_intra_op_threads():
    """Two torch intra-op threads for the test, restored after it (model tests' folders use it for all
    their tests, so their timing does not depend on the machine's core count)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)
