"""Every number the evaluator produces on fixed synthetic data, as one JSON file: run it in two
checkouts and compare the files byte for byte to show that a refactor left the results unchanged.

    PYTHONPATH=OLD python OLD/bench/evaluator_results_dump.py /tmp/old.json
    PYTHONPATH=NEW python NEW/bench/evaluator_results_dump.py /tmp/new.json && cmp /tmp/old.json /tmp/new.json

SYSU-MM01 (20 ids) and RegDB (20 ids) in the real layouts, a deterministic pixel model (no weights),
each evaluated plain, with re-ranking and with AQE: every task, feature, metric, mean and std.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import torch

from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.data.synthetic import generate_regdb, generate_sysu
from fastreid_ext.evaluation import build_evaluator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _testkit():
    """The tests' deterministic pixel model, loaded from its file (the tests folder is not a package)."""
    spec = importlib.util.spec_from_file_location("eval_testkit", os.path.join(REPO, "tests", "evaluation", "eval_testkit.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(out: str, root: str = "/tmp/evaluator_results_dump_data") -> None:
    if not os.path.isdir(os.path.join(root, "RegDB")):
        generate_sysu(f"{root}/SYSU-MM01", seed=0, num_ids=20, images_per_camera=3, height=64, width=32, progress=False)
        generate_regdb(f"{root}/RegDB", seed=0, num_ids=20, images_per_id=4, height=64, width=32, progress=False)
    torch.set_num_threads(1)
    kit = _testkit()
    results = {}
    for name in ("SYSU_MM01", "RegDB"):
        for opts in ([], ["TEST.RERANK.ENABLED", True], ["TEST.AQE.ENABLED", True]):
            cfg = kit.tiny_cfg(root, "", name)
            cfg.DATASETS.ATTRIBUTES.ENABLED = False
            cfg.merge_from_list(opts)
            evaluator = build_evaluator(cfg, build_dataset(cfg, name), "")
            evaluator.progress = False
            results[f"{name}{opts}"] = evaluator.evaluate(kit.PooledPixelModel())
    with open(out, "w") as f:
        json.dump(results, f, sort_keys=True)
    print(f"{sum(len(m) for r in results.values() for m in r.values())} numbers of {len(results)} evaluations -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
