"""The LLCM reader (the released layout, as ``DEEN/data_manager.py`` and ``data_loader.py`` read it).

Layout under ``DATASETS.ROOT/LLCM``::

    idx/train_vis.txt, idx/train_nir.txt   '<relative path> <label>' per line (training images)
    idx/test_id.txt                        line 1: the test identities, comma-separated
    test_vis/cam<k>/<pid:04d>/*.jpg        visible test images (cameras 1-9)
    test_nir/cam<k>/<pid:04d>/*.jpg        near-infrared test images

``query`` = every infrared test image, ``gallery`` = every visible test image (identities ascending,
cameras ascending, files sorted); the protocol (``llcm``) draws the trial sets from them. A camera
number names one place in both modalities. Attributes (optional, e.g. for PAENet): ``attributes.csv``
in the dataset folder, keyed by the identity folder number.
"""
from __future__ import annotations

import os
import re

from fastreid_ext.data.datasets import DATASET_REGISTRY, CrossModalDataset
from fastreid_ext.data.datasets.regdb import read_idx_file
from fastreid_ext.data.datasets.sysu_mm01 import read_id_file
from fastreid_ext.utils.errors import UserError, UserFileNotFoundError

__all__ = ["LLCM", "EXPECTED_LAYOUT", "parse_llcm_path"]

EXPECTED_LAYOUT = ("LLCM/idx/{train_vis,train_nir}.txt ('<relative path> <label>' lines), LLCM/idx/test_id.txt "
                   "(comma-separated ids on line 1), LLCM/test_vis/cam<k>/<pid:04d>/*.jpg and "
                   "LLCM/test_nir/cam<k>/<pid:04d>/*.jpg; see projects/LLCM/README.md")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
_CAM = re.compile(r"^cam(\d+)$")
_TEST = {"test_vis": "visible", "test_nir": "infrared"}


def parse_llcm_path(path: str) -> tuple[int, int | None]:
    """(camera, identity folder number or None) from the path components ``.../cam<k>/<pid>/<file>``."""
    parts = path.replace("\\", "/").split("/")
    for i, part in enumerate(parts[:-1]):
        m = _CAM.match(part)
        if m:
            nxt = parts[i + 1] if i + 2 < len(parts) else ""
            return int(m.group(1)), int(nxt) if nxt.isdigit() else None
    raise ValueError(f"LLCM path '{path}' has no 'cam<k>' folder.")


@DATASET_REGISTRY.register()
class LLCM(CrossModalDataset):
    name = "LLCM"
    protocol = "llcm"
    dataset_dir = "LLCM"
    cameras = {k: "visible" for k in range(1, 10)}  # for attribute readers; each record's modality comes from its folder
    attribute_source = "attributes.csv"

    @classmethod
    def check_layout(cls, root: str, **options) -> None:
        wanted = ["idx/train_vis.txt", "idx/train_nir.txt", "idx/test_id.txt", "test_vis", "test_nir"]
        missing = [w for w in wanted if not os.path.exists(os.path.join(root, w))]
        if missing:
            raise UserFileNotFoundError(f"LLCM not found or incomplete at {root}: missing {missing}. Expected layout: "
                                        f"{EXPECTED_LAYOUT}. Set DATASETS.ROOT, or make synthetic data first "
                                        f"(tools/make_synthetic.py llcm --imports llcm).")
        for sub in _TEST:
            if not any(_CAM.match(d) for d in os.listdir(os.path.join(root, sub))):
                raise UserFileNotFoundError(f"LLCM at {root}: {sub}/ holds no cam<k> folder. Expected layout: "
                                            f"{EXPECTED_LAYOUT}.")

    @classmethod
    def list_images(cls, root: str, **options):
        train = []
        for name in ("train_vis", "train_nir"):
            idx = os.path.join(root, "idx", f"{name}.txt")
            for lineno, (rel, label) in enumerate(read_idx_file(idx), start=1):
                path = os.path.join(root, rel)
                if not os.path.isfile(path):
                    raise UserFileNotFoundError(f"{idx}, line {lineno}: image {path} does not exist. Expected layout: "
                                                f"{EXPECTED_LAYOUT}.")
                try:
                    cam, folder = parse_llcm_path(rel)
                except ValueError as e:
                    raise UserError(f"{idx}, line {lineno}: {e} Expected layout: {EXPECTED_LAYOUT}.") from None
                train.append((path, label, cam, folder if folder is not None else label,
                              "visible" if name == "train_vis" else "infrared"))
        test_ids = sorted(set(read_id_file(os.path.join(root, "idx", "test_id.txt"))))
        splits = {"train": train, "query": cls._test_images(root, "test_nir", test_ids),
                  "gallery": cls._test_images(root, "test_vis", test_ids)}
        for split in ("train", "query", "gallery"):
            if not splits[split]:
                raise UserFileNotFoundError(f"LLCM at {root}: no {split} images. Expected layout: {EXPECTED_LAYOUT}.")
        return splits

    @staticmethod
    def _test_images(root: str, sub: str, pids) -> list[tuple]:
        base = os.path.join(root, sub)
        cams = sorted(int(m.group(1)) for d in os.listdir(base) if (m := _CAM.match(d)))
        out = []
        for pid in pids:
            for cam in cams:
                folder = os.path.join(base, f"cam{cam}", f"{pid:04d}")
                if os.path.isdir(folder):
                    out += [(os.path.join(folder, f), pid, cam, pid, _TEST[sub])
                            for f in sorted(os.listdir(folder)) if f.lower().endswith(IMAGE_EXTS)]
        return out
