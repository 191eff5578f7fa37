"""``DefaultPredictor``: features of images from a config and its weights, in one call.

In the spirit of detectron2's ``DefaultPredictor``: the model of the config is built, ``MODEL.WEIGHTS``
loaded with the ``--eval-only`` strictness, and images go through the config's test transform, so the
features are the ones the evaluator computes for the same images::

    cfg = load_config("output/config.yaml", ["MODEL.WEIGHTS", "output/model_final.pth"])
    predictor = DefaultPredictor(cfg)
    feats = predictor(["a.jpg", "b.jpg"], modality="infrared")   # (2, D) float32

Images: file paths, uint8 RGB arrays (H, W, 3), uint8 tensors (3, H, W), or a uint8 batch (B, 3, H, W).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.errors import UserError

__all__ = ["DefaultPredictor", "MODALITIES", "IMAGE_EXTENSIONS", "image_files"]

MODALITIES = ("visible", "infrared")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def image_files(folder: str, what: str = "folder") -> list[str]:
    """Sorted image paths under ``folder`` (recursive); an error naming the folder when there are none."""
    if not os.path.isdir(folder):
        raise UserError(f"{what} {folder}: not a folder.")
    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise UserError(f"{what} {folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found.")
    return paths


def _to_chw_uint8(image, index: int) -> torch.Tensor:
    from ..data.common import read_image  # noqa: PLC0415 - the data package is only needed at run time

    if isinstance(image, (str, os.PathLike)):
        return torch.from_numpy(read_image(os.fspath(image))).permute(2, 0, 1).contiguous()
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise UserError(f"Image {index}: a numpy image must be uint8 RGB (H, W, 3), got {image.dtype} {image.shape}.")
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
    if torch.is_tensor(image):
        if image.dim() != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
            raise UserError(f"Image {index}: a tensor image must be uint8 (3, H, W), got {image.dtype} {tuple(image.shape)}.")
        return image
    raise UserError(f"Image {index}: expected a path, a uint8 (H, W, 3) array or a uint8 (3, H, W) tensor, "
                    f"got {type(image).__name__}.")


class DefaultPredictor:
    """``predictor(images, modality, attributes=None, attribute_source=None) -> (N, D)`` features.

    ``feature``: the model output returned (default: the first of ``TEST.FEATURES``). Features are
    the model's, not normalised (as the evaluator receives them); ``normalize=True`` L2-normalises
    them (what cosine ranking uses). ``TEST.FLIP.ENABLED`` averages each image with its mirror, as
    in the evaluator. Attribute models (``TEST.ATTRIBUTE_SOURCES`` non-empty) read
    ``attribute_source`` (gt | predicted | zeros; ``gt`` needs ``attributes``, (N, n) 0/1)."""

    def __init__(self, cfg, feature: str | None = None):
        from ..checkpoint import ReidCheckpointer  # noqa: PLC0415
        from ..data.transforms import build_transforms  # noqa: PLC0415
        from ..evaluation.postprocess import FlipAveraged  # noqa: PLC0415
        from ..modeling import build_model  # noqa: PLC0415

        self.cfg = cfg.clone()
        if not cfg.MODEL.WEIGHTS:
            raise UserError("DefaultPredictor needs MODEL.WEIGHTS (a checkpoint of the config's model); it is empty.")
        self.model = build_model(self.cfg)
        ReidCheckpointer(self.model, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
        self.model.eval()
        self.runner = FlipAveraged(self.model) if cfg.TEST.FLIP.ENABLED else self.model
        self.transforms = {m: build_transforms(self.cfg, False, m) for m in MODALITIES}
        self.feature = feature or cfg.TEST.FEATURES[0]
        self.batch_size = max(1, int(cfg.TEST.IMS_PER_BATCH))
        self.num_attributes = int(cfg.MODEL.NUM_ATTRIBUTES)

    def _modalities(self, modality, n: int) -> list[str]:
        mods = [modality] * n if isinstance(modality, str) else list(modality)
        if len(mods) != n:
            raise UserError(f"{len(mods)} modalities given for {n} images.")
        bad = sorted({m for m in mods if m not in MODALITIES})
        if bad:
            raise UserError(f"Unknown modality {bad[0]!r}; expected one of {MODALITIES}.")
        return mods

    def _images(self, images) -> list:
        if torch.is_tensor(images) and images.dim() == 4:
            return list(images)
        if isinstance(images, (str, os.PathLike, np.ndarray)) or torch.is_tensor(images):
            return [images]
        return list(images)

    def batch(self, images, modality="visible", attributes=None, attribute_source: str | None = None,
              attribute_mask=None) -> dict:
        """The model's input batch for these images (test transform, modality, attributes; the mask
        marks known attributes, default: all known when attributes are given)."""
        items = self._images(images)
        if not items:
            raise UserError("No images given to the predictor.")
        mods = self._modalities(modality, len(items))
        from ..modeling.input_sources import declared_input_sources, resolve_input_source  # noqa: PLC0415

        attribute_source = resolve_input_source(self.model, attribute_source, "attribute_source (tools: --attribute-source)")
        source = declared_input_sources(self.model).get(attribute_source)
        if source is not None and source.needs_annotations and attributes is None:
            raise UserError(f"attribute_source '{attribute_source}' needs the images' attributes (an (N, n) array of 0/1).")
        attrs = None if attributes is None else torch.as_tensor(np.asarray(attributes), dtype=torch.float32)
        if attrs is not None and (attrs.dim() != 2 or attrs.shape[0] != len(items)):
            raise UserError(f"attributes must be (N={len(items)}, n), got {tuple(attrs.shape)}.")
        n, n_attr = len(items), (attrs.shape[1] if attrs is not None else self.num_attributes)
        batch = {
            "images": torch.stack([self.transforms[mods[i]](_to_chw_uint8(items[i], i)) for i in range(n)]),
            "modality": torch.tensor([MODALITIES.index(m) for m in mods], dtype=torch.long),
            "attributes": attrs if attrs is not None else torch.zeros(n, n_attr),
            "attribute_mask": (torch.as_tensor(np.asarray(attribute_mask), dtype=torch.bool) if attribute_mask is not None
                               else torch.full((n, n_attr), attrs is not None, dtype=torch.bool)),
        }
        if attribute_source is not None:
            batch["attribute_source"] = attribute_source
        return batch

    @torch.no_grad()
    def __call__(self, images: Sequence | torch.Tensor, modality="visible", attributes=None,
                 attribute_source: str | None = None, normalize: bool = False, attribute_mask=None) -> torch.Tensor:
        items = self._images(images)
        if not items:
            raise UserError("No images given to the predictor.")
        mods = self._modalities(modality, len(items))
        out = []
        for s in range(0, len(items), self.batch_size):
            e = min(len(items), s + self.batch_size)
            chunk_attrs = None if attributes is None else np.asarray(attributes)[s:e]
            chunk_mask = None if attribute_mask is None else np.asarray(attribute_mask)[s:e]
            if attributes is not None and len(np.asarray(attributes)) != len(items):
                raise UserError(f"attributes must be (N={len(items)}, n), got {np.asarray(attributes).shape}.")
            outputs = self.runner(self.batch(items[s:e], mods[s:e], chunk_attrs, attribute_source, chunk_mask))
            if self.feature not in outputs:
                raise UserError(f"The model returns no output {self.feature!r} (it returns {sorted(outputs)}).")
            out.append(outputs[self.feature].detach().float().cpu())
        feats = torch.cat(out)
        return F.normalize(feats, dim=1) if normalize else feats
