"""SYSU-MM01 (docs/protocols.md#sysu-mm01): training = train+val ids, query = cams 3/6, gallery pool = cams 1/2/4/5.

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

from ...utils.errors import UserError, UserFileNotFoundError
from .bases import CrossModalDataset
from .build import DATASET_REGISTRY

logger = logging.getLogger(__name__)

__all__ = ["SYSU_MM01", "SYSU_MM01_val", "SYSU_CAMERAS", "parse_sysu_path", "read_id_file"]

VISIBLE_CAMS = (1, 2, 4, 5)
INFRARED_CAMS = (3, 6)
SYSU_CAMERAS = {c: ("visible" if c in VISIBLE_CAMS else "infrared") for c in range(1, 7)}
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
    """The ids of an ``exp/*_id.txt`` file: one line of comma-separated integers.

    The reference code reads only the first line, so ids on a later line would be silently lost:
    they are refused instead, naming the file and the line.
    """
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f"SYSU id file not found: {path}. Expected layout: {EXPECTED_LAYOUT}.")
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        raise UserError(f"{path} starts with a UTF-8 byte-order mark (written by some Windows editors); save it "
                        "without one: line 1 must be plain comma-separated ASCII integers.")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r}); expected one line of "
                        "comma-separated ASCII integers.") from None
    extra = [n for n, ln in enumerate(lines[1:], start=2) if ln.strip()]
    if extra:
        raise UserError(
            f"{path}, line {extra[0]}: '{lines[extra[0] - 1].strip()[:40]}' after line 1; the ids must all be on "
            "line 1, comma-separated (later lines would be ignored by the SYSU-MM01 protocol)."
        )
    ids = []
    for tok in (lines[0] if lines else "").strip().split(","):
        tok = tok.strip()
        if not tok:
            continue
        if not (tok.isascii() and tok.isdigit()):  # int() would also take e.g. fullwidth or Arabic-Indic digits
            raise UserError(f"{path}, line 1: '{tok}' is not an identity number (expected comma-separated integers).")
        ids.append(int(tok))
    if not ids:
        raise UserError(f"{path}: line 1 holds no ids (expected comma-separated integers).")
    return ids


def _warn_ids_without_images(root: str, listed: dict, splits: dict) -> None:
    """Ids of a split file without a single image are dropped from the split: say so (a partial copy of
    the dataset, or a split file of another release), since the id count then differs from the paper's."""
    for what, (files, ids, names) in listed.items():
        seen = {rec[1] for name in names for rec in splits[name]}
        empty = [pid for pid in ids if pid not in seen]
        if empty:
            logger.warning("SYSU-MM01 at %s: %d of the %d %s ids listed in %s have no images in any camera folder "
                           "(e.g. %s); they are left out.", root, len(empty), len(ids), what, " and ".join(files),
                           empty[:10])


@DATASET_REGISTRY.register()
class SYSU_MM01(CrossModalDataset):
    name = "SYSU_MM01"
    protocol = "sysu"
    dataset_dir = "SYSU-MM01"
    cameras = SYSU_CAMERAS
    attribute_source = "sysu_attribute"
    eval_id_file = "test_id.txt"  # the ids of query and gallery

    @classmethod
    def options_from_config(cls, cfg) -> dict:
        """``hold_out_val``: train on train_id.txt only (the official recipe trains on train + val ids)."""
        return {"hold_out_val": bool(cfg.DATASETS.SYSU.HOLD_OUT_VAL)}

    @classmethod
    def check_layout(cls, root: str, **options) -> None:
        missing = [d for d in [f"cam{c}" for c in range(1, 7)] + ["exp"] if not os.path.isdir(os.path.join(root, d))]
        if missing:
            raise UserFileNotFoundError(
                f"SYSU-MM01 not found or incomplete at {root}: missing {missing}. Expected layout: {EXPECTED_LAYOUT}. "
                "Set DATASETS.ROOT, or make the synthetic demo data first (tools/make_synthetic.py)."
            )

    @classmethod
    def list_images(cls, root: str, hold_out_val: bool = False):
        exp = os.path.join(root, "exp")
        train_files = [os.path.join(exp, f) for f in (("train_id.txt",) if hold_out_val else ("train_id.txt", "val_id.txt"))]
        train_ids = sorted({pid for f in train_files for pid in read_id_file(f)})
        test_ids = sorted(set(read_id_file(os.path.join(exp, cls.eval_id_file))))
        overlap = sorted(set(train_ids) & set(test_ids))
        if overlap:
            raise UserError(
                f"{os.path.join(exp, cls.eval_id_file)}: ids {overlap[:10]} ({len(overlap)} in all) are also in "
                f"{' or '.join(train_files)}; evaluation identities must be unseen in training"
                + ("" if cls.eval_id_file == "test_id.txt" else " (for the validation split set DATASETS.SYSU.HOLD_OUT_VAL True)")
                + "."
            )
        splits = {
            "train": cls._images(root, train_ids, VISIBLE_CAMS) + cls._images(root, train_ids, INFRARED_CAMS),
            "query": cls._images(root, test_ids, INFRARED_CAMS),
            "gallery": cls._images(root, test_ids, VISIBLE_CAMS),
        }
        _warn_ids_without_images(root, {"train": (train_files, train_ids, ("train",)),
                                        "evaluation": ([os.path.join(exp, cls.eval_id_file)], test_ids,
                                                       ("query", "gallery"))}, splits)
        for split, ids in (("train", train_ids), ("query", test_ids), ("gallery", test_ids)):
            if not splits[split]:
                raise UserFileNotFoundError(
                    f"SYSU-MM01 at {root}: no {split} images for ids {ids[:5]}... Expected layout: {EXPECTED_LAYOUT}."
                )
        return splits

    @staticmethod
    def _images(root: str, pids, cams) -> list[tuple[str, int, int, int]]:
        out = []
        for pid in pids:
            for cam in cams:
                folder = os.path.join(root, f"cam{cam}", f"{pid:04d}")
                if not os.path.isdir(folder):
                    continue
                for fname in sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTS)):
                    path = os.path.join(folder, fname)
                    camid, p = parse_sysu_path(path)
                    out.append((path, p, camid, p))
        return out


@DATASET_REGISTRY.register()
class SYSU_MM01_val(SYSU_MM01):
    """Validation split for model selection: query/gallery are the ids of exp/val_id.txt under the
    test protocol; ``train`` holds train_id.txt only (train with DATASETS.SYSU.HOLD_OUT_VAL True)."""

    name = "SYSU_MM01_val"
    eval_id_file = "val_id.txt"

    @classmethod
    def options_from_config(cls, cfg) -> dict:
        return {"hold_out_val": True}
