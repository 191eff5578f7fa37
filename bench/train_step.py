"""Time one training step (forward + backward + optimizer step) of any meta-architecture.

Random init, random images, a batch laid out as the loader's (P ids × (K visible + K infrared)),
the configured optimizer. Reports the median step time after warm-up and the peak memory
(process max RSS; CUDA max allocated on GPU). Example (the issue's setting, the default):

    .venv/bin/python bench/train_step.py --threads 2 --steps 5
    .venv/bin/python bench/train_step.py --config-file configs/PAENet/sysu.yml MODEL.NUM_ATTRIBUTES 8
    # a model at the synthetic benchmark's budget (ResNet-18, 64x32, 8 x (4 + 4)), one thread
    .venv/bin/python bench/train_step.py --threads 1 --budget configs/Benchmark/budget.yml \
        --config-file configs/DDAG/sysu.yml

Besides the wall time it reports the process CPU time per step, which a busy machine disturbs less.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time

import torch

from fastreid_ext.config import get_cfg, load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_optimizer


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config-file", default="", help="config to time (default: core defaults = the baseline)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--ids", type=int, default=0, help="P (0: DATALOADER.IDS_PER_BATCH)")
    p.add_argument("--instances", type=int, default=0, help="K per modality (0: DATALOADER.NUM_INSTANCES)")
    p.add_argument("--num-classes", type=int, default=395, help="identity classes (SYSU-MM01 train: 395)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", default="", help="a yaml of keys applied after the config (bench/synthetic_benchmark.py's "
                                               "budget, configs/Benchmark/budget.yml), before the KEY VALUE overrides")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p.parse_args(argv)


def make_cfg(args):
    # random init (no download), a classifier; the user's opts come last and win
    fixed = ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.PRETRAIN_PATH", "", "MODEL.WEIGHTS", "",
             "MODEL.HEADS.NUM_CLASSES", args.num_classes]
    if args.budget:
        from synthetic_benchmark import budget_overrides  # the sibling script (bench/ is sys.path[0])

        fixed += budget_overrides(args.budget)
    if args.config_file:
        return load_config(args.config_file, fixed + list(args.opts))
    cfg = get_cfg()
    cfg.merge_from_list(fixed + list(args.opts))
    return cfg


def make_batch(cfg, p, k, num_classes, num_attributes, generator):
    h, w = cfg.INPUT.SIZE_TRAIN
    ids = torch.randperm(num_classes, generator=generator)[:p].repeat_interleave(k)
    n = 2 * p * k
    return {
        "images": torch.randn(n, 3, h, w, generator=generator),
        "targets": torch.cat([ids, ids]),
        "camids": torch.ones(n, dtype=torch.long),
        "modality": torch.tensor([0] * (p * k) + [1] * (p * k)),
        "attributes": torch.randint(0, 2, (n, num_attributes), generator=generator).float(),
        "attribute_mask": torch.ones(n, num_attributes, dtype=torch.bool),
        "img_paths": [f"random_{i}.jpg" for i in range(n)],
    }


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = make_cfg(args)
    p = args.ids or cfg.DATALOADER.IDS_PER_BATCH
    k = args.instances or cfg.DATALOADER.NUM_INSTANCES
    model = build_model(cfg).train()
    optimizer = build_optimizer(cfg, model)
    device = model.device
    batch = make_batch(cfg, p, k, args.num_classes, cfg.MODEL.NUM_ATTRIBUTES, torch.Generator().manual_seed(args.seed))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    times, cpu_times = [], []
    for i in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0, c0 = time.perf_counter(), time.process_time()
        losses = model(batch)
        total = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)

    result = {
        "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
        "config_file": args.config_file or "(defaults)",
        "depth": cfg.MODEL.BACKBONE.DEPTH,
        "batch": f"{p} ids x ({k}+{k}) = {2 * p * k} images at {cfg.INPUT.SIZE_TRAIN[0]}x{cfg.INPUT.SIZE_TRAIN[1]}",
        "device": str(device) + ("" if device.type != "cuda" else f" ({torch.cuda.get_device_name(device)})"),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "step_s_median": round(statistics.median(times), 3),
        "step_s_all": [round(t, 3) for t in times],
        "step_cpu_s_median": round(statistics.median(cpu_times), 3),
        "load_average": round(os.getloadavg()[0], 2),
        "max_rss_mib_after_build": round(rss_before_kib / 1024, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "losses": {k_: round(float(v.detach()), 4) for k_, v in losses.items()},
    }
    if device.type == "cuda":
        result["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
