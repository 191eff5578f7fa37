"""``ImageRecord`` (one image, the unit every part exchanges) and the ``CrossModalDataset`` base.

Records are frozen with read-only arrays so a record shared by the train list, the sampler's index
and a test loader cannot be changed behind another part's back.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate

from ..attributes.names import unknown

__all__ = ["ImageRecord", "CrossModalDataset", "MODALITIES", "synthetic_options"]

MODALITIES = ("visible", "infrared")
logger = logging.getLogger(__name__)


def _frozen_array(values, dtype) -> np.ndarray:
    arr = np.array(values if values is not None else [], dtype=dtype).reshape(-1)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image: absolute path, dataset identity, camera, modality and its attribute vector.

    ``attributes`` are 0/1 floats (0 where unknown); ``attribute_mask`` is True where known.
    """

    img_path: str
    pid: int
    camid: int
    modality: str
    attributes: np.ndarray = field(default_factory=lambda: _frozen_array([], np.float32))
    attribute_mask: np.ndarray = field(default_factory=lambda: _frozen_array([], bool))

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"ImageRecord({self.img_path}): modality '{self.modality}' is not one of {MODALITIES}.")
        attrs = _frozen_array(self.attributes, np.float32)
        mask = _frozen_array(self.attribute_mask, bool)
        if attrs.shape != mask.shape:
            raise ValueError(
                f"ImageRecord({self.img_path}): attributes shape {attrs.shape} != attribute_mask shape {mask.shape}."
            )
        object.__setattr__(self, "img_path", str(self.img_path))
        object.__setattr__(self, "pid", int(self.pid))
        object.__setattr__(self, "camid", int(self.camid))
        object.__setattr__(self, "attributes", attrs)
        object.__setattr__(self, "attribute_mask", mask)

    @property
    def modality_index(self) -> int:
        """0 visible, 1 infrared (the ``modality`` batch value)."""
        return MODALITIES.index(self.modality)

    def same_as(self, other: "ImageRecord") -> bool:
        """Field-wise equality (dataclass ``==`` is disabled because the fields hold arrays)."""
        return (
            (self.img_path, self.pid, self.camid, self.modality) == (other.img_path, other.pid, other.camid, other.modality)
            and np.array_equal(self.attributes, other.attributes)
            and np.array_equal(self.attribute_mask, other.attribute_mask)
        )


class CrossModalDataset:
    """Base of the registered datasets: ``train``, ``query``, ``gallery`` lists of ``ImageRecord``.

    Subclasses fill the lists in ``__init__`` and call ``log_summary()``; the evaluator reads
    ``protocol`` ("sysu" or "regdb") to pick the search protocol.
    """

    name: str = "dataset"
    protocol: str = ""
    default_evaluator: str = "CrossModalityEvaluator"

    def __init__(self, train, query, gallery, attribute_names=()):
        self.train: list[ImageRecord] = list(train)
        self.query: list[ImageRecord] = list(query)
        self.gallery: list[ImageRecord] = list(gallery)
        self.attribute_names: list[str] = list(attribute_names)
        n = len(self.attribute_names)
        for split in (self.train, self.query, self.gallery):
            for rec in split:
                if rec.attributes.shape[0] != n:
                    raise ValueError(
                        f"{self.name}: record {rec.img_path} has {rec.attributes.shape[0]} attributes, "
                        f"expected {n} ({self.attribute_names})."
                    )

    def attributes_of(self, pid: int, camid: int):
        """``(values, known_mask)`` of an identity in a camera from the reader's attribute table
        (``self._attrs``, set by subclasses), or an empty vector when the dataset has none."""
        attrs = getattr(self, "_attrs", None)
        return attrs.lookup(pid, camid) if attrs is not None else unknown(0)

    @property
    def num_train_pids(self) -> int:
        return len({r.pid for r in self.train})

    def summary_table(self) -> str:
        """Ids and images per split, modality and camera (the table logged at start)."""
        cams = sorted({r.camid for s in (self.train, self.query, self.gallery) for r in s})
        headers = ["split", "ids", "images", "visible", "infrared"] + [f"cam{c}" for c in cams]
        rows = []
        for split_name, recs in (("train", self.train), ("query", self.query), ("gallery", self.gallery)):
            mod = Counter(r.modality for r in recs)
            cam = Counter(r.camid for r in recs)
            rows.append(
                [split_name, len({r.pid for r in recs}), len(recs), mod["visible"], mod["infrared"]]
                + [cam[c] for c in cams]
            )
        return tabulate(rows, headers=headers, tablefmt="pipe")

    def log_summary(self) -> None:
        attrs = ", ".join(self.attribute_names) if self.attribute_names else "none"
        logger.info("Loaded %s (attributes: %s):\n%s", self.name, attrs, self.summary_table())


def synthetic_options(cfg, images_key: str) -> dict:
    """Generator keyword arguments from DATASETS.SYNTHETIC (0 = the generator's default); the
    per-identity image count is called ``images_key`` by the dataset's generator."""
    opts = {"seed": cfg.DATASETS.SYNTHETIC.SEED}
    if cfg.DATASETS.SYNTHETIC.NUM_IDS > 0:
        opts["num_ids"] = cfg.DATASETS.SYNTHETIC.NUM_IDS
    if cfg.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA > 0:
        opts[images_key] = cfg.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA
    return opts
