"""``ImageRecord`` (one image, the unit every part exchanges) and the ``CrossModalDataset`` base.

Records are frozen with read-only arrays so a record shared by the train list, the sampler's index
and a test loader cannot be changed behind another part's back. ``CrossModalDataset.read`` is the one
reading template (root, layout check, attribute lookup, records); a dataset on disk only lists its
images. Reading never writes: synthetic data is made beforehand (``fastreid_ext.data.prepare``).
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate

from ...utils.errors import UserError, UserFileNotFoundError
from ..attributes import load_attributes
from ..attributes.names import unknown

__all__ = ["ImageRecord", "CrossModalDataset", "MODALITIES", "datasets_root"]

MODALITIES = ("visible", "infrared")
logger = logging.getLogger(__name__)
DEFAULT_ROOT = "datasets"


def datasets_root(cfg) -> str:
    """The absolute DATASETS.ROOT: the config value, else ``$FASTREID_DATASETS``, else ``datasets``.

    Read when a dataset is built (not at import), so the variable can be set after importing.
    """
    return os.path.abspath(os.path.expanduser(cfg.DATASETS.ROOT or os.environ.get("FASTREID_DATASETS") or DEFAULT_ROOT))


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

    The evaluator reads ``protocol`` ("sysu" or "regdb") to pick the search protocol. A dataset in
    a folder of its own subclasses this and says only what differs: ``dataset_dir``, ``cameras``,
    ``attribute_source``, ``check_layout``, ``list_images`` and, if it has options,
    ``options_from_config``; ``from_config``/``read`` do the rest. A dataset built otherwise (e.g. a
    plugin's) may call ``__init__`` with its record lists directly.
    """

    name: str = "dataset"
    protocol: str = ""
    default_evaluator: str = "CrossModalityEvaluator"
    dataset_dir: str = ""  # the dataset's folder under DATASETS.ROOT
    cameras: dict[int, str] = {}  # camid -> modality
    attribute_source: str = ""  # default attribute file/folder, relative to the dataset folder

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

    # ------------------------------------------------------------------ the reading template
    @classmethod
    def from_config(cls, cfg):
        """Root from DATASETS.ROOT, attributes from DATASETS.ATTRIBUTES, then ``read``."""
        root = os.path.join(datasets_root(cfg), cls.dataset_dir)
        options = cls.options_from_config(cfg)
        return cls.read(root, attributes=cls.attributes_from_config(cfg, root), **options)

    @classmethod
    def read(cls, root: str, attributes=None, **options):
        """Read the dataset at ``root`` (its own folder); ``attributes``: an AttributeTable or None."""
        root = os.path.abspath(root)
        cls.check_layout(root, **options)
        splits = cls.list_images(root, **options)
        records = {split: [cls.record(*entry[:4], attributes=attributes, modality=entry[4] if len(entry) > 4 else None)
                           for entry in entries] for split, entries in splits.items()}
        ds = cls(records["train"], records["query"], records["gallery"], attributes.names if attributes is not None else ())
        ds.root = root
        for key, value in options.items():
            setattr(ds, key, value)
        if attributes is not None:
            attributes.report()
        ds.log_summary()
        return ds

    @classmethod
    def record(cls, path: str, pid: int, camid: int, attr_pid: int, attributes=None, modality: str | None = None) -> ImageRecord:
        """One record; its attributes are those of identity ``attr_pid`` in camera ``camid``; its
        modality the one given (datasets whose cameras record both modalities), else ``cameras[camid]``."""
        vals, mask = attributes.lookup(attr_pid, camid) if attributes is not None else unknown(0)
        return ImageRecord(path, pid, camid, modality or cls.cameras[camid], vals, mask)

    @classmethod
    def attributes_from_config(cls, cfg, root: str):
        """The AttributeTable of DATASETS.ATTRIBUTES (PATH, else ``attribute_source`` in the dataset
        folder when present), or None. Its size must match MODEL.NUM_ATTRIBUTES when that is set."""
        a = cfg.DATASETS.ATTRIBUTES
        if not a.ENABLED:
            return None
        path = a.PATH or os.path.join(root, cls.attribute_source)
        if not a.PATH and (not cls.attribute_source or not os.path.exists(path)):
            logger.warning("%s: no attribute file at %s (see datasets/README.md); no attributes.", cls.name, path)
            return None
        table = load_attributes(path, cls.cameras, list(a.NAMES), a.FALLBACK)
        expected = int(cfg.MODEL.NUM_ATTRIBUTES)
        if expected and len(table.names) != expected:
            raise UserError(
                f"{path}: holds {len(table.names)} attributes ({', '.join(table.names)}), but MODEL.NUM_ATTRIBUTES "
                f"is {expected}; fix the file, DATASETS.ATTRIBUTES.NAMES or MODEL.NUM_ATTRIBUTES (0 = from the data)."
            )
        return table

    @classmethod
    def options_from_config(cls, cfg) -> dict:
        """Dataset-specific keyword options of ``read`` (e.g. RegDB's trial); none by default."""
        return {}

    @classmethod
    def check_layout(cls, root: str, **options) -> None:
        """Raise UserFileNotFoundError naming ``root`` and the expected layout when it does not fit."""
        if not os.path.isdir(root):
            raise UserFileNotFoundError(f"{cls.name}: dataset folder {root} not found.")

    @classmethod
    def list_images(cls, root: str, **options) -> dict[str, list[tuple]]:
        """``{"train"|"query"|"gallery": [(absolute path, pid, camid, attribute pid[, modality]), ...]}``
        in the order the protocol needs (modality: when the camera does not tell it)."""
        raise NotImplementedError(f"{cls.__name__} must implement list_images(root) or build its records itself.")

    # ------------------------------------------------------------------ summaries
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
