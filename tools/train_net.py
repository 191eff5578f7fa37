#!/usr/bin/env python
"""Train or evaluate from a config: ``tools/train_net.py --config-file FILE [--resume] [--eval-only] [KEY VALUE ...]``.

All logic lives in ``fastreid_ext.engine.cli`` (parse, launch, setup in every worker, train or test);
plugins come from the config's IMPORTS. ``--help`` lists the options.
"""
from fastreid_ext.engine.cli import run_cli

if __name__ == "__main__":
    run_cli()
