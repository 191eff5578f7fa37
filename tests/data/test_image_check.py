"""The start-of-run image check (issue 21, item 5): unreadable training images are found before the first
iteration with the test images' one-line error or INPUT.SKIP_UNREADABLE, ``--eval-only`` runs the same
check (tests/engine/test_eval_only_image_check.py), and the header-level check agrees with a full decode (``read_image``) on damaged files."""
import os
import shutil

import cv2
import numpy as np
import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import build_train_loader
from fastreid_ext.data.common import UnreadableImageError, read_image
from fastreid_ext.data.image_check import header_problem
from fastreid_ext.utils.errors import UserError


def _damaged_files(folder):
    """Whole and damaged images of the formats the datasets use, and a few that are not images."""
    img = (np.random.default_rng(0).random((32, 16, 3)) * 255).astype(np.uint8)
    out = {}
    for ext in ("jpg", "png", "bmp"):
        good = folder / f"good.{ext}"
        cv2.imwrite(str(good), img)
        data = good.read_bytes()
        out[f"good.{ext}"] = data
        out[f"half.{ext}"] = data[: len(data) // 2]
        out[f"head.{ext}"] = data[:60]
        out[f"empty.{ext}"] = b""
        out[f"text.{ext}"] = b"not an image at all"
    out["padded.jpg"] = out["good.jpg"] + b"\x00" * 100  # padding after the end-of-image marker is fine
    out["gray.png"] = cv2.imencode(".png", img[..., 0])[1].tobytes()
    for name, data in out.items():
        (folder / name).write_bytes(data)
    return sorted(out)


def test_header_check_agrees_with_a_full_decode(tmp_path):
    for name in _damaged_files(tmp_path):
        path = str(tmp_path / name)
        try:
            read_image(path)
            decodes = True
        except UnreadableImageError:
            decodes = False
        assert (header_problem(path) is None) == decodes, (name, header_problem(path))


def _cfg(root, **opts):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.merge_from_list([x for kv in opts.items() for x in kv])
    return cfg


def test_unreadable_training_image_is_found_before_the_first_iteration(tmp_path, sysu_root, caplog):
    shutil.copytree(sysu_root / "SYSU-MM01", tmp_path / "SYSU-MM01")
    ids = [int(x) for x in open(tmp_path / "SYSU-MM01" / "exp" / "train_id.txt").readline().split(",")]
    folder = tmp_path / "SYSU-MM01" / "cam1" / f"{ids[0]:04d}"
    bad = folder / sorted(os.listdir(folder))[0]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated: the sampler would only fail when it draws it
    with pytest.raises(UserError, match=rf"^1 of (\d+) training images cannot be decoded, first: {bad} \(truncated "
                                        r"or corrupt JPEG.*\. Replace the file\(s\), or set INPUT.SKIP_UNREADABLE"):
        build_train_loader(_cfg(tmp_path))
    with caplog.at_level("INFO"):
        loader = build_train_loader(_cfg(tmp_path, **{"INPUT.SKIP_UNREADABLE": "True"}))
    assert loader.dataset.skipped == [str(bad)]
    assert str(bad) not in [r.img_path for r in loader.dataset.records]
    assert "1 of" in caplog.text and "training images are unreadable and will be skipped" in caplog.text
    assert "training images checked in" in caplog.text  # its cost is in the log
