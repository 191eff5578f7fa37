"""PAENET.* config keys (added to every config once ``paenet`` is imported, e.g. via IMPORTS)."""
from __future__ import annotations

from fastreid_ext.config import CfgNode as CN
from fastreid_ext.config import register_config

__all__ = ["add_paenet_config"]


@register_config
def add_paenet_config(cfg: CN) -> None:
    _C = cfg
    _C.PAENET = CN()
    # The meta-architecture PAE and AAL attach to: any registered one with the PAENetBase or the
    # PAENetMapBase members (DDAG, MPANet, HCTPCB; projects/PAENet/README.md); PAENet adds its terms
    # to the base's own losses.
    _C.PAENET.BASE_ARCHITECTURE = "CrossModalBaseline"
    # "reference": what the official model_mine.py computes (loads official checkpoints);
    # "paper": the method as the paper's equations describe it (projects/PAENet/README.md).
    _C.PAENET.VARIANT = "reference"

    _C.PAENET.PAE = CN()
    # False = every embedding off: no attribute input anywhere, the gates are a function of the image.
    _C.PAENET.PAE.ENABLED = True
    _C.PAENET.PAE.EMBEDDING_I = True
    # Reference variant: Embedding-II is the identity (as officially), so this switch changes nothing there.
    _C.PAENET.PAE.EMBEDDING_II = True
    _C.PAENET.PAE.EMBEDDING_III = True

    # False: no region branch; the identity feature is the base's own (its pooled feature and BNNeck),
    # so PAENet with PAE, AAL and the region branch off is the base itself. For controls, e.g. the
    # base + a linear attribute head on its retrieval feature (RECOGNIZER.NAME linear, PAE/AAL off).
    _C.PAENET.REGION_BRANCH = True

    _C.PAENET.AAL = CN()
    # False: no attribute heads and no L_atr; the identity feature (Eq. 10) is unchanged (= λ = 0
    # without the untrained heads).
    _C.PAENET.AAL.ENABLED = True
    _C.PAENET.AAL.LOSS_WEIGHT = 1.0  # λ
    # "mean" over the known entries (official code) | "sum" (the paper's Eq. 9 sums over the batch).
    _C.PAENET.AAL.LOSS_REDUCTION = "mean"

    # Label-free path: an attribute recognizer that sees only the image (no attribute input),
    # trained with the masked attribute BCE; test source "predicted" feeds its output to PAE.
    _C.PAENET.RECOGNIZER = CN()
    _C.PAENET.RECOGNIZER.ENABLED = False
    _C.PAENET.RECOGNIZER.LOSS_WEIGHT = 1.0
    # linear: BN + linear on the base's pooled feature (shares the backbone) | conv: a small CNN of
    # its own on the image, stages of the widths in CHANNELS (see attribute_recognition.py).
    _C.PAENET.RECOGNIZER.NAME = "linear"
    _C.PAENET.RECOGNIZER.CHANNELS = [32, 64, 128, 256]
    # Class-balanced recognizer BCE: per attribute, positives and negatives weigh half of the loss
    # each (weights from the positive rate of the labels seen so far); mA is a balanced accuracy.
    _C.PAENET.RECOGNIZER.CLASS_BALANCE = False
    # What PAE is fed in training: gt | predicted (the recognizer's, detached) | mix (per sample,
    # predicted with probability TRAIN_PREDICTED_PROB). predicted/mix need the recognizer.
    _C.PAENET.TRAIN_ATTRIBUTE_INPUT = "gt"
    _C.PAENET.TRAIN_PREDICTED_PROB = 0.5

    # Attribute source when a batch has no "attribute_source" (the evaluator sets it per
    # TEST.ATTRIBUTE_SOURCES entry): "" (none: evaluating a model whose PAE takes attributes without
    # naming a source is an error, so nothing falls back to the test annotations) | predicted | zeros |
    # gt (the test images' annotations: label leakage, only when named).
    _C.PAENET.DEFAULT_ATTRIBUTE_SOURCE = ""
    # How predicted probabilities p are fed to PAE: (p > THRESHOLD) ("threshold", binary like the
    # annotations) or p ("probability").
    _C.PAENET.PREDICTED_ATTRIBUTES = "threshold"
    _C.PAENET.PREDICTED_THRESHOLD = 0.5

    # Paper variant sizes (fractions of the feature width C, never absolute channel counts).
    _C.PAENET.PAPER = CN()
    _C.PAENET.PAPER.NUM_HEADS = 8  # Embedding-I attention heads
    _C.PAENET.PAPER.FFN_RATIO = 1.0  # Embedding-I FFN hidden width / C
    _C.PAENET.PAPER.SPATIAL_REDUCTION = 4  # Embedding-II conv width C / r
    _C.PAENET.PAPER.GATE_REDUCTION = 16  # Embedding-III gate bottleneck C / r
    # Eq. 8's W1: "literal" (σ of the concatenated f_i, no parameters, times n copies of f) |
    # "learned" (σ(MLP(BN(concat f_i))), bottleneck C / AAL_REDUCTION).
    _C.PAENET.PAPER.AAL_WEIGHTING = "literal"
    _C.PAENET.PAPER.AAL_REDUCTION = 16
    _C.PAENET.PAPER.ATTRIBUTE_DIM = 0  # f_atr width; 0 = C / 4
