"""DDAG.* config keys (added to every config once ``ddag`` is imported, e.g. via IMPORTS)."""
from __future__ import annotations

from fastreid_ext.config import CfgNode as CN
from fastreid_ext.config import register_config

__all__ = ["add_ddag_config"]


@register_config
def add_ddag_config(cfg: CN) -> None:
    cfg.DDAG = CN()
    # Intra-modality weighted-part attention (IWPA): horizontal parts of the final map (its --part).
    cfg.DDAG.PARTS = 3
    cfg.DDAG.TRIPLET_MARGIN = 0.3  # batch-hard triplet on the pooled feature (its OriTripletLoss)
    cfg.DDAG.GRAPH = CN()
    # Cross-modality graph attention (CGSA), training only; adjacency = same label in the batch.
    cfg.DDAG.GRAPH.ENABLED = True
    cfg.DDAG.GRAPH.HEADS = 4
    cfg.DDAG.GRAPH.LOW_DIM = 512  # width of each head (its --low-dim)
    cfg.DDAG.GRAPH.DROPOUT = 0.2  # on the input, between the layers and on the attention (its --drop)
    cfg.DDAG.GRAPH.ALPHA = 0.2  # LeakyReLU slope of the attention logits
    # Weight of the graph loss: "adaptive" = 0 in the first epoch, then 1 / (1 + mean of the other
    # terms over the previous epoch) (train_ddag.py); "fixed" = GRAPH.WEIGHT throughout.
    cfg.DDAG.GRAPH.WEIGHT_SCHEDULE = "adaptive"
    cfg.DDAG.GRAPH.WEIGHT = 1.0
