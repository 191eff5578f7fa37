"""Official PAENet checkpoint names (model_mine.py ``embed_net``) → ours.

Renames by prefix, stacks the official per-attribute heads ``class_0..class_{n-1}`` into one n×C
weight, maps the identity classifier ``class_{n}`` onto the base classifier, and skips the dead
keys (docs/protocols.md, the official model): ``attrfea.*`` (computed, never used), ``classifier.*`` (never called) and the
Embedding-II weights ``ASENet.conv1/conv2/mask_fc1`` (Embedding-II is the identity officially:
they neither change the function nor get a gradient, so the reference variant does not build them).
"""
from __future__ import annotations

import re

import torch

from fastreid_ext.checkpoint.formats import CheckpointFormat, register_checkpoint_format

__all__ = ["is_official_state_dict", "official_to_paenet", "OFFICIAL_PREFIXES", "DEAD_PREFIXES", "OFFICIAL_FORMAT"]

# official prefix → ours (the PAENet meta-architecture's module names).
OFFICIAL_PREFIXES = (
    ("visible_module.visible.", "base.backbone.specific.visible."),
    ("thermal_module.thermal.", "base.backbone.specific.infrared."),
    ("base_resnet.base.", "base.backbone.shared."),
    ("bottleneck.", "base.bottleneck."),
    ("cross_transformer1.", "pae.embedding_i."),
    ("ASENet.mask_fc2.", "pae.embedding_iii.mask_fc2."),
    ("ASENet.fc1.", "pae.embedding_iii.fc1."),
    ("ASENet.fc2.", "pae.embedding_iii.fc2."),
    ("region.bn.", "aal.region.bn."),
    ("region.bottleneck.", "identity_neck."),
)
DEAD_PREFIXES = ("attrfea.", "classifier.", "ASENet.conv1.", "ASENet.conv2.", "ASENet.mask_fc1.")
_HEAD = re.compile(r"^class_(\d+)\.classifier\.0\.weight$")
_MARKERS = ("cross_transformer1.", "base_resnet.base.", "visible_module.visible.")


def is_official_state_dict(state_dict: dict) -> bool:
    return any(k.startswith(_MARKERS) for k in state_dict)


def official_to_paenet(state_dict: dict, num_attributes: int) -> tuple[dict, list[str]]:
    """→ (our state dict, the official keys skipped as dead). Unknown keys are kept unchanged so the
    checkpointer reports them."""
    out: dict = {}
    skipped: list[str] = []
    heads: dict[int, torch.Tensor] = {}
    for key, value in state_dict.items():
        m = _HEAD.match(key)
        if m:
            idx = int(m.group(1))
            if idx < num_attributes:
                heads[idx] = value
            elif idx == num_attributes:
                out["base.classifier.weight"] = value
            else:
                out[key] = value
            continue
        if key.startswith(DEAD_PREFIXES):
            skipped.append(key)
            continue
        for old, new in OFFICIAL_PREFIXES:
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
        else:
            out[key] = value
    if heads:
        missing = sorted(set(range(num_attributes)) - set(heads))
        if missing:
            raise KeyError(f"Official checkpoint lacks attribute heads class_{missing} (num_attributes={num_attributes}).")
        out["aal.heads.weight"] = torch.cat([torch.as_tensor(heads[i]).reshape(1, -1) for i in range(num_attributes)])
    return out, skipped


# the PAENet-only modules: an AGW or MMD-ReID file shares the ResNet names, not these
OFFICIAL_FORMAT = register_checkpoint_format(CheckpointFormat(
    "paenet_official", "an official PAENet checkpoint (model_mine.py embed_net)",
    lambda sd: any(k.startswith(("cross_transformer1.", "ASENet.", "region.bottleneck.")) for k in sd),
    "MODEL.META_ARCHITECTURE: PAENet with PAENET.VARIANT reference (IMPORTS: [paenet])"))
