"""The rows of bench/synthetic_benchmark.py: each model a named row with its config and overrides,
the seeds it gets, and the comparisons the README reads (paired by seed).

Rows the README's conclusions compare get 5 seeds, the others 3. Both PAENet variants share ONE
recipe (configs/PAENet/sysu.yml's: layer-split backbone, HcTri ×2, MMD ×0.25) for the comparison
between them; the paper's own recipe (configs/PAENet/sysu_paper.yml: stem-only split, HcTri ×1,
MMD ×1) is its own row, named so.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["Row", "Comparison", "SUITES", "COMPARISONS", "SEEDS_COMPARED", "SEEDS_OTHER"]

SEEDS_COMPARED = 5  # rows a README conclusion compares
SEEDS_OTHER = 3


class Row(NamedTuple):
    """One model of a comparison: its folder name, its label, its config, overrides and seed count.
    ``after_budget``: KEY VALUE pairs applied after the shared budget, for a model that cannot run
    under it as it is (each use says why; the rows it is compared with get the same). ``feature``: the
    test feature its tables read (the model's own test feature)."""

    key: str
    label: str
    config: str
    overrides: tuple = ()
    seeds: int = SEEDS_OTHER
    after_budget: tuple = ()
    feature: str = "FC"


class Comparison(NamedTuple):
    """``b − a`` per seed: each side a (row key, test-time attribute source; "" for image-only models)."""

    name: str
    a: tuple[str, str]
    b: tuple[str, str]


OFF = "False"
_OFFICIAL_INPUTS = ("TEST.ATTRIBUTE_SOURCES", '["gt", "zeros"]')
# PAE off: no attribute enters anywhere, so the test-time source changes nothing ("zeros" is named
# because PAENet's evaluation names one; the attribute mA shown is then the heads' or recognizer's).
_PAE_OFF = ("PAENET.PAE.ENABLED", OFF, "TEST.ATTRIBUTE_SOURCES", '["zeros"]')
# a label-free plug-in config switched to the official protocol: annotations as inputs in training and
# test, no recognizer, the attribute lookup of configs/PAENet/sysu.yml
_ON_ANNOTATIONS = ("PAENET.RECOGNIZER.ENABLED", OFF, "PAENET.TRAIN_ATTRIBUTE_INPUT", "gt",
                   "PAENET.DEFAULT_ATTRIBUTE_SOURCE", "", "DATASETS.ATTRIBUTES.FALLBACK", "as_is") + _OFFICIAL_INPUTS
PAENET = "configs/PAENet/sysu.yml"
# The published HCT cuts the layer4 map into 6 horizontal stripes: at the budget's 64x32 the map has
# 4 rows, so the PCB rows (base and + PAE/AAL alike) run at 96x32 (a 6x2 map).
_PCB_INPUT = ("INPUT.SIZE_TRAIN", "[96, 32]", "INPUT.SIZE_TEST", "[96, 32]")
# MPANet's test feature is BN (the neck of its parts and global feature); it has no FC output.
_MPANET_FEATURE = ("TEST.FEATURES", '["BN"]')

SUITES = {
    # Which part of PAENet does what: the same data, budget and seeds for each setup.
    "paenet": [
        Row("baseline", "baseline (MMD-ReID losses)", "configs/Baseline/sysu.yml", seeds=SEEDS_COMPARED),
        Row("baseline_region_branch", "baseline + region branch (PAE off, AAL off)", PAENET,
            _PAE_OFF + ("PAENET.AAL.ENABLED", OFF), seeds=SEEDS_COMPARED),
        Row("baseline_attribute_head", "baseline + linear attribute head on its retrieval feature (ATTR-style)", PAENET,
            _PAE_OFF + ("PAENET.AAL.ENABLED", OFF, "PAENET.REGION_BRANCH", OFF, "PAENET.RECOGNIZER.ENABLED", "True",
                        "PAENET.RECOGNIZER.NAME", "linear"), seeds=SEEDS_COMPARED),
        Row("region_attribute_loss", "region branch + attribute loss (PAE off, AAL on)", PAENET, _PAE_OFF,
            seeds=SEEDS_COMPARED),
        Row("paenet_reference_labelfree", "PAENet reference, label-free", "configs/PAENet/sysu_labelfree.yml",
            seeds=SEEDS_COMPARED),
        Row("paenet_paper_labelfree", "PAENet paper, label-free (reference recipe)", "configs/PAENet/sysu_labelfree.yml",
            ("PAENET.VARIANT", "paper"), seeds=SEEDS_COMPARED),
        Row("paenet_reference_gt", "PAENet reference, trained on annotations (official)", PAENET, _OFFICIAL_INPUTS),
        Row("paenet_paper_gt", "PAENet paper, trained on annotations (reference recipe)", PAENET,
            ("PAENET.VARIANT", "paper") + _OFFICIAL_INPUTS),
        Row("paenet_paper_gt_paper_recipe", "PAENet paper, trained on annotations, the paper's recipe "
            "(stem-only split, HcTri ×1, MMD ×1)", "configs/PAENet/sysu_paper.yml", _OFFICIAL_INPUTS),
    ],
    # The paper's Table 6: each base alone and with PAE/AAL attached, label-free and trained on
    # annotations as the paper does (its gt row is then the paper's setting: test annotations as inputs).
    "plugin": [
        Row("agw", "AGW", "configs/AGW/sysu.yml", seeds=SEEDS_COMPARED),
        Row("agw_paenet_labelfree", "AGW + PAE/AAL, label-free", "configs/PAENet/agw_sysu.yml", seeds=SEEDS_COMPARED),
        Row("agw_paenet_gt", "AGW + PAE/AAL, trained on annotations", "configs/PAENet/agw_sysu.yml", _ON_ANNOTATIONS),
        Row("hct", "HCT (global)", "configs/HCT/sysu.yml", seeds=SEEDS_COMPARED),
        Row("hct_paenet_labelfree", "HCT (global) + PAE/AAL, label-free", "configs/PAENet/hct_sysu.yml",
            seeds=SEEDS_COMPARED),
        Row("hct_paenet_gt", "HCT (global) + PAE/AAL, trained on annotations", "configs/PAENet/hct_sysu.yml", _ON_ANNOTATIONS),
        Row("baseline", "MMD (the baseline)", "configs/Baseline/sysu.yml", seeds=SEEDS_COMPARED),
        Row("paenet_reference_labelfree", "MMD + PAE/AAL, label-free", "configs/PAENet/sysu_labelfree.yml",
            seeds=SEEDS_COMPARED),
        Row("paenet_reference_gt", "MMD + PAE/AAL, trained on annotations (PAENet official)", PAENET, _OFFICIAL_INPUTS),
        Row("ddag", "DDAG", "configs/DDAG/sysu.yml", seeds=SEEDS_COMPARED),
        Row("ddag_paenet_labelfree", "DDAG + PAE/AAL, label-free", "configs/PAENet/ddag_sysu.yml", seeds=SEEDS_COMPARED),
        Row("ddag_paenet_gt", "DDAG + PAE/AAL, trained on annotations", "configs/PAENet/ddag_sysu.yml", _ON_ANNOTATIONS),
        Row("mpanet", "MPANet", "configs/MPANet/sysu.yml", seeds=SEEDS_COMPARED, after_budget=_MPANET_FEATURE,
            feature="BN"),
        Row("mpanet_paenet_labelfree", "MPANet + PAE/AAL, label-free", "configs/PAENet/mpanet_sysu.yml",
            seeds=SEEDS_COMPARED, after_budget=_MPANET_FEATURE, feature="BN"),
        Row("mpanet_paenet_gt", "MPANet + PAE/AAL, trained on annotations", "configs/PAENet/mpanet_sysu.yml",
            _ON_ANNOTATIONS, after_budget=_MPANET_FEATURE, feature="BN"),
        Row("hct_pcb", "HCT (PCB)", "configs/HCT/sysu_pcb.yml", seeds=SEEDS_COMPARED, after_budget=_PCB_INPUT),
        Row("hct_pcb_paenet_labelfree", "HCT (PCB) + PAE/AAL, label-free", "configs/PAENet/hct_pcb_sysu.yml",
            seeds=SEEDS_COMPARED, after_budget=_PCB_INPUT),
        Row("hct_pcb_paenet_gt", "HCT (PCB) + PAE/AAL, trained on annotations", "configs/PAENet/hct_pcb_sysu.yml",
            _ON_ANNOTATIONS, after_budget=_PCB_INPUT),
    ],
}

_LF, _Z, _GT = "predicted", "zeros", "gt"
COMPARISONS = {
    "paenet": [
        Comparison("region branch (PAE/AAL off) vs baseline", ("baseline", ""), ("baseline_region_branch", _Z)),
        Comparison("linear attribute head vs baseline", ("baseline", ""), ("baseline_attribute_head", _Z)),
        Comparison("attribute loss on the region branch vs the region branch", ("baseline_region_branch", _Z),
                   ("region_attribute_loss", _Z)),
        Comparison("region branch + attribute loss vs linear attribute head", ("baseline_attribute_head", _Z),
                   ("region_attribute_loss", _Z)),
        Comparison("label-free PAENet vs baseline", ("baseline", ""), ("paenet_reference_labelfree", _LF)),
        Comparison("label-free PAENet vs region branch + attribute loss (PAE's input)", ("region_attribute_loss", _Z),
                   ("paenet_reference_labelfree", _LF)),
        Comparison("label-free PAENet: predicted vs zero input", ("paenet_reference_labelfree", _Z),
                   ("paenet_reference_labelfree", _LF)),
        Comparison("paper vs reference variant, label-free, one recipe", ("paenet_reference_labelfree", _LF),
                   ("paenet_paper_labelfree", _LF)),
        Comparison("paper vs reference variant, on annotations, zero input, one recipe", ("paenet_reference_gt", _Z),
                   ("paenet_paper_gt", _Z)),
        Comparison("paper variant on annotations: the paper's recipe vs the reference recipe, zero input",
                   ("paenet_paper_gt", _Z), ("paenet_paper_gt_paper_recipe", _Z)),
        Comparison("PAENet on annotations: gt (leakage) vs zero input", ("paenet_reference_gt", _Z),
                   ("paenet_reference_gt", _GT)),
        Comparison("PAENet on annotations, zero input, vs baseline", ("baseline", ""), ("paenet_reference_gt", _Z)),
    ],
    "plugin": [
        Comparison("AGW + PAE/AAL label-free vs AGW", ("agw", ""), ("agw_paenet_labelfree", _LF)),
        Comparison("HCT (global) + PAE/AAL label-free vs HCT (global)", ("hct", ""), ("hct_paenet_labelfree", _LF)),
        Comparison("MMD + PAE/AAL label-free vs MMD", ("baseline", ""), ("paenet_reference_labelfree", _LF)),
        Comparison("DDAG + PAE/AAL label-free vs DDAG", ("ddag", ""), ("ddag_paenet_labelfree", _LF)),
        Comparison("MPANet + PAE/AAL label-free vs MPANet", ("mpanet", ""), ("mpanet_paenet_labelfree", _LF)),
        Comparison("HCT (PCB) + PAE/AAL label-free vs HCT (PCB)", ("hct_pcb", ""), ("hct_pcb_paenet_labelfree", _LF)),
        # does PAE's input matter on this base? (the same runs, the recognizer's predictions vs no input)
        *(Comparison(f"{name} + PAE/AAL label-free: predicted vs zero input", (key, _Z), (key, _LF))
          for name, key in (("AGW", "agw_paenet_labelfree"), ("HCT (global)", "hct_paenet_labelfree"),
                            ("MMD", "paenet_reference_labelfree"), ("DDAG", "ddag_paenet_labelfree"),
                            ("MPANet", "mpanet_paenet_labelfree"), ("HCT (PCB)", "hct_pcb_paenet_labelfree"))),
        # trained on annotations as the paper does: what the test annotations add, and the model without them
        *(c for name, base, key in (("AGW", "agw", "agw_paenet_gt"), ("HCT (global)", "hct", "hct_paenet_gt"),
                                    ("DDAG", "ddag", "ddag_paenet_gt"),
                                    ("MPANet", "mpanet", "mpanet_paenet_gt"), ("HCT (PCB)", "hct_pcb", "hct_pcb_paenet_gt"))
          for c in (Comparison(f"{name} + PAE/AAL on annotations: gt (leakage) vs zero input", (key, _Z), (key, _GT)),
                    Comparison(f"{name} + PAE/AAL on annotations, zero input, vs {name}", (base, ""), (key, _Z)))),
    ],
}
