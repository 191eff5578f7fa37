"""Published HCT PCB checkpoints (hijune6/Hetero-center-triplet-loss-for-VT-Re-ID, ``embed_net(pcb='on')``)
→ the names of ``HCTPCB``.

A published file is ``{'net': state_dict, 'cmc', 'mAP', 'mINP', 'epoch'}``. Its streams use the AGW
community names (``visible_module.visible.*``, ``thermal_module.thermal.*``, ``base_resnet.base.*``,
mapped by :func:`agw_to_ours`, which skips the stream copies that model never runs); its stripe head is
``local_conv_list.i.{0,1}`` (1×1 conv, BN) and ``fc_list.i`` (per-stripe classifier).
"""
from __future__ import annotations

import re
from typing import Sequence

from ...checkpoint.formats import CheckpointFormat, register_checkpoint_format
from .agw_checkpoint import agw_to_ours

__all__ = ["is_hct_pcb_state_dict", "hct_pcb_to_ours", "HCT_PCB_FORMAT"]

_HEAD = re.compile(r"^(local_conv_list|fc_list)\.(\d+)\.(.+)$")


def is_hct_pcb_state_dict(state_dict: dict) -> bool:
    return any(k.startswith("local_conv_list.") for k in state_dict)


def hct_pcb_to_ours(state_dict: dict, specific_stages: Sequence[str], shared_stages: Sequence[str]) -> tuple[dict, list[str]]:
    """→ (our state dict, the published keys skipped because that model never runs them)."""
    out, skipped = agw_to_ours(state_dict, specific_stages, shared_stages)
    mapped = {}
    for key, value in out.items():
        m = _HEAD.match(key)
        if m:
            kind, i, rest = m.groups()
            key = f"head.reductions.{i}.{rest}" if kind == "local_conv_list" else f"classifiers.{i}.{rest}"
        mapped[key] = value
    return mapped, skipped


HCT_PCB_FORMAT = register_checkpoint_format(CheckpointFormat(
    "hct_pcb_published", "a published HCT PCB checkpoint (embed_net(pcb='on'), keys local_conv_list.*)",
    is_hct_pcb_state_dict, "MODEL.META_ARCHITECTURE: HCTPCB (configs/HCT/sysu_pcb.yml)"))
