#!/usr/bin/env python
"""Train or evaluate from a config: ``tools/train_net.py --config-file FILE [--resume] [--eval-only] [KEY VALUE ...]``.

All logic lives in ``fastreid_ext.engine.cli``; plugins come from the config's IMPORTS.
"""
from fastreid_ext.engine.cli import default_argument_parser, main
from fastreid_ext.engine.launch import launch

if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
