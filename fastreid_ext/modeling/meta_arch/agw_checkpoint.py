"""Community AGW checkpoints (mangye16/Cross-Modal-Re-ID-baseline, ``embed_net(no_local='on')``) → our names.

A community file is ``{'net': state_dict, 'cmc', 'mAP', 'mINP', 'epoch'}``. Its model builds a full
ResNet per stream but runs only: the stem of ``visible_module.visible`` / ``thermal_module.thermal``,
``layer1..4`` of ``base_resnet.base``, the non-local lists ``NL_1..NL_4``, ``bottleneck`` and
``classifier``. The copies it never runs are skipped (listed), so they cannot be mistaken for weights.
"""
from __future__ import annotations

import re
from typing import Sequence

from ...checkpoint.formats import CheckpointFormat, register_checkpoint_format

__all__ = ["is_agw_state_dict", "agw_to_ours", "AGW_STREAMS", "AGW_FORMAT"]

# community stream prefix → our backbone stream
AGW_STREAMS = (("visible_module.visible.", "specific.visible."), ("thermal_module.thermal.", "specific.infrared."),
               ("base_resnet.base.", "shared."))
_NON_LOCAL = re.compile(r"^NL_([1-4])\.(\d+)\.(.+)$")


def is_agw_state_dict(state_dict: dict) -> bool:
    """Community AGW names: the non-local lists ``NL_k.i.*`` (no other model of ours uses them, and a
    model that remaps other community names, e.g. PAENet's, leaves them as they are)."""
    return any(_NON_LOCAL.match(k) for k in state_dict)


def agw_to_ours(state_dict: dict, specific_stages: Sequence[str], shared_stages: Sequence[str],
                backbone_prefix: str = "backbone.") -> tuple[dict, list[str]]:
    """→ (our state dict, the community keys skipped because that model never runs them).

    A stream key goes to the backbone when its stage is run by our stream of that kind (stem stages
    modality-specific, the rest shared: the community split is SHARED_FROM=layer1); ``NL_k.i`` →
    ``non_local.layer{k}.i`` (index order kept: 0 is the earliest block). Other keys are kept, so
    the checkpointer reports any it does not know.
    """
    out: dict = {}
    skipped: list[str] = []
    for key, value in state_dict.items():
        m = _NON_LOCAL.match(key)
        if m:
            out[f"{backbone_prefix}non_local.layer{m.group(1)}.{m.group(2)}.{m.group(3)}"] = value
            continue
        for prefix, ours in AGW_STREAMS:
            if key.startswith(prefix):
                rest = key[len(prefix):]
                runs = shared_stages if ours == "shared." else specific_stages
                if rest.split(".", 1)[0] in runs:
                    out[backbone_prefix + ours + rest] = value
                else:
                    skipped.append(key)
                break
        else:
            out[key] = value
    return out, skipped


AGW_FORMAT = register_checkpoint_format(CheckpointFormat(
    "agw_community", "a community AGW checkpoint (embed_net with non-local blocks, keys NL_*)", is_agw_state_dict,
    "MODEL.META_ARCHITECTURE: AGWBaseline with MODEL.BACKBONE.NAME: NonLocalTwoStreamResNet"))
