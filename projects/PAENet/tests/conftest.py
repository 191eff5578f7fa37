"""PAENet test fixtures: the deterministic official-format weight fill, golden data, small models.

The suite-wide fixtures (``repo_root``, ``shared_data_dir``, ``sysu_root``) come from the repository's
conftest.py.
"""
from __future__ import annotations

import pytest
import torch
from paenet_testkit import official_state_dict, paenet_cfg, small_opts


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
