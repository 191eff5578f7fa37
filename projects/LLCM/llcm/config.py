"""``TEST.LLCM.*``: the options of the LLCM protocol (added to every config by a key-adder)."""
from fastreid_ext.config import CfgNode as CN
from fastreid_ext.config import register_config

__all__ = ["add_llcm_config"]


@register_config
def add_llcm_config(cfg) -> None:
    cfg.TEST.LLCM = CN()
    # infrared2visible: every NIR test image queries one drawn VIS image per (id, camera) (the public
    # code's test_mode [1, 2]); visible2infrared: its test_mode [2, 1] (see projects/LLCM/README.md).
    cfg.TEST.LLCM.DIRECTIONS = ["infrared2visible", "visible2infrared"]
    cfg.TEST.LLCM.NUM_TRIALS = 10  # seeded draws 0..9, as the public test.py
    cfg.TEST.LLCM.TRAIN_EVAL_TRIALS = 1  # trials of the quick (periodic) evaluation; <= 0: NUM_TRIALS
