"""Public DDAG checkpoints (mangye16/DDAG ``train_ddag.py``: ``{'net': state_dict, 'cmc', 'mAP', 'epoch'}``
of ``embed_net(low_dim, class_num, wpa=True)``) → the names of the ``DDAG`` meta-architecture.

Its streams are full ResNets of which only the stems (visible/thermal) and ``layer1..4`` (shared)
run; the rest, its unused ``classifier1``/``classifier2`` and the IWPA's unused ``W`` branch are
skipped and listed. ``attention_i.{W,a}`` → ``graph.heads.i.*``, ``out_att.*`` → ``graph.out.*``.
"""
from __future__ import annotations

import re
from typing import Sequence

from fastreid_ext.checkpoint.formats import CheckpointFormat, register_checkpoint_format
from fastreid_ext.modeling.meta_arch.agw_checkpoint import agw_to_ours

__all__ = ["is_public_ddag_state_dict", "public_ddag_to_ours", "DDAG_FORMAT"]

_UNUSED = ("classifier1.", "classifier2.", "wpa.W.")
_HEAD = re.compile(r"^attention_(\d+)\.(W|a)$")


def is_public_ddag_state_dict(state_dict: dict) -> bool:
    return "wpa.gate" in state_dict or any(_HEAD.match(k) for k in state_dict)


def public_ddag_to_ours(state_dict: dict, specific_stages: Sequence[str],
                        shared_stages: Sequence[str]) -> tuple[dict, list[str]]:
    """→ (our state dict, the public keys skipped because that model never runs them)."""
    kept = {k: v for k, v in state_dict.items() if not k.startswith(_UNUSED)}
    out, skipped = agw_to_ours(kept, specific_stages, shared_stages)
    skipped = sorted(skipped + [k for k in state_dict if k.startswith(_UNUSED)])
    mapped = {}
    for key, value in out.items():
        m = _HEAD.match(key)
        if m:
            key = f"graph.heads.{m.group(1)}.{m.group(2)}"
        elif key.startswith("out_att."):
            key = "graph.out." + key[len("out_att."):]
        mapped[key] = value
    return mapped, skipped


DDAG_FORMAT = register_checkpoint_format(CheckpointFormat(
    "ddag_public", "a public DDAG checkpoint (embed_net with wpa, keys attention_i.* / out_att.*)",
    lambda sd: any(_HEAD.match(k) or k.startswith("out_att.") for k in sd),  # names only the public file has
    "MODEL.META_ARCHITECTURE: DDAG (IMPORTS: [ddag], configs/DDAG/sysu.yml)"))
