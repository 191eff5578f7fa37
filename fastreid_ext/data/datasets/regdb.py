"""RegDB (protocols §3): one trial's train/test split from ``idx/*_{trial}.txt``.

``pid`` is the label of the idx line (training labels are made contiguous by the loader anyway);
attributes are looked up by the identity folder number (``Visible/<id>/...``), because labels are
renumbered in every trial while folders are not. query = test_visible, gallery = test_thermal; the
evaluator swaps them for thermal→visible.
"""
from __future__ import annotations

import logging
import os

from ..attributes import load_attributes
from .bases import CrossModalDataset, ImageRecord, synthetic_options
from .build import DATASET_REGISTRY

__all__ = ["RegDB", "read_idx_file", "REGDB_CAMERAS"]

logger = logging.getLogger(__name__)
REGDB_CAMERAS = {1: "visible", 2: "infrared"}
EXPECTED_LAYOUT = (
    "RegDB/Visible/<id>/*.bmp, RegDB/Thermal/<id>/*.bmp and RegDB/idx/{train,test}_{visible,thermal}_{t}.txt "
    "(t = 1..10; lines '<relative path> <label>'); see datasets/README.md"
)


def read_idx_file(path: str) -> list[tuple[str, int]]:
    """(relative path, label) per line; a malformed line raises naming the file and line number."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"RegDB index file not found: {path}. Expected layout: {EXPECTED_LAYOUT}.")
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(" ", 1)
            if len(parts) != 2 or not parts[0].strip() or not parts[1].lstrip("-").isdigit():
                raise ValueError(f"{path}, line {lineno}: '{line}' is not '<relative path> <integer label>'.")
            out.append((parts[0].strip(), int(parts[1])))
    if not out:
        raise ValueError(f"{path}: no entries (expected lines '<relative path> <label>').")
    return out


def identity_folder(relpath: str) -> int:
    """The identity folder number of ``Visible/<id>/<file>`` (path components, not offsets)."""
    parts = relpath.replace("\\", "/").split("/")
    if len(parts) < 3 or not parts[-2].isdigit():
        raise ValueError(f"RegDB path '{relpath}' does not look like Visible|Thermal/<id>/<file>.")
    return int(parts[-2])


@DATASET_REGISTRY.register()
class RegDB(CrossModalDataset):
    name = "RegDB"
    protocol = "regdb"
    dataset_dir = "RegDB"

    def __init__(self, root: str, trial: int = 1, attributes=None):
        if not 1 <= int(trial) <= 10:
            raise ValueError(f"DATASETS.REGDB.TRIAL is {trial}, expected 1..10.")
        self.root = os.path.abspath(root)
        self.trial = int(trial)
        missing = [d for d in ("Visible", "Thermal", "idx") if not os.path.isdir(os.path.join(self.root, d))]
        if missing:
            raise FileNotFoundError(
                f"RegDB not found or incomplete at {self.root}: missing {missing}. Expected layout: {EXPECTED_LAYOUT}. "
                "Set DATASETS.ROOT, or DATASETS.SYNTHETIC.AUTO_GENERATE=True for the synthetic demo data."
            )
        self._attrs = attributes
        splits = {}
        for split in ("train", "test"):
            for mod, camid in (("visible", 1), ("thermal", 2)):
                path = os.path.join(self.root, "idx", f"{split}_{mod}_{self.trial}.txt")
                splits[(split, mod)] = self._records(path, camid)
        super().__init__(
            splits[("train", "visible")] + splits[("train", "thermal")],
            splits[("test", "visible")],
            splits[("test", "thermal")],
            attributes.names if attributes is not None else (),
        )
        if attributes is not None:
            attributes.report()
        self.log_summary()

    def _records(self, idx_path: str, camid: int) -> list[ImageRecord]:
        out = []
        for lineno, (rel, label) in enumerate(read_idx_file(idx_path), start=1):
            path = os.path.join(self.root, rel)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{idx_path}, line {lineno}: image {path} does not exist. Expected layout: {EXPECTED_LAYOUT}.")
            vals, mask = self.attributes_of(identity_folder(rel), camid)
            out.append(ImageRecord(path, label, camid, REGDB_CAMERAS[camid], vals, mask))
        return out

    @classmethod
    def from_config(cls, cfg):
        root = os.path.join(cfg.DATASETS.ROOT, cls.dataset_dir)
        if not os.path.isdir(root) and cfg.DATASETS.SYNTHETIC.AUTO_GENERATE:
            from ..synthetic import generate_regdb

            logger.info("RegDB missing at %s: generating the synthetic demo dataset.", root)
            generate_regdb(root, **synthetic_options(cfg, "images_per_id"))
        a = cfg.DATASETS.ATTRIBUTES
        attrs = None
        if a.ENABLED:
            path = a.PATH or os.path.join(root, "attributes.csv")
            if a.PATH or os.path.isfile(path):
                attrs = load_attributes(path, REGDB_CAMERAS, list(a.NAMES), a.FALLBACK)
            else:
                logger.warning("RegDB: no attribute file at %s (see datasets/README.md); no attributes.", path)
        return cls(root, trial=cfg.DATASETS.REGDB.TRIAL, attributes=attrs)
