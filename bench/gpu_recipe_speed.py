#!/usr/bin/env python
"""Reference PAENet train step of the GPU recipe: fp32 vs autocast (bf16, fp16) + channels-last (+ compile), and the loader.

    PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_recipe_speed.py           # on a GPU, ~3 min
    PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_recipe_speed.py --smoke   # anywhere, seconds

Rows (random init, random images, SGD step through the engine's SimpleTrainer, so autocast, the
GradScaler and the per-step loss logging are as in training): "today" is configs/PAENet/sysu.yml
as it is (fp32, 4 x (4 + 4)); the others use configs/PAENet/sysu_gpu.yml's batch, 8 x (4 + 4), at
288x144. Each row: median step time over --steps after --warmup steps (compilation happens there),
images/s, and the ratio to today's images/s (issue 25, item 4: at least 4x). Then the training loader
of sysu_gpu.yml (workers, prefetch, pinned memory) on generated SYSU-MM01 images, its images/s and
its ratio to the fastest step (at least 1.5x), and the projected wall time of the full SYSU recipe
(iterations x step; 22,258 visible training images decide the iterations per epoch).
``--smoke``: ResNet-18, 64x32, 4 x (2 + 2) (today's row 2 x (2 + 2)), one timed step, loader in the main process, compile with the
"eager" backend: runs on a CPU in seconds and checks that every path works, measures nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
from tabulate import tabulate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSU_TRAIN_VISIBLE = 22258  # docs/protocols.md: 395 training ids, 22,258 visible and 11,909 infrared images
NUM_CLASSES = 395


def _cfg(config: str, device: str, opts: list):
    import paenet  # noqa: F401  (registers PAENet and its keys)
    from fastreid_ext.config import load_config

    fixed = ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.WEIGHTS", "", "MODEL.DEVICE", device,
             "MODEL.HEADS.NUM_CLASSES", NUM_CLASSES]
    return load_config(os.path.join(REPO, config), fixed + list(opts))


def _batch(cfg, generator: torch.Generator, pin: bool) -> dict:
    """A loader-shaped batch of P ids x (K visible + K infrared) random images with attributes."""
    p, k = int(cfg.DATALOADER.IDS_PER_BATCH), int(cfg.DATALOADER.NUM_INSTANCES)
    h, w = cfg.INPUT.SIZE_TRAIN
    n_attr = max(int(cfg.MODEL.NUM_ATTRIBUTES), 1)
    ids = torch.randperm(NUM_CLASSES, generator=generator)[:p].repeat_interleave(k)
    n = 2 * p * k
    b = {"images": torch.randn(n, 3, h, w, generator=generator), "targets": torch.cat([ids, ids]),
         "camids": torch.ones(n, dtype=torch.long), "modality": torch.arange(n) // (p * k),
         "attributes": torch.randint(0, 2, (n, n_attr), generator=generator).float(),
         "attribute_mask": torch.ones(n, n_attr, dtype=torch.bool), "img_paths": [f"random_{i}.jpg" for i in range(n)]}
    return {key: (v.pin_memory() if pin and torch.is_tensor(v) else v) for key, v in b.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(cfg, amp: str, compile_backend: str, warmup: int, steps: int) -> float:
    """Median seconds of one SimpleTrainer step of ``build_model(cfg)``; ``amp``: "" | "bfloat16" | "float16"."""
    from fastreid_ext.engine import SimpleTrainer
    from fastreid_ext.engine.compile import compile_model
    from fastreid_ext.engine.train_loop import HookBase
    from fastreid_ext.modeling import build_model
    from fastreid_ext.solver import build_optimizer
    from fastreid_ext.utils.device import resolve_device

    device = resolve_device(cfg.MODEL.DEVICE)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    if compile_backend:
        compile_model(model, True, backend=compile_backend)
    batch = _batch(cfg, torch.Generator().manual_seed(0), pin=device.type == "cuda")
    times: list[float] = []

    class StepTimer(HookBase):
        def before_step(self):
            _sync(device)
            self.t0 = time.perf_counter()

        def after_step(self):
            _sync(device)
            times.append(time.perf_counter() - self.t0)

    trainer = SimpleTrainer(model, [batch] * (warmup + steps), build_optimizer(cfg, model), amp_enabled=bool(amp),
                            amp_dtype=amp or "auto", device=device)
    trainer.register_hooks([StepTimer()])
    trainer.train(0, warmup + steps)
    bad = [k for k, v in trainer.loss_dict.items() if not torch.isfinite(v.detach().float())]
    if bad:
        raise FloatingPointError(f"non-finite losses {bad}")
    del trainer, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return statistics.median(times[warmup:])


def loader_rate(cfg, root: str, warmup: int, batches: int) -> float:
    """Images/s of ``build_train_loader(cfg)`` over ``batches`` batches after ``warmup`` (worker start-up)."""
    from fastreid_ext.data import build_train_loader

    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATASETS.ROOT = root
    cfg.DATASETS.NAMES = ["SYSU_MM01"]
    loader = build_train_loader(cfg)
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    t0 = time.perf_counter()
    n = sum(len(next(it)["img_paths"]) for _ in range(batches))
    rate = n / (time.perf_counter() - t0)
    del it, loader
    return rate


def variants(a) -> list[tuple[str, str, list, str, str]]:
    """(row name, config, options, amp dtype, compile backend)."""
    small = ["MODEL.BACKBONE.DEPTH", 18, "INPUT.SIZE_TRAIN", [64, 32], "DATALOADER.IDS_PER_BATCH", 4,
             "DATALOADER.NUM_INSTANCES", 2] if a.smoke else []
    today = ["MODEL.BACKBONE.DEPTH", 18, "INPUT.SIZE_TRAIN", [64, 32], "DATALOADER.IDS_PER_BATCH", 2,
             "DATALOADER.NUM_INSTANCES", 2] if a.smoke else []
    gpu, ref = "configs/PAENet/sysu_gpu.yml", "configs/PAENet/sysu.yml"
    nchw, cl = ["MODEL.BACKBONE.CHANNELS_LAST", False], ["MODEL.BACKBONE.CHANNELS_LAST", True]
    rows = [("today: sysu.yml, fp32", ref, today, "", ""),
            ("fp32, NCHW", gpu, small + nchw, "", ""),
            ("fp32, channels-last", gpu, small + cl, "", ""),
            ("bf16 autocast, channels-last", gpu, small + cl, "bfloat16", "")]
    if a.device == "cuda":
        rows.append(("fp16 autocast + GradScaler, channels-last", gpu, small + cl, "float16", ""))
    if a.compile_backend:
        rows.append((f"bf16 autocast, channels-last, compiled ({a.compile_backend})", gpu, small + cl, "bfloat16",
                     a.compile_backend))
    return rows


def measure(a) -> tuple[list[dict], str]:
    """The table rows and one summary line."""
    from fastreid_ext.engine.compile import is_compile_error

    rows, base, best = [], None, None
    for name, config, opts, amp, backend in variants(a):
        cfg = _cfg(config, a.device, opts)
        n = 2 * cfg.DATALOADER.IDS_PER_BATCH * cfg.DATALOADER.NUM_INSTANCES
        try:
            step = time_steps(cfg, amp, backend, a.warmup, a.steps)
        except Exception as e:  # noqa: BLE001 - a row that cannot run says why; the others still run
            if not (is_compile_error(e) or isinstance(e, (RuntimeError, FloatingPointError))):
                raise
            rows.append({"step": name, "batch": n, "ms": "-", "images/s": "-", "x today": f"{type(e).__name__}: {str(e)[:80]}"})
            continue
        rate = n / step
        base = base or rate
        if not name.startswith("today") and (best is None or rate > best[1]):
            best = (name, rate, step, cfg)
        rows.append({"step": name, "batch": n, "ms": round(1000 * step, 1), "images/s": round(rate, 1),
                     "x today": round(rate / base, 2)})
    if best is None:
        return rows, "no step of the GPU recipe ran"
    name, rate, step, cfg = best
    with tempfile.TemporaryDirectory(prefix="recipe_speed_") as tmp:
        from fastreid_ext.data.synthetic import generate_sysu

        h, w = (int(v) for v in a.loader_image_size.lower().split("x"))
        generate_sysu(os.path.join(tmp, "SYSU-MM01"), seed=0, num_ids=a.loader_ids, images_per_camera=a.loader_images,
                      height=h, width=w, progress=False)
        lcfg = cfg.clone()
        lcfg.defrost()
        if a.smoke:
            lcfg.merge_from_list(["DATALOADER.NUM_WORKERS", 0, "DATALOADER.PERSISTENT_WORKERS", False,
                                  "DATALOADER.PREFETCH_FACTOR", 0])
        loader = loader_rate(lcfg, tmp, a.warmup, a.loader_batches)
    n = 2 * cfg.DATALOADER.IDS_PER_BATCH * cfg.DATALOADER.NUM_INSTANCES
    iters = int(cfg.SOLVER.MAX_EPOCH) * (SYSU_TRAIN_VISIBLE // n + 1)
    rows.append({"step": f"loader: {lcfg.DATALOADER.NUM_WORKERS} workers, prefetch {lcfg.DATALOADER.PREFETCH_FACTOR}, "
                         f"{h}x{w} generated images", "batch": n, "ms": round(1000 * n / loader, 1),
                 "images/s": round(loader, 1), "x today": f"{loader / rate:.2f}x the fastest step"})
    summary = (f"fastest: {name}, {rate:.0f} images/s = {rate / base:.2f}x today's; loader {loader:.0f} images/s = "
               f"{loader / rate:.2f}x that step; projected full SYSU recipe: {iters} iterations x {1000 * step:.0f} ms "
               f"= {iters * step / 3600:.2f} h of steps (evaluation not included)")
    return rows, summary


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, runs anywhere in seconds; measures nothing")
    ap.add_argument("--device", default="", help="cuda | cpu (default: cuda when available)")
    ap.add_argument("--warmup", type=int, default=0, help="untimed steps / loader batches (default: 3, smoke 1)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default: 10, smoke 1)")
    ap.add_argument("--compile-backend", default=None,
                    help="torch.compile backend of the compiled row; '' = no compiled row (default: inductor, smoke eager)")
    ap.add_argument("--loader-batches", type=int, default=0, help="timed loader batches (default: 40, smoke 1)")
    ap.add_argument("--loader-image-size", default="", help="HxW of the generated images (default 432x216, smoke 64x32)")
    ap.add_argument("--loader-ids", type=int, default=40)
    ap.add_argument("--loader-images", type=int, default=0, help="images per camera and id (default 12, smoke 3)")
    ap.add_argument("--json", default="", help="also write the rows and the summary here")
    a = ap.parse_args(argv)
    a.device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    defaults = {"warmup": (3, 1), "steps": (10, 1), "loader_batches": (40, 1), "loader_images": (12, 3)}
    for key, (full, smoke) in defaults.items():
        if not getattr(a, key):
            setattr(a, key, smoke if a.smoke else full)
    if a.compile_backend is None:
        a.compile_backend = "eager" if a.smoke else "inductor"
    a.loader_image_size = a.loader_image_size or ("64x32" if a.smoke else "432x216")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    where = torch.cuda.get_device_name(0) if a.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"gpu_recipe_speed{' --smoke' if a.smoke else ''} on {where}, torch {torch.__version__}", flush=True)
    rows, summary = measure(a)
    print(tabulate(rows, headers="keys", tablefmt="pipe"))
    print(summary, flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "summary": summary, "smoke": a.smoke, "device": where}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
