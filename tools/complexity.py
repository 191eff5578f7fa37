#!/usr/bin/env python
"""Parameters and FLOPs of a config's model at its test size (what every run logs at its start).

  tools/complexity.py --config-file configs/PAENet/sysu.yml [--depth 2] [KEY VALUE ...]

FLOPs are fvcore's count (one multiply-add = one FLOP) of the inference path on one image at
``INPUT.SIZE_TEST`` with the primary test-time attribute source; the table breaks them down per
module down to ``--depth``. The model is built with random weights (complexity does not depend on
them). Counts left at 0 in the config (``MODEL.HEADS.NUM_CLASSES``, ``MODEL.NUM_ATTRIBUTES``) are read
from the training data when it exists; otherwise give them as overrides.
"""
from __future__ import annotations

import argparse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--depth", type=int, default=2, help="module depth of the per-module table (0: no table)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE, e.g. MODEL.BACKBONE.DEPTH 18")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    from fastreid_ext.utils.env import import_fvcore_nn

    flop_count_table = import_fvcore_nn().flop_count_table

    from fastreid_ext.config import load_config
    from fastreid_ext.engine.setup import resolve_dataset_keys_if_readable
    from fastreid_ext.modeling import build_model
    from fastreid_ext.modeling.complexity import complexity_line, inference_flops, model_complexity

    args = parse_args(argv)
    cfg = load_config(args.config_file, args.opts or [], freeze=False)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.BACKBONE.PRETRAIN = False
    cfg.MODEL.BACKBONE.PRETRAIN_PATH = ""
    resolve_dataset_keys_if_readable(cfg)
    cfg.freeze()
    model = build_model(cfg)
    try:
        info = model_complexity(model, cfg)
    except Exception as e:  # fvcore's tracer cannot follow every op (e.g. DDAG's graph attention): say so, count params
        from fastreid_ext.modeling.complexity import count_parameters

        detail = " ".join(str(e).split())[:160]
        print(f"{cfg.MODEL.META_ARCHITECTURE}: {count_parameters(model) / 1e6:.2f} M parameters; FLOPs not countable: "
              f"fvcore's tracer fails on this model ({type(e).__name__}: {detail})")
        return {"params": count_parameters(model), "flops": None}
    print(f"{cfg.MODEL.META_ARCHITECTURE}: {complexity_line(info)}")
    if args.depth > 0:
        print(flop_count_table(inference_flops(model, cfg, info["attribute_source"]), max_depth=args.depth))
    return info


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
