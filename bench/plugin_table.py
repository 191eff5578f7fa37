"""PAE/AAL as a plug-in (the paper's Table 6 layout): each base alone and with PAE/AAL attached, trained
on the same synthetic preset with the same budget over several seeds; prints mean ± std.

    .venv/bin/python bench/plugin_table.py --root datasets/plugin_bench --seeds 0 1 2
    .venv/bin/python bench/plugin_table.py --bases AGW HCT --no-plugin --seeds 0 --opts SOLVER.MAX_EPOCH 1   # a smoke run

Each run is ``tools/train_net.py`` on the base's config (``configs/AGW/sysu.yml``, ``configs/HCT/sysu.yml``,
``configs/Baseline/sysu.yml``) or on its PAENet attach config (PAENET.BASE_ARCHITECTURE = the base;
``configs/PAENet/{agw,hct}_sysu.yml``, ``configs/PAENet/sysu.yml``), with ``PRESET`` and the command
line overrides on top, one output folder per (row, seed). A plug-in row is reported twice: with the
model's own predicted attributes at test time (label-free) and with ground-truth attributes (gt).
A config that is not in the checkout yet is reported as missing instead of run. Numbers come from
``results.json`` (SYSU all-search single-shot, FC feature, mean of the trials); ``--reuse`` only
prints the table of finished runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# base name → (base config, PAENet-on-this-base config)
BASES = {
    "AGW": ("configs/AGW/sysu.yml", "configs/PAENet/agw_sysu.yml"),
    "HCT": ("configs/HCT/sysu.yml", "configs/PAENet/hct_sysu.yml"),
    "MMD": ("configs/Baseline/sysu.yml", "configs/PAENet/sysu.yml"),
}
# The same cheap CPU budget for every row: ResNet-18 from scratch on generated SYSU-layout data, 64×32
# inputs, Adam (the lr-0.1 SGD recipes assume ImageNet weights), one all-search single-shot evaluation.
PRESET = [
    "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", "18", "MODEL.BACKBONE.LAST_STRIDE", "2",
    "MODEL.BACKBONE.PRETRAIN", "False", "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]",
    "INPUT.PADDING", "4", "DATASETS.SYNTHETIC.PRESET", "default",
    "DATALOADER.NUM_WORKERS", "0", "DATALOADER.PERSISTENT_WORKERS", "False", "DATALOADER.IDS_PER_BATCH", "8",
    "DATALOADER.NUM_INSTANCES", "4", "DATALOADER.ITERS_PER_EPOCH", "20",
    "SOLVER.OPTIMIZER", "Adam", "SOLVER.BASE_LR", "0.001", "SOLVER.LR_MULTIPLIERS", "[]", "SOLVER.MAX_EPOCH", "8",
    "SOLVER.WARMUP_EPOCHS", "1", "SOLVER.STEPS", "[6]", "SOLVER.CHECKPOINT_PERIOD", "100",
    "TEST.EVAL_PERIOD", "0", "TEST.FEATURES", '["FC"]', "TEST.SYSU.MODES", '["all"]', "TEST.SYSU.SHOTS", '["single"]',
]
PLUGIN_SOURCES = (("predicted", "+ PAE/AAL (label-free)"), ("gt", "+ PAE/AAL (gt)"))
METRICS = ("Rank-1", "mAP")


def run_one(config: str, out: str, seed: int, root: str, opts: list[str]) -> None:
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", os.path.join(REPO, config),
           *PRESET, "DATASETS.ROOT", root, "OUTPUT_DIR", out, "SEED", str(seed), *opts]
    print("running:", " ".join(cmd), flush=True)
    with open(os.path.join(out, "bench_stdout.txt"), "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def read_metrics(out: str, task: str, source: str | None) -> dict[str, float]:
    results = json.load(open(os.path.join(out, "results.json")))["results"]
    if task not in results:
        raise KeyError(f"{out}/results.json has no task '{task}'; it has {sorted(results)}.")
    prefix = f"{source}/" if source else ""
    return {m: results[task][f"{prefix}FC/{m}"] for m in METRICS}


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {std:.2f}"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="datasets/plugin_bench", help="DATASETS.ROOT (generated when missing)")
    p.add_argument("--out", default="output/bench_plugin_table")
    p.add_argument("--bases", nargs="+", default=list(BASES), choices=list(BASES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--no-plugin", action="store_true", help="run the bases alone")
    p.add_argument("--task", default="SYSU_MM01/all-single")
    p.add_argument("--reuse", action="store_true", help="only print the table of finished runs")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="overrides for every run, last on the line "
                   "(e.g. --opts SOLVER.MAX_EPOCH 2)")
    args = p.parse_args(argv)

    rows: list[tuple[str, dict[str, list[float]] | str]] = []
    for base in args.bases:
        base_cfg, plugin_cfg = BASES[base]
        variants = [(base, base_cfg, [(None, base)])]
        if not args.no_plugin:
            variants.append((f"{base}+PAE", plugin_cfg, [(src, f"{base} {label}") for src, label in PLUGIN_SOURCES]))
        for folder, config, labelled in variants:
            if not os.path.isfile(os.path.join(REPO, config)):
                rows += [(label, f"missing {config}") for _, label in labelled]
                continue
            values = {label: {m: [] for m in METRICS} for _, label in labelled}
            for seed in args.seeds:
                out = os.path.join(args.out, folder, f"seed{seed}")
                if not args.reuse:
                    os.makedirs(out, exist_ok=True)
                    run_one(config, out, seed, args.root, args.opts)
                for source, label in labelled:
                    for m, v in read_metrics(out, args.task, source).items():
                        values[label][m].append(v)
            rows += [(label, values[label]) for _, label in labelled]

    print(f"\n{args.task}, FC feature, mean ± std over seeds {args.seeds}")
    print("| method | " + " | ".join(METRICS) + " |\n|---|" + "---|" * len(METRICS))
    for label, v in rows:
        cells = [v] * len(METRICS) if isinstance(v, str) else [mean_std(v[m]) for m in METRICS]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
