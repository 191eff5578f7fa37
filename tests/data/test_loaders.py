"""Transforms, CommDataset and the loaders: shapes, dtypes, batch dict, seeding, unreadable files."""
import itertools

import cv2
import numpy as np
import pytest
import torch

from fastreid_ext.config import get_cfg
from fastreid_ext.data import build_dataset, build_test_loader, build_train_loader
from fastreid_ext.data.common import CommDataset, UnreadableImageError, read_image
from fastreid_ext.data.datasets import ImageRecord
from fastreid_ext.data.transforms import ChannelAugmentation, build_transforms


def _cfg(root, workers=0):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.MODEL.DEVICE = "cpu"
    cfg.DATALOADER.NUM_WORKERS = workers
    cfg.DATALOADER.IDS_PER_BATCH = 3
    cfg.DATALOADER.NUM_INSTANCES = 2
    cfg.INPUT.SIZE_TRAIN = [64, 32]
    cfg.INPUT.SIZE_TEST = [48, 24]
    cfg.INPUT.PADDING = 4
    cfg.TEST.IMS_PER_BATCH = 16
    return cfg


def test_transform_shapes_and_normalisation():
    cfg = _cfg(".")
    cfg.INPUT.REA.ENABLED = True
    cfg.INPUT.CHANNEL_AUG.ENABLED = True
    img = torch.randint(0, 256, (3, 77, 41), dtype=torch.uint8)
    assert build_transforms(cfg, True)(img).shape == (3, 64, 32)
    out = build_transforms(cfg, False)(torch.full((3, 10, 10), 255, dtype=torch.uint8))
    assert out.shape == (3, 48, 24) and out.dtype == torch.float32
    np.testing.assert_allclose(out[:, 0, 0], (1 - torch.tensor(cfg.INPUT.PIXEL_MEAN)) / torch.tensor(cfg.INPUT.PIXEL_STD), rtol=1e-5)
    names = [type(t).__name__ for t in build_transforms(cfg, True, "infrared").transforms]
    assert "ChannelAugmentation" not in names and "RandomErasing" in names and "Pad" in names
    assert "ChannelAugmentation" in [type(t).__name__ for t in build_transforms(cfg, True, "visible").transforms]
    aug = ChannelAugmentation(p=1.0)(img)
    assert torch.equal(aug[0], aug[1]) and torch.equal(aug[1], aug[2])


def test_train_batch_dict(sysu_root):
    loader = build_train_loader(_cfg(sysu_root))
    assert loader.pin_memory is False and loader.num_workers == 0
    b = next(iter(loader))
    assert set(b) == {"images", "targets", "camids", "modality", "attributes", "attribute_mask", "img_paths", "indices"}
    assert b["images"].shape == (12, 3, 64, 32) and b["images"].dtype == torch.float32
    for k in ("targets", "camids", "modality"):
        assert b[k].dtype == torch.int64 and b[k].shape == (12,)
    assert b["attributes"].shape == (12, 8) and b["attributes"].dtype == torch.float32
    assert b["attribute_mask"].dtype == torch.bool and len(b["img_paths"]) == 12
    assert b["modality"].tolist() == [0] * 6 + [1] * 6
    assert set(b["camids"][:6].tolist()) <= {1, 2, 4, 5} and set(b["camids"][6:].tolist()) <= {3, 6}
    ds = loader.dataset
    assert ds.num_classes == 12 and sorted(set(ds.labels)) == list(range(12)) and ds.attribute_names[0] == "gender"
    assert loader.batch_sampler.iters_per_epoch >= 1


def _batches(cfg, n, start=0):
    loader = build_train_loader(cfg)
    loader.batch_sampler.set_start_iter(start)
    return list(itertools.islice(iter(loader), n))


def test_images_independent_of_workers_and_resume(sysu_root):
    cfg = _cfg(sysu_root)
    a = _batches(cfg, 3)
    b = _batches(_cfg(sysu_root, workers=2), 3)
    c = _batches(cfg, 1, start=2)
    for x, y in zip(a, b):
        assert x["img_paths"] == y["img_paths"] and torch.equal(x["images"], y["images"])
    assert c[0]["img_paths"] == a[2]["img_paths"] and torch.equal(c[0]["images"], a[2]["images"])
    assert not torch.equal(a[0]["images"][:6], a[1]["images"][:6])


def test_test_loader_is_ordered(regdb_root):
    cfg = _cfg(regdb_root)
    cfg.DATASETS.NAMES = ["RegDB"]
    ds = build_dataset(cfg, "RegDB")
    batches = list(build_test_loader(cfg, ds.gallery, ds.attribute_names))
    assert [p for b in batches for p in b["img_paths"]] == [r.img_path for r in ds.gallery]
    assert torch.cat([b["targets"] for b in batches]).tolist() == [r.pid for r in ds.gallery]
    assert batches[0]["images"].shape[1:] == (3, 48, 24) and set(torch.cat([b["modality"] for b in batches]).tolist()) == {1}
    assert build_train_loader(cfg).dataset.num_classes == 10


def test_gray_and_unreadable_images(tmp_path):
    gray = tmp_path / "g.png"
    cv2.imwrite(str(gray), np.full((8, 4), 77, np.uint8))
    assert read_image(str(gray)).shape == (8, 4, 3)
    good = tmp_path / "ok.jpg"
    cv2.imwrite(str(good), np.zeros((16, 8, 3), np.uint8))
    data = good.read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.bmp").write_bytes(b"not an image")
    for name in ("trunc.jpg", "junk.bmp"):
        with pytest.raises(UnreadableImageError, match=name):
            read_image(str(tmp_path / name))
    recs = [ImageRecord(str(tmp_path / n), 1, 1, "visible") for n in ("ok.jpg", "trunc.jpg", "g.png", "junk.bmp")]
    cfg = _cfg(tmp_path)
    with pytest.raises(UnreadableImageError, match="trunc.jpg"):
        next(iter(build_test_loader(cfg, recs)))
    cfg.INPUT.SKIP_UNREADABLE = True
    loader = build_test_loader(cfg, recs)
    assert loader.dataset.skipped == [str(tmp_path / "trunc.jpg"), str(tmp_path / "junk.bmp")]
    assert next(iter(loader))["img_paths"] == [str(tmp_path / "ok.jpg"), str(tmp_path / "g.png")]
    ds = CommDataset(recs[:1], build_transforms(cfg, False))
    assert ds[0]["attributes"].shape == (0,) and ds.num_classes == 1
