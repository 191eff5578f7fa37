"""PAENet test helpers (a uniquely named module: ``conftest`` names clash across test folders)."""
from __future__ import annotations

import json

import torch

from fastreid_ext.utils.testing import deterministic_fill


def official_state_dict(key_file) -> dict[str, torch.Tensor]:
    """The official PAENet state dict, every key filled by the deterministic rule of the golden data."""
    return deterministic_fill(json.loads(open(key_file).read())["state_dict"])


def paenet_cfg(repo_root, config="configs/PAENet/sysu.yml", opts=()):
    from fastreid_ext.config import load_config

    base = ["MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu"]
    return load_config(str(repo_root / config), base + list(opts))


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
