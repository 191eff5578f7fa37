"""PAENET.* config keys (added to every config once ``paenet`` is imported, e.g. via IMPORTS)."""
from __future__ import annotations

from fastreid_ext.config import CfgNode as CN
from fastreid_ext.config import register_config

__all__ = ["add_paenet_config"]


@register_config
def add_paenet_config(cfg: CN) -> None:
    _C = cfg
    _C.PAENET = CN()
    # The meta-architecture PAE and AAL attach to (any registered one exposing the
    # CrossModalBaseline interface: extract/pool/classifier/losses/preprocess/feat_dim).
    _C.PAENET.BASE_ARCHITECTURE = "CrossModalBaseline"
    # "reference": what the official model_mine.py computes (spec §7.1, loads official checkpoints);
    # "paper": the method as the paper describes it (projects/PAENet/README.md).
    _C.PAENET.VARIANT = "reference"

    _C.PAENET.PAE = CN()
    _C.PAENET.PAE.ENABLED = True
    _C.PAENET.PAE.EMBEDDING_I = True
    # Reference variant: Embedding-II is the identity (as officially), so this switch changes nothing there.
    _C.PAENET.PAE.EMBEDDING_II = True
    _C.PAENET.PAE.EMBEDDING_III = True

    _C.PAENET.AAL = CN()
    _C.PAENET.AAL.ENABLED = True
    _C.PAENET.AAL.LOSS_WEIGHT = 1.0  # λ

    # Attribute source when a batch has no "attribute_source" (the evaluator sets it per
    # TEST.ATTRIBUTE_SOURCES entry): gt | predicted | zeros.
    _C.PAENET.DEFAULT_ATTRIBUTE_SOURCE = "gt"
    # "predicted": a first pass with all-zero attributes gives the probabilities p; the second pass
    # is fed (p > THRESHOLD) ("threshold", binary like the training inputs) or p ("probability").
    _C.PAENET.PREDICTED_ATTRIBUTES = "threshold"
    _C.PAENET.PREDICTED_THRESHOLD = 0.5

    # Paper variant sizes (fractions of the feature width C, never absolute channel counts).
    _C.PAENET.PAPER = CN()
    _C.PAENET.PAPER.NUM_HEADS = 8  # Embedding-I attention heads
    _C.PAENET.PAPER.FFN_RATIO = 1.0  # Embedding-I FFN hidden width / C
    _C.PAENET.PAPER.SPATIAL_REDUCTION = 4  # Embedding-II conv width C / r
    _C.PAENET.PAPER.GATE_REDUCTION = 16  # Embedding-III gate bottleneck C / r
    _C.PAENET.PAPER.AAL_REDUCTION = 16  # W1 bottleneck C / r
    _C.PAENET.PAPER.ATTRIBUTE_DIM = 0  # f_atr width; 0 = C / 4
