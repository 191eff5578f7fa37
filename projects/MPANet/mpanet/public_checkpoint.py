"""Public MPANet checkpoints (DoubtedSteam/MPANet: ``torch.save(model.state_dict())`` of its ``Baseline``,
a bare state dict, possibly under ``'model'``/``'state_dict'`` as the loader unwraps) → the names of the
``MPANet`` meta-architecture. Our names are the public ones except two module prefixes."""
from __future__ import annotations

from fastreid_ext.checkpoint.formats import CheckpointFormat, register_checkpoint_format

__all__ = ["is_public_mpanet_state_dict", "public_mpanet_to_ours", "MPANET_FORMAT"]

_RENAMES = (("spatial_attention.", "pattern.spatial_attention."),
            ("visible_classifier", "mutual.visible_classifier"),
            ("infrared_classifier", "mutual.infrared_classifier"))
_UNUSED = ("center_loss.",)  # its optional CenterLoss (center: false in both public configs)


def is_public_mpanet_state_dict(state_dict: dict) -> bool:
    return any(k.startswith(("spatial_attention.", "visible_classifier")) for k in state_dict)


def public_mpanet_to_ours(state_dict: dict) -> tuple[dict, list[str]]:
    """→ (our state dict, the public keys skipped because our model has no such part)."""
    out, skipped = {}, []
    for key, value in state_dict.items():
        if key.startswith(_UNUSED):
            skipped.append(key)
            continue
        for old, new in _RENAMES:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out, sorted(skipped)


MPANET_FORMAT = register_checkpoint_format(CheckpointFormat(
    "mpanet_public",
    "a public MPANet checkpoint (Baseline state dict, keys spatial_attention.* / visible_classifier_.*)",
    lambda sd: "spatial_attention.weight" in sd and any(k.startswith("backbone.MAM") for k in sd),
    "MODEL.META_ARCHITECTURE: MPANet (IMPORTS: [mpanet], configs/MPANet/sysu.yml)"))
