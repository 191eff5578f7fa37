#!/usr/bin/env python
"""One config over several seeds, then mean ± std and a 95 % t-interval per metric.

  tools/repeat.py --config-file configs/PAENet/sysu.yml --seeds 0-2
  tools/repeat.py --config-file configs/PAENet/sysu.yml --seeds 0-4 --metrics "Rank-1$|mAP$" SOLVER.MAX_EPOCH 40

Seed k runs as ``tools/train_net.py`` with ``SEED k`` and ``OUTPUT_DIR <OUTPUT_DIR>/seed_<k>``. Each
seed folder gets a ``repeat_request.json`` (the full requested config); a seed is reused when its run
finished (results.json written, marked finished) with the same requested config, resumed (``--resume``)
when it was interrupted with the same config, and run afresh otherwise (a changed config or
override). ``--rerun`` runs every seed again. The statistics (``fastreid_ext.evaluation.seed_statistics``)
are printed and written to ``<OUTPUT_DIR>/repeat.md`` and ``repeat.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os

REQUEST_FILE = "repeat_request.json"
logger = logging.getLogger("repeat")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--seeds", default="0-2", help="comma list and/or ranges of seeds >= 0, e.g. 0,1,2 or 0-4")
    p.add_argument("--metrics", default="", help="regular expression on the result keys to report (default: all)")
    p.add_argument("--rerun", action="store_true", help="run every seed again")
    p.add_argument("--num-gpus", type=int, default=1, help="processes per run (as tools/train_net.py)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE")
    return p.parse_args(argv)


def parse_seeds(text: str) -> list[int]:
    from fastreid_ext.utils.errors import UserError

    seeds = []
    try:
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UserError(f"--seeds {text!r}: expected a comma list and/or ranges of seeds >= 0, "
                        "e.g. 0,1,2 or 0-4.") from None
    if not seeds:
        raise UserError(f"--seeds {text!r}: no seed given.")
    return sorted(set(seeds))


def seed_dir(output_dir: str, seed: int) -> str:
    return os.path.join(output_dir, f"seed_{seed}")


def requested_config(args, seed: int, out: str) -> str:
    """The config this seed's run is asked for (file, overrides, SEED, OUTPUT_DIR), as YAML text."""
    from fastreid_ext.config import load_config

    return load_config(args.config_file, list(args.opts or []) + ["SEED", str(seed), "OUTPUT_DIR", out]).dump()


def seed_status(out: str, request: str) -> str:
    """"finished" (reuse), "interrupted" (resume), "changed" or "new" (run from scratch)."""
    path = os.path.join(out, REQUEST_FILE)
    if not os.path.isfile(path):
        return "new"
    with open(path) as f:
        saved = json.load(f)
    if saved.get("config") != request:
        return "changed"
    if saved.get("finished") and os.path.isfile(os.path.join(out, "results.json")):
        return "finished"
    return "interrupted"


def _write_request(out: str, request: str, finished: bool) -> None:
    from fastreid_ext.checkpoint import atomic_write_text

    os.makedirs(out, exist_ok=True)
    atomic_write_text(json.dumps({"config": request, "finished": finished}), os.path.join(out, REQUEST_FILE))


def run_seed(args, seed: int, out: str, resume: bool) -> None:
    """Train and evaluate one seed as tools/train_net.py does (fresh processes when --num-gpus > 1)."""
    from fastreid_ext.engine.cli import default_argument_parser, main as cli_main
    from fastreid_ext.engine.launch import launch

    cli = default_argument_parser().parse_args(
        ["--config-file", args.config_file, "--num-gpus", str(args.num_gpus)] + (["--resume"] if resume else [])
        + list(args.opts or []) + ["SEED", str(seed), "OUTPUT_DIR", out])
    launch(cli_main, cli.num_gpus, dist_url=cli.dist_url, args=(cli,))


def _json_safe(x):
    """NaN (the std and interval of a single seed) as null, so repeat.json is strict JSON."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return None if isinstance(x, float) and x != x else x


def main(argv=None) -> dict:
    from fastreid_ext.checkpoint import atomic_write_text
    from fastreid_ext.config import load_config
    from fastreid_ext.evaluation.seed_statistics import read_run_results, seed_statistics, statistics_table
    from fastreid_ext.utils.errors import UserError

    args = parse_args(argv)
    seeds = parse_seeds(args.seeds)
    output_dir = load_config(args.config_file, args.opts or []).OUTPUT_DIR
    per_seed, status = {}, {}
    for seed in seeds:
        out = seed_dir(output_dir, seed)
        request = requested_config(args, seed, out)
        state = "rerun" if args.rerun else seed_status(out, request)
        status[seed] = "reused" if state == "finished" else ("resumed" if state == "interrupted" else "run")
        print(f"seed {seed}: {status[seed]} ({out})", flush=True)
        if state != "finished":
            _write_request(out, request, finished=False)
            run_seed(args, seed, out, resume=state == "interrupted")
            _write_request(out, request, finished=True)
        per_seed[seed] = read_run_results(out)
        if not per_seed[seed]:
            raise UserError(f"{out}: the run wrote no results.json (are DATASETS.TESTS empty?).")
    summary = seed_statistics(per_seed, args.metrics)
    if not summary:
        raise UserError(f"--metrics {args.metrics!r} matches none of the result keys, "
                        f"e.g. {sorted(per_seed[seeds[0]])[:5]}.")
    table = statistics_table(summary)
    legend = (f"{len(seeds)} seeds {seeds} of {args.config_file}: mean ± sample std (ddof 1) and the 95 % "
              f"t-interval of the mean")
    os.makedirs(output_dir, exist_ok=True)
    atomic_write_text(f"{legend}\n\n{table}\n", os.path.join(output_dir, "repeat.md"))
    atomic_write_text(json.dumps({"config_file": args.config_file, "opts": list(args.opts or []), "seeds": seeds,
                                  "status": {str(s): v for s, v in status.items()}, "summary": _json_safe(summary)},
                                 indent=2),
                      os.path.join(output_dir, "repeat.json"))
    print(f"{legend}:\n{table}")
    return summary


if __name__ == "__main__":
    from fastreid_ext.engine.cli import run_tool

    run_tool(main)
