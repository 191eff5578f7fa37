"""Training-step time / peak memory and feature-extraction throughput of PAENet vs the baseline.

One model per process (peak RSS is per process). Models: ``baseline`` (configs/Baseline/sysu.yml),
``reference`` / ``paper`` (configs/PAENet/sysu.yml, sysu_paper.yml with the same batch), ``official``
(a timing replica of the official forward, bench/paenet_official_replica.py). Random init and data,
ResNet-50, 288×144, P ids × (K + K) images, SGD step included. Example:

    for m in baseline reference paper official; do
      .venv/bin/python bench/paenet_speed.py --model $m --threads 2 --steps 3; done
    .venv/bin/python bench/paenet_speed.py --model reference --extract --batch 64
    # shared/noisy machine: alternate the steps of two models in one process for a fair ratio
    .venv/bin/python bench/paenet_speed.py --model reference --interleave official --steps 4
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch

import paenet  # noqa: F401  (registers PAENet)
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_optimizer

CONFIGS = {"baseline": "configs/Baseline/sysu.yml", "reference": "configs/PAENet/sysu.yml",
           "paper": "configs/PAENet/sysu_paper.yml", "official": "configs/PAENet/sysu.yml"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(CONFIGS), required=True)
    p.add_argument("--interleave", choices=sorted(CONFIGS), default="",
                   help="a second model whose steps alternate with --model's (ratio robust to load changes)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3, help="timed steps / batches (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--ids", type=int, default=4)
    p.add_argument("--instances", type=int, default=4)
    p.add_argument("--extract", action="store_true", help="time eval-mode feature extraction instead")
    p.add_argument("--batch", type=int, default=64, help="extraction batch size")
    p.add_argument("opts", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def make_batch(n_ids, k, size, n_attr, num_classes, g):
    ids = torch.randperm(num_classes, generator=g)[:n_ids].repeat_interleave(k)
    n = 2 * n_ids * k
    return {"images": torch.randn(n, 3, *size, generator=g), "targets": torch.cat([ids, ids]),
            "camids": torch.ones(n, dtype=torch.long), "modality": torch.tensor([0] * (n // 2) + [1] * (n // 2)),
            "attributes": torch.randint(0, 2, (n, n_attr), generator=g).float(),
            "attribute_mask": torch.ones(n, n_attr, dtype=torch.bool)}


def build(name, args):
    torch.manual_seed(0)
    opts = ["MODEL.BACKBONE.PRETRAIN", "False", "MODEL.HEADS.NUM_CLASSES", "395", "MODEL.DEVICE", "cpu"]
    if name != "baseline":
        opts += ["MODEL.NUM_ATTRIBUTES", "8"]
    if name == "official":  # the official code runs its convolutions in the default NCHW format
        opts += ["MODEL.BACKBONE.CHANNELS_LAST", "False"]
    cfg = load_config(CONFIGS[name], opts + list(args.opts))
    model = build_model(cfg)
    if name == "official":
        from paenet_official_replica import OfficialReplicaHead

        model = OfficialReplicaHead(model)
    g = torch.Generator().manual_seed(0)
    size = tuple(cfg.INPUT.SIZE_TRAIN)
    if args.extract:
        model.eval()
        batch = make_batch(args.batch // 2, 1, size, 8, 395, g)
        batch["modality"] = torch.zeros(args.batch, dtype=torch.long)
        # PAENet evaluates only with a named attribute source; zeros costs what gt or predicted costs
        batch["attribute_source"] = "zeros"

        def step():
            with torch.no_grad():
                model(batch)
    else:
        model.train()
        optimizer = build_optimizer(cfg, model if name != "official" else model.paenet)
        if name == "official":  # the official optimizer also updates the dead parameters
            extra = [p for n, p in model.named_parameters() if not n.startswith("paenet.")]
            optimizer.add_param_group({"params": extra, "lr": 0.01})
        batch = make_batch(args.ids, args.instances, size, 8, 395, g)

        def step():
            losses = model(batch)
            optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            optimizer.step()
    n_params = sum(p.numel() for p in model.parameters())
    return step, n_params, size


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [args.model] + ([args.interleave] if args.interleave else [])
    built = {n: build(n, args) for n in names}
    times = {n: [] for n in names}
    for i in range(args.warmup + args.steps):
        for n in names:
            t0 = time.perf_counter()
            built[n][0]()
            if i >= args.warmup:
                times[n].append(time.perf_counter() - t0)
    outs = []
    for n in names:
        med = statistics.median(times[n])
        out = {"model": n, "mode": "extract" if args.extract else "train_step", "threads": args.threads,
               "params_M": round(built[n][1] / 1e6, 2), "median_s": round(med, 3),
               "all_s": [round(t, 3) for t in times[n]],
               "max_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               "interleaved_with": [m for m in names if m != n]}
        size = built[n][2]
        if args.extract:
            out["images_per_s"] = round(args.batch / med, 2)
        else:
            out["batch"] = f"{args.ids} ids x ({args.instances}+{args.instances}) at {size[0]}x{size[1]}"
        print(json.dumps(out))
        outs.append(out)
    if len(names) == 2:
        print(json.dumps({"ratio_median": round(statistics.median(times[names[0]]) / statistics.median(times[names[1]]), 3),
                          "ratio_of_sums": round(sum(times[names[0]]) / sum(times[names[1]]), 3),
                          "of": f"{names[0]} / {names[1]}"}))
    return outs


if __name__ == "__main__":
    main()
