"""``CommDataset``: records → per-sample dicts, decoded with OpenCV, and their collation into the
batch dict every model consumes (docs/architecture.md, "Batches")."""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

__all__ = ["CommDataset", "read_image", "UnreadableImageError", "collate_batch"]

logger = logging.getLogger(__name__)


class UnreadableImageError(OSError):
    pass


def read_image(path: str) -> np.ndarray:
    """uint8 RGB (H, W, 3) of any image OpenCV decodes; grayscale/thermal files become 3 equal channels.

    Truncated JPEGs (no end-of-image marker) are refused: OpenCV would silently return a partly grey image.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise UnreadableImageError(f"Cannot read image file {path}: {e}") from e
    if path.lower().endswith((".jpg", ".jpeg")) and (data.size < 4 or not data[-2048:].tobytes().rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise UnreadableImageError(f"Truncated or corrupt JPEG (no end-of-image marker): {path}")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise UnreadableImageError(f"Cannot decode image {path} (empty, truncated or not an image).")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class CommDataset(Dataset):
    """Indexable by ``i`` or by a sampler's ``(i, sample_seed)``; the seed fixes the sample's random
    transforms (inside ``torch.random.fork_rng``, so the caller's RNG is untouched)."""

    def __init__(self, records, transforms, labels=None, attribute_names=(), skip_unreadable: bool = False):
        """``transforms``: a callable or {"visible": T, "infrared": T}; ``labels``: target per record
        (contiguous training labels) or None for the dataset pids."""
        self.records = list(records)
        self.transforms = transforms if isinstance(transforms, dict) else {"visible": transforms, "infrared": transforms}
        self.attribute_names = list(attribute_names)
        self.labels = None if labels is None else [int(v) for v in labels]
        if self.labels is not None and len(self.labels) != len(self.records):
            raise ValueError(f"{len(self.labels)} labels for {len(self.records)} records.")
        self.skipped: list[str] = []
        if skip_unreadable:
            self._drop_unreadable()
        self.num_classes = len(set(self.labels)) if self.labels is not None else len({r.pid for r in self.records})

    def _drop_unreadable(self) -> None:
        """INPUT.SKIP_UNREADABLE: check every file once, drop the unreadable ones with a warning each."""
        keep = []
        for i, rec in enumerate(tqdm(self.records, desc="checking images", unit="img", leave=False)):
            try:
                read_image(rec.img_path)
                keep.append(i)
            except UnreadableImageError as e:
                logger.warning("Skipping unreadable image: %s", e)
                self.skipped.append(rec.img_path)
        if self.skipped:
            logger.warning("INPUT.SKIP_UNREADABLE: skipped %d of %d images.", len(self.skipped), len(self.records))
        self.records = [self.records[i] for i in keep]
        if self.labels is not None:
            self.labels = [self.labels[i] for i in keep]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, item):
        index, seed = item if isinstance(item, tuple) else (item, None)
        rec = self.records[index]
        img = torch.from_numpy(read_image(rec.img_path)).permute(2, 0, 1).contiguous()
        transform = self.transforms[rec.modality]
        if seed is None:
            img = transform(img)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                img = transform(img)
        return {
            "images": img,
            "targets": self.labels[index] if self.labels is not None else rec.pid,
            "camids": rec.camid,
            "modality": rec.modality_index,
            "attributes": torch.from_numpy(rec.attributes.copy()),
            "attribute_mask": torch.from_numpy(rec.attribute_mask.copy()),
            "img_paths": rec.img_path,
            "index": index,
        }


def collate_batch(samples: list[dict]) -> dict:
    """Per-sample dicts → the batch dict (tensors stacked, paths kept as a list). ``indices`` are the
    samples' positions in the dataset, so outputs gathered from several ranks can be put back in order."""
    return {
        "images": torch.stack([s["images"] for s in samples]),
        "targets": torch.tensor([s["targets"] for s in samples], dtype=torch.long),
        "camids": torch.tensor([s["camids"] for s in samples], dtype=torch.long),
        "modality": torch.tensor([s["modality"] for s in samples], dtype=torch.long),
        "attributes": torch.stack([s["attributes"] for s in samples]).float(),
        "attribute_mask": torch.stack([s["attribute_mask"] for s in samples]).bool(),
        "img_paths": [s["img_paths"] for s in samples],
        "indices": torch.tensor([s["index"] for s in samples], dtype=torch.long),
    }
