"""Helpers of the model tests: small configs and batches (CPU, few threads)."""
import pytest
import torch

from fastreid_ext.config import get_cfg


@pytest.fixture(autouse=True)
def _few_threads(two_intra_op_threads):
    """Every test of this folder on two intra-op threads (the repository conftest's fixture)."""


def _make_cfg(depth=18, num_classes=6, **overrides):
    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.BACKBONE.DEPTH = depth
    cfg.MODEL.HEADS.NUM_CLASSES = num_classes
    cfg.merge_from_list([x for kv in overrides.items() for x in kv])
    return cfg


def _make_batch(p=2, k=2, size=(128, 64), seed=0):
    """2PK images in the loader's order: visible id_1×K … id_P×K, then infrared in the same id order."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(p).repeat_interleave(k)
    n = 2 * p * k
    return {
        "images": torch.randn(n, 3, *size, generator=g),
        "targets": torch.cat([ids, ids]),
        "camids": torch.ones(n, dtype=torch.long),
        "modality": torch.tensor([0] * (p * k) + [1] * (p * k)),
        "img_paths": [f"img{i}.jpg" for i in range(n)],
    }


@pytest.fixture
def make_cfg():
    return _make_cfg


@pytest.fixture
def make_batch():
    return _make_batch
