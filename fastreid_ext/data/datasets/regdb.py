"""RegDB (docs/protocols.md#regdb): one trial's train/test split from ``idx/*_{trial}.txt``.

``pid`` is the label of the idx line (training labels are made contiguous by the loader anyway);
attributes are looked up by the identity folder number (``Visible/<id>/...``), because labels are
renumbered in every trial while folders are not. query = test_visible, gallery = test_thermal; the
evaluator swaps them for thermal→visible.
"""
from __future__ import annotations

import os

from ...utils.errors import UserError, UserFileNotFoundError
from .bases import CrossModalDataset
from .build import DATASET_REGISTRY

__all__ = ["RegDB", "read_idx_file", "REGDB_CAMERAS"]

REGDB_CAMERAS = {1: "visible", 2: "infrared"}
EXPECTED_LAYOUT = (
    "RegDB/Visible/<id>/*.bmp, RegDB/Thermal/<id>/*.bmp and RegDB/idx/{train,test}_{visible,thermal}_{t}.txt "
    "(t = 1..10; lines '<relative path> <label>'); see datasets/README.md"
)


def read_idx_file(path: str) -> list[tuple[str, int]]:
    """(relative path, label) per line; a malformed line raises naming the file and line number."""
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f"RegDB index file not found: {path}. Expected layout: {EXPECTED_LAYOUT}.")
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(" ", 1)
            if len(parts) != 2 or not parts[0].strip() or not parts[1].lstrip("-").isdigit():
                raise UserError(f"{path}, line {lineno}: '{line}' is not '<relative path> <integer label>'.")
            out.append((parts[0].strip(), int(parts[1])))
    if not out:
        raise UserError(f"{path}: no entries (expected lines '<relative path> <label>').")
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
    cameras = REGDB_CAMERAS
    attribute_source = "attributes.csv"

    @classmethod
    def options_from_config(cls, cfg) -> dict:
        return {"trial": cfg.DATASETS.REGDB.TRIAL}

    @classmethod
    def check_layout(cls, root: str, trial: int = 1) -> None:
        if not 1 <= int(trial) <= 10:
            raise UserError(f"DATASETS.REGDB.TRIAL is {trial}, expected 1..10.")
        missing = [d for d in ("Visible", "Thermal", "idx") if not os.path.isdir(os.path.join(root, d))]
        if missing:
            raise UserFileNotFoundError(
                f"RegDB not found or incomplete at {root}: missing {missing}. Expected layout: {EXPECTED_LAYOUT}. "
                "Set DATASETS.ROOT, or make the synthetic demo data first (tools/make_synthetic.py)."
            )

    @classmethod
    def list_images(cls, root: str, trial: int = 1):
        """query = test visible, gallery = test thermal; train = visible then thermal."""
        lists = {
            (split, mod): cls._images(root, os.path.join(root, "idx", f"{split}_{mod}_{int(trial)}.txt"), camid)
            for split in ("train", "test")
            for mod, camid in (("visible", 1), ("thermal", 2))
        }
        return {
            "train": lists[("train", "visible")] + lists[("train", "thermal")],
            "query": lists[("test", "visible")],
            "gallery": lists[("test", "thermal")],
        }

    @staticmethod
    def _images(root: str, idx_path: str, camid: int) -> list[tuple[str, int, int, int]]:
        out = []
        for lineno, (rel, label) in enumerate(read_idx_file(idx_path), start=1):
            path = os.path.join(root, rel)
            if not os.path.isfile(path):
                raise UserFileNotFoundError(
                    f"{idx_path}, line {lineno}: image {path} does not exist. Expected layout: {EXPECTED_LAYOUT}."
                )
            out.append((path, label, camid, identity_folder(rel)))
        return out
