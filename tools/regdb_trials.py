#!/usr/bin/env python
"""RegDB's ten trials in one command: train and evaluate each train/test split, then report the
mean ± std over trials, as RegDB papers do.

  tools/regdb_trials.py --config-file configs/PAENet/regdb.yml                     # trials 1..10
  tools/regdb_trials.py --config-file configs/PAENet/regdb.yml --trials 1-3 SOLVER.MAX_EPOCH 40
  tools/regdb_trials.py --config-file configs/PAENet/regdb.yml --eval-only         # re-evaluate OUTPUT_DIR/trial_<k>/model_final.pth

Trial k runs with ``DATASETS.REGDB.TRIAL k`` and ``OUTPUT_DIR <OUTPUT_DIR>/trial_<k>`` (its own
log, checkpoints, metrics.json, results.json); a trial whose results.json exists already is not run
again unless ``--rerun``. The report goes to ``<OUTPUT_DIR>/regdb_trials.md`` (table) and
``regdb_trials.json`` (per-trial results, mean, std).
"""
from __future__ import annotations

import argparse
import json
import os


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--trials", default="1-10", help="comma list and/or ranges of 1..10, e.g. 1,2,3 or 1-5,8")
    p.add_argument("--eval-only", action="store_true", help="evaluate each trial's model_final.pth")
    p.add_argument("--rerun", action="store_true", help="run trials that already have a results.json")
    p.add_argument("--num-gpus", type=int, default=1, help="processes per trial (as tools/train_net.py)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE")
    return p.parse_args(argv)


def parse_trials(text: str) -> list[int]:
    from fastreid_ext.utils.errors import UserError

    trials = []
    try:
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            trials += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UserError(f"--trials {text!r}: expected a comma list and/or ranges of 1..10, e.g. 1,2,3 or 1-5,8.") from None
    bad = [t for t in trials if not 1 <= t <= 10]
    if bad or not trials:
        raise UserError(f"--trials {text!r}: RegDB has trials 1..10.")
    return sorted(set(trials))


def trial_dir(output_dir: str, trial: int) -> str:
    return os.path.join(output_dir, f"trial_{trial}")


def run_trial(args, output_dir: str, trial: int) -> dict:
    """Train (or evaluate) one trial in fresh processes; its results dict from its results.json."""
    from fastreid_ext.engine.cli import default_argument_parser, main as cli_main
    from fastreid_ext.engine.launch import launch

    out = trial_dir(output_dir, trial)
    opts = list(args.opts or []) + ["DATASETS.REGDB.TRIAL", str(trial), "OUTPUT_DIR", out]
    results_path = os.path.join(out, "results.json")
    if args.eval_only:  # an evaluation writes into the trial's inference/<weights>[+options]/ folder
        from fastreid_ext.config import load_config
        from fastreid_ext.engine.run_folder import eval_output_dir

        opts += ["MODEL.WEIGHTS", os.path.join(out, "model_final.pth")]
        results_path = os.path.join(eval_output_dir(load_config(args.config_file, opts, freeze=False)), "results.json")
    if args.rerun or not os.path.isfile(results_path):
        cli = default_argument_parser().parse_args(
            ["--config-file", args.config_file, "--num-gpus", str(args.num_gpus)] + (["--eval-only"] if args.eval_only else []) + opts)
        launch(cli_main, cli.num_gpus, dist_url=cli.dist_url, args=(cli,))
    with open(results_path) as f:
        return json.load(f)["results"]


def main(argv=None) -> dict:
    from fastreid_ext.config import load_config
    from fastreid_ext.evaluation.results_writer import aggregate_trials
    from fastreid_ext.utils.errors import UserError

    args = parse_args(argv)
    trials = parse_trials(args.trials)
    cfg = load_config(args.config_file, args.opts or [])
    if not any(name == "RegDB" for name in cfg.DATASETS.TESTS):
        raise UserError(f"{args.config_file}: DATASETS.TESTS is {list(cfg.DATASETS.TESTS)}; regdb_trials needs RegDB.")
    per_trial = {t: run_trial(args, cfg.OUTPUT_DIR, t) for t in trials}
    table, summary = aggregate_trials(per_trial)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    with open(os.path.join(cfg.OUTPUT_DIR, "regdb_trials.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(cfg.OUTPUT_DIR, "regdb_trials.json"), "w") as f:
        json.dump({"trials": sorted(per_trial), "per_trial": {str(t): r for t, r in per_trial.items()}, "summary": summary}, f, indent=2)
    print(f"RegDB over {len(per_trial)} trials:\n{table}")
    return summary


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
