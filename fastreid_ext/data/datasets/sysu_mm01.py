"""SYSU-MM01 (protocols §1, §2.1): training = train+val ids, query = cams 3/6, gallery pool = cams 1/2/4/5.

Orders (the evaluator and the reference rely on them):
* ``train``: every visible image (sorted pids; cams 1, 2, 4, 5; sorted filenames), then every
  infrared image (sorted pids; cams 3, 6; sorted filenames), as the reference's RGB and IR lists.
* ``query``: test ids sorted, cam3 before cam6, sorted filenames.
* ``gallery``: the whole pool, test ids sorted, then cams 1, 2, 4, 5, then sorted filenames; the
  evaluator draws the per-trial single/multi-shot galleries from it in this order.
"""
from __future__ import annotations

import logging
import os
import re

from ..attributes import load_attributes
from .bases import CrossModalDataset, ImageRecord, synthetic_options
from .build import DATASET_REGISTRY

__all__ = ["SYSU_MM01", "SYSU_MM01_val", "SYSU_CAMERAS", "parse_sysu_path", "read_id_file"]

logger = logging.getLogger(__name__)
VISIBLE_CAMS = (1, 2, 4, 5)
INFRARED_CAMS = (3, 6)
SYSU_CAMERAS = {c: ("visible" if c in VISIBLE_CAMS else "infrared") for c in range(1, 7)}
ID_FILES = ("train_id.txt", "val_id.txt", "test_id.txt")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
EXPECTED_LAYOUT = (
    "SYSU-MM01/{cam1..cam6}/<pid:04d>/<nnnn>.jpg and SYSU-MM01/exp/{train,val,test}_id.txt "
    "(one line of comma-separated ids); see datasets/README.md"
)
_CAM_RE = re.compile(r"^cam(\d+)$")


def parse_sysu_path(path: str) -> tuple[int, int]:
    """(camid, pid) from ``.../cam<k>/<pid>/<file>`` by path components, not character offsets."""
    parts = os.path.normpath(path).split(os.sep)
    if len(parts) < 3:
        raise ValueError(f"SYSU path '{path}' has too few components, expected .../cam<k>/<pid>/<file>.")
    m = _CAM_RE.match(parts[-3])
    if not m or not parts[-2].isdigit():
        raise ValueError(f"SYSU path '{path}' does not look like .../cam<k>/<pid>/<file>.")
    return int(m.group(1)), int(parts[-2])


def read_id_file(path: str) -> list[int]:
    """The ids of an ``exp/*_id.txt`` file: the first line, comma-separated integers (as the reference)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SYSU id file not found: {path}. Expected layout: {EXPECTED_LAYOUT}.")
    with open(path, encoding="utf-8") as f:
        line = f.readline().strip()
    ids = []
    for tok in line.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if not tok.isdigit():
            raise ValueError(f"{path}, line 1: '{tok}' is not an identity number (expected comma-separated integers).")
        ids.append(int(tok))
    if not ids:
        raise ValueError(f"{path}: line 1 holds no ids (expected comma-separated integers).")
    return ids


def check_layout(root: str) -> None:
    missing = [d for d in [f"cam{c}" for c in range(1, 7)] + ["exp"] if not os.path.isdir(os.path.join(root, d))]
    if missing:
        raise FileNotFoundError(
            f"SYSU-MM01 not found or incomplete at {root}: missing {missing}. Expected layout: {EXPECTED_LAYOUT}. "
            "Set DATASETS.ROOT, or DATASETS.SYNTHETIC.AUTO_GENERATE=True for the synthetic demo data."
        )


@DATASET_REGISTRY.register()
class SYSU_MM01(CrossModalDataset):
    name = "SYSU_MM01"
    protocol = "sysu"
    dataset_dir = "SYSU-MM01"
    eval_id_file = "test_id.txt"  # the ids of query and gallery

    def __init__(self, root: str, attributes=None, hold_out_val: bool = False):
        """``root``: the SYSU-MM01 folder; ``attributes``: an AttributeTable or None; ``hold_out_val``:
        train on train_id.txt only (the official recipe trains on train + val ids)."""
        self.root = os.path.abspath(root)
        check_layout(self.root)
        exp = os.path.join(self.root, "exp")
        train_ids = read_id_file(os.path.join(exp, "train_id.txt"))
        if not hold_out_val:
            train_ids += read_id_file(os.path.join(exp, "val_id.txt"))
        train_ids = sorted(set(train_ids))
        test_ids = sorted(set(read_id_file(os.path.join(exp, self.eval_id_file))))
        self._attrs = attributes
        train = self._collect(train_ids, VISIBLE_CAMS) + self._collect(train_ids, INFRARED_CAMS)
        query = self._collect(test_ids, INFRARED_CAMS)
        gallery = self._collect(test_ids, VISIBLE_CAMS)
        for split, recs, ids in (("train", train, train_ids), ("query", query, test_ids), ("gallery", gallery, test_ids)):
            if not recs:
                raise FileNotFoundError(f"SYSU-MM01 at {self.root}: no {split} images for ids {ids[:5]}... Expected layout: {EXPECTED_LAYOUT}.")
        super().__init__(train, query, gallery, attributes.names if attributes is not None else ())
        if attributes is not None:
            attributes.report()
        self.log_summary()

    def _collect(self, pids, cams) -> list[ImageRecord]:
        out = []
        for pid in pids:
            for cam in cams:
                folder = os.path.join(self.root, f"cam{cam}", f"{pid:04d}")
                if not os.path.isdir(folder):
                    continue
                for fname in sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTS)):
                    path = os.path.join(folder, fname)
                    camid, p = parse_sysu_path(path)
                    vals, mask = self.attributes_of(p, camid)
                    out.append(ImageRecord(path, p, camid, SYSU_CAMERAS[camid], vals, mask))
        return out

    @classmethod
    def from_config(cls, cfg):
        root = os.path.join(cfg.DATASETS.ROOT, cls.dataset_dir)
        if not os.path.isdir(root) and cfg.DATASETS.SYNTHETIC.AUTO_GENERATE:
            from ..synthetic import generate_sysu

            logger.info("SYSU-MM01 missing at %s: generating the synthetic demo dataset.", root)
            generate_sysu(root, **synthetic_options(cfg, "images_per_camera"))
        return cls(root, attributes=_attributes_from_config(cfg, root), hold_out_val=cfg.DATASETS.SYSU.HOLD_OUT_VAL)


@DATASET_REGISTRY.register()
class SYSU_MM01_val(SYSU_MM01):
    """Validation split for model selection: query/gallery are the ids of exp/val_id.txt under the
    test protocol; ``train`` holds train_id.txt only (train with DATASETS.SYSU.HOLD_OUT_VAL True)."""

    name = "SYSU_MM01_val"
    eval_id_file = "val_id.txt"

    @classmethod
    def from_config(cls, cfg):
        root = os.path.join(cfg.DATASETS.ROOT, cls.dataset_dir)
        return cls(root, attributes=_attributes_from_config(cfg, root), hold_out_val=True)


def _attributes_from_config(cfg, root):
    a = cfg.DATASETS.ATTRIBUTES
    if not a.ENABLED:
        return None
    path = a.PATH or os.path.join(root, "sysu_attribute")
    if not a.PATH and not os.path.isdir(path):
        logger.warning("SYSU-MM01: no attribute files at %s (see datasets/README.md); training without attributes.", path)
        return None
    return load_attributes(path, SYSU_CAMERAS, list(a.NAMES), a.FALLBACK)
