"""ImageNet weights for the two-stream ResNet: a local file or the torchvision weights enum.

Accepted file layouts (optionally wrapped in ``{"state_dict"|"model"|"net": ...}`` and/or with a
``module.`` prefix):

* torchvision names (``conv1.weight``, ``layer3.0.conv1.weight``; ``fc.*`` ignored): the same
  weights go into both modality-specific streams and the shared stages;
* official PAENet / MMD-ReID names: ``visible_module.visible.*`` → visible stream,
  ``thermal_module.thermal.*`` → infrared stream, ``base_resnet.base.*`` → shared stages (the
  copies of stages the official model never runs are ignored).
"""
from __future__ import annotations

import logging
import os

import torch
from torch import nn
from torchvision import models

from ...checkpoint.loading import load_checkpoint_file
from ...utils.errors import UserError, UserFileNotFoundError

__all__ = ["load_pretrained", "read_state_dict", "map_to_two_stream"]

logger = logging.getLogger(__name__)

_OFFICIAL = {"visible_module.visible.": "visible", "thermal_module.thermal.": "infrared", "base_resnet.base.": "shared"}


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f"MODEL.BACKBONE.PRETRAIN_PATH '{path}' does not exist.")
    obj = load_checkpoint_file(path, key="MODEL.BACKBONE.PRETRAIN_PATH")
    for key in ("state_dict", "model", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise UserError(f"MODEL.BACKBONE.PRETRAIN_PATH '{path}' holds a {type(obj).__name__}; expected a state dict.")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def map_to_two_stream(state: dict[str, torch.Tensor], specific: tuple[str, ...], shared: tuple[str, ...]) -> dict:
    """Rename torchvision or official keys to the backbone's own keys (``specific.visible.*``, ``shared.*``)."""
    out = {}
    official = any(k.startswith(p) for k in state for p in _OFFICIAL)
    for key, value in state.items():
        if official:
            prefix = next((p for p in _OFFICIAL if key.startswith(p)), None)
            if prefix is None:
                continue
            rest, target = key[len(prefix):], _OFFICIAL[prefix]
            stage = rest.split(".", 1)[0]
            if target == "shared" and stage in shared:
                out[f"shared.{rest}"] = value
            elif target != "shared" and stage in specific:
                out[f"specific.{target}.{rest}"] = value
            continue
        stage = key.split(".", 1)[0]
        if stage in specific:
            out[f"specific.visible.{key}"] = value
            out[f"specific.infrared.{key}"] = value
        elif stage in shared:
            out[f"shared.{key}"] = value
    return out


def _torchvision_state_dict(depth: int) -> dict[str, torch.Tensor]:
    weights = models.get_model_weights(f"resnet{depth}").IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False)
    except Exception as e:  # network, proxy, disk: all end the same way for the user
        raise RuntimeError(
            f"MODEL.BACKBONE.PRETRAIN is True but the torchvision weights {weights} could not be loaded "
            f"({type(e).__name__}: {e}). Download the file elsewhere and set MODEL.BACKBONE.PRETRAIN_PATH, "
            f"or set MODEL.BACKBONE.PRETRAIN False for random init."
        ) from e


def load_pretrained(backbone: nn.Module, depth: int, pretrain: bool, pretrain_path: str) -> None:
    """PRETRAIN_PATH first, else the torchvision enum when PRETRAIN, else keep the random init."""
    if pretrain_path:
        state, source = read_state_dict(pretrain_path), f"MODEL.BACKBONE.PRETRAIN_PATH '{pretrain_path}'"
    elif pretrain:
        state, source = _torchvision_state_dict(depth), f"torchvision resnet{depth} IMAGENET1K_V1"
    else:
        return
    mapped = map_to_two_stream(state, backbone.specific_stages, backbone.shared_stages)
    own = backbone.state_dict()
    bad_shape = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                 for k, v in mapped.items() if k in own and v.shape != own[k].shape]
    if bad_shape:
        raise ValueError(f"{source} does not fit a ResNet-{depth} (MODEL.BACKBONE.DEPTH); shape mismatches: {bad_shape[:5]}")
    missing = [k for k in own if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(
            f"{source} lacks {len(missing)} backbone weights (e.g. {missing[:5]}); expected torchvision ResNet "
            f"names or official names (visible_module.visible.*, thermal_module.thermal.*, base_resnet.base.*)."
        )
    backbone.load_state_dict(mapped, strict=False)
    logger.info("Loaded ImageNet weights into the two-stream ResNet-%d from %s", depth, source)
