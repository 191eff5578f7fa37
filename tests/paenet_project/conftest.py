"""PAENet test helpers: the deterministic weight fill of shared/data/README.md, golden data."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch


def _ensure_real_paenet() -> None:
    """pytest puts tests/ on sys.path (rootdir conftest, no __init__.py), so ``import paenet`` finds
    this folder as an empty namespace package before the installed project. Load the project
    package from its source folder instead (what the editable install maps ``paenet`` to)."""
    mod = sys.modules.get("paenet")
    if mod is not None and getattr(mod, "__file__", None):
        return
    pkg = pathlib.Path(__file__).resolve().parents[2] / "projects" / "PAENet" / "paenet"
    spec = importlib.util.spec_from_file_location("paenet", pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["paenet"] = module
    spec.loader.exec_module(module)


_ensure_real_paenet()

from paenet_testkit import official_state_dict, paenet_cfg, small_opts  # noqa: E402


@pytest.fixture(scope="session")
def official_keys_file(shared_data_dir):
    return shared_data_dir / "paenet_official_state_dict.json"


@pytest.fixture(scope="session")
def golden(shared_data_dir):
    import numpy as np

    return dict(np.load(shared_data_dir / "paenet_official_golden" / "golden.npz"))


@pytest.fixture(scope="session")
def official_checkpoint(official_keys_file, tmp_path_factory):
    """An official-format ``.t`` file ({'net', 'cmc', 'mAP', 'mINP', 'epoch'}, numpy metrics) with the fill."""
    import numpy as np

    sd = official_state_dict(official_keys_file)
    path = tmp_path_factory.mktemp("official") / "paenet_official.t"
    torch.save({"net": sd, "cmc": np.linspace(0.7, 1.0, 20).astype(np.float32), "mAP": np.float64(0.7),
                "mINP": np.float64(0.6), "epoch": 60}, path)
    return path, sd


@pytest.fixture(scope="session")
def make_cfg(repo_root):
    return lambda config="configs/PAENet/sysu.yml", opts=(): paenet_cfg(repo_root, config, opts)


@pytest.fixture(scope="session")
def build_small(make_cfg):
    """build_small(seed=0, **small_opts kwargs) → a PAENet model on cpu built from sysu.yml."""
    from fastreid_ext.modeling import build_model

    def _build(seed=0, **kw):
        torch.manual_seed(seed)
        return build_model(make_cfg(opts=small_opts(**kw)))

    return _build
