"""PAENet test helpers: the deterministic weight fill of shared/data/README.md, golden data."""
from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import sys
import zlib

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


def fill_tensor(name: str, shape) -> torch.Tensor:
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    shape = tuple(shape)
    if name.endswith("num_batches_tracked"):
        return torch.tensor(0, dtype=torch.long)
    if name.endswith("running_var"):
        return 1 + 0.1 * torch.rand(shape, generator=g)
    if name.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) >= 2:
        return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
    t = 0.1 * torch.randn(shape, generator=g)
    return t + 1 if name.endswith("weight") else t


def official_state_dict(key_file) -> dict[str, torch.Tensor]:
    keys = json.loads(open(key_file).read())["state_dict"]
    return {k: fill_tensor(k, s) for k, s in keys.items()}


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


def paenet_cfg(repo_root, config="configs/PAENet/sysu.yml", opts=()):
    from fastreid_ext.config import load_config

    base = ["MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu"]
    return load_config(str(repo_root / config), base + list(opts))


@pytest.fixture(scope="session")
def make_cfg(repo_root):
    return lambda config="configs/PAENet/sysu.yml", opts=(): paenet_cfg(repo_root, config, opts)


def make_batch(num_ids: int = 2, k: int = 2, num_attributes: int = 5, size=(64, 32), seed: int = 0) -> dict:
    """A training-layout batch: [visible id_1×K … id_P×K, infrared id_1×K … id_P×K]."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(num_ids).repeat_interleave(k)
    targets = torch.cat([ids, ids])
    b = targets.numel()
    per_id = (torch.rand(num_ids, num_attributes, generator=g) > 0.5).float()
    mask = torch.ones(b, num_attributes, dtype=torch.bool)
    mask[0, 0] = False
    return {"images": torch.randn(b, 3, *size, generator=g), "targets": targets,
            "camids": torch.ones(b, dtype=torch.long),
            "modality": torch.cat([torch.zeros(b // 2), torch.ones(b // 2)]).long(),
            "attributes": per_id[targets], "attribute_mask": mask, "img_paths": [f"x{i}.jpg" for i in range(b)]}


def small_opts(depth=18, num_attributes=5, num_classes=3, variant="reference", size=(64, 32), extra=()):
    return ["MODEL.BACKBONE.DEPTH", str(depth), "MODEL.NUM_ATTRIBUTES", str(num_attributes),
            "MODEL.HEADS.NUM_CLASSES", str(num_classes), "PAENET.VARIANT", variant,
            "INPUT.SIZE_TRAIN", str(list(size)), "INPUT.SIZE_TEST", str(list(size))] + list(extra)


@pytest.fixture(scope="session")
def build_small(make_cfg):
    """build_small(seed=0, **small_opts kwargs) → a PAENet model on cpu built from sysu.yml."""
    from fastreid_ext.modeling import build_model

    def _build(seed=0, **kw):
        torch.manual_seed(seed)
        return build_model(make_cfg(opts=small_opts(**kw)))

    return _build
