"""MPANET.* config keys (added to every config once ``mpanet`` is imported, e.g. via IMPORTS).
Defaults are the public DoubtedSteam/MPANet ``configs/SYSU.yml`` values."""
from __future__ import annotations

from fastreid_ext.config import CfgNode as CN
from fastreid_ext.config import register_config

__all__ = ["add_mpanet_config"]


@register_config
def add_mpanet_config(cfg: CN) -> None:
    cfg.MPANET = CN()
    # Modality alleviation modules (its ``modality_attention``): 0 none, 1 after layer4, 2 after layer3 and layer4.
    cfg.MPANET.MAM_STAGES = 2
    cfg.MPANET.MAM_REDUCTION = 16  # channel-attention bottleneck ratio r
    # Pattern alignment: NUM_PARTS sigmoid masks from a 1x1 conv of the final map (its num_parts);
    # SEP_WEIGHT scales the separation loss between the masks (its weight_sep).
    cfg.MPANET.NUM_PARTS = 6
    cfg.MPANET.SEP_WEIGHT = 0.5
    # Mutual mean learning: per-modality classifiers, each with a running mean (teacher) updated
    # teacher <- (1 - UPDATE_RATE) teacher + UPDATE_RATE student every step (its update_rate).
    cfg.MPANET.MUTUAL = CN()
    cfg.MPANET.MUTUAL.ENABLED = True
    cfg.MPANET.MUTUAL.UPDATE_RATE = 0.2
    # Its engine scales the rate by min(RATE_DECAY_EPOCH / (e + 1), 1) at each (1-based) epoch e:
    # constant for the first 99 epochs, then ~1/e. 0 keeps UPDATE_RATE throughout.
    cfg.MPANET.MUTUAL.RATE_DECAY_EPOCH = 100
    # Weight of the two modality-specific CE terms. The public train_forward adds them twice with its
    # weight_sid 0.5, so the effective weight it trains with is 1.0 (projects/MPANet/README.md).
    cfg.MPANET.MUTUAL.SID_WEIGHT = 1.0
    cfg.MPANET.MUTUAL.KL_WEIGHT = 2.5  # weight of the KL between student and cross-modality teacher (its weight_KL)
    # Center-cluster loss (its CenterTripletLoss): pull each feature to its identity center, push
    # centers of different identities at least MARGIN apart.
    cfg.MPANET.CENTER_CLUSTER = CN()
    cfg.MPANET.CENTER_CLUSTER.ENABLED = True
    cfg.MPANET.CENTER_CLUSTER.MARGIN = 0.7
