"""GPU check: one line per check (PASS / FAIL / SKIP), under 8 minutes on one GPU.

Checks: the pytest tests marked ``gpu``; FAISS-GPU ranking against torch ranking on SYSU-sized
features (the metrics must agree; SKIP where faiss is not installed); two AMP (fp16 + GradScaler)
training steps of the baseline, the reference PAENet, the label-free PAENet and AGW + PAE/AAL; a
1-GPU NCCL process group with a DistributedDataParallel AMP step; a short train + evaluate run of
tools/train_net.py on a generated SYSU-MM01 on the GPU (ranking with faiss-gpu when installed);
train-step time and extraction images/s of the reference PAENet at 288x144; the GPU recipe's step
(configs/PAENet/sysu_gpu.yml, 8 x (4 + 4)) in fp32 vs AMP bf16/fp16 + channels-last (+ compile) and
its loader, with images/s and ratios (bench/gpu_recipe_speed.py). On a machine without CUDA every
check prints ``SKIP <check>: no CUDA device`` and the script exits 0.
Run from the repository root:

    PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_check.py
    PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_check.py --speed-only   # the speed figures only (~3 min)
    PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_check.py --smoke        # tiny, also on a CPU

Exit code 1 when a check fails. Random init everywhere (no weight download).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSU_QUERY, SYSU_GALLERY, SYSU_TEST_IDS = 3803, 3010, 96  # SYSU-MM01 all-search queries, multi-shot gallery, test ids


class Skip(Exception):
    """The check cannot run here (the line says why); not a failure."""


def _cfg(config_file: str, *opts):
    from fastreid_ext.config import load_config

    fixed = ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.PRETRAIN_PATH", "", "MODEL.WEIGHTS", "",
             "MODEL.DEVICE", "cuda", "MODEL.HEADS.NUM_CLASSES", 395]
    return load_config(os.path.join(REPO, config_file), fixed + list(opts))


def _batch(cfg, p: int, k: int, num_classes: int, size, generator: torch.Generator) -> dict:
    """A loader-shaped batch: p ids x (k visible + k infrared) random images with attributes."""
    h, w = size
    n_attr = max(int(cfg.MODEL.NUM_ATTRIBUTES), 1)
    ids = torch.randperm(num_classes, generator=generator)[:p].repeat_interleave(k)
    n = 2 * p * k
    return {"images": torch.randn(n, 3, h, w, generator=generator), "targets": torch.cat([ids, ids]),
            "camids": torch.ones(n, dtype=torch.long), "modality": torch.arange(n) // (p * k),
            "attributes": torch.randint(0, 2, (n, n_attr), generator=generator).float(),
            "attribute_mask": torch.ones(n, n_attr, dtype=torch.bool), "img_paths": [f"random_{i}.jpg" for i in range(n)]}


def _train_steps(model, cfg, steps: int, amp: bool) -> tuple[dict, float]:
    """``steps`` optimisation steps through the engine's SimpleTrainer; (last losses, last loss scale)."""
    from fastreid_ext.engine import SimpleTrainer
    from fastreid_ext.solver import build_optimizer

    inner = getattr(model, "module", model)
    batch = _batch(cfg, cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES, 395, cfg.INPUT.SIZE_TRAIN,
                   torch.Generator().manual_seed(0))
    trainer = SimpleTrainer(model, [batch] * steps, build_optimizer(cfg, inner), amp_enabled=amp,
                            amp_dtype="float16", device=torch.device("cuda"))
    trainer.train(0, steps)
    losses = {k: float(v.detach().float()) for k, v in trainer.loss_dict.items()}
    bad = [k for k, v in losses.items() if not torch.isfinite(torch.tensor(v))]
    bad += [n for n, p in inner.named_parameters() if not torch.isfinite(p).all()][:3]
    if bad:
        raise FloatingPointError(f"non-finite after {steps} AMP steps: {bad}")
    scale = trainer.grad_scaler.get_scale() if trainer.grad_scaler is not None else 1.0
    return losses, scale


# ----------------------------------------------------------------------------------------- checks
def check_gpu_tests(args) -> str:
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"],
                       cwd=REPO, capture_output=True, text=True, timeout=args.tests_timeout)
    summary = (p.stdout.strip().splitlines() or ["(no output)"])[-1]
    if p.returncode == 5:
        raise Skip(f"no test is marked gpu ({summary})")
    if p.returncode != 0:
        raise RuntimeError(f"pytest -m gpu exited {p.returncode}: {summary}")
    return summary


def check_faiss_vs_torch(args) -> str:
    from fastreid_ext.evaluation.faiss_search import resolve_backend

    try:
        backend = resolve_backend("faiss")
    except ImportError as e:
        raise Skip(f"faiss is not installed on this machine ({e.__cause__})") from e
    if backend != "faiss-gpu":
        raise RuntimeError("faiss sees no GPU (faiss-cpu installed instead of faiss-gpu?)")
    return faiss_vs_torch("cuda", backend)


def faiss_vs_torch(device: str, faiss_backend: str, num_query: int = SYSU_QUERY, num_gallery: int = SYSU_GALLERY,
                   dim: int = 2048) -> str:
    """SYSU-sized metrics from FAISS rankings and from torch distances on ``device``, which must agree
    (tests/engine/test_gpu_check_cpu.py runs it with faiss-cpu at a small size)."""
    from fastreid_ext.evaluation.distances import distance_sources, prepare_features
    from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, compute_metrics
    from fastreid_ext.evaluation.types import RankingOptions

    g = torch.Generator().manual_seed(0)
    centers = torch.randn(SYSU_TEST_IDS, dim, generator=g)
    q_pids = torch.randint(0, SYSU_TEST_IDS, (num_query,), generator=g)
    g_pids = torch.cat([torch.arange(SYSU_TEST_IDS),
                        torch.randint(0, SYSU_TEST_IDS, (num_gallery - SYSU_TEST_IDS,), generator=g)])
    signal = 0.22 * (2048 / dim) ** 0.25  # identity vs unit noise: Rank-1 about 70 %, mAP about 30 % at any dim
    qf = (signal * centers[q_pids] + torch.randn(num_query, dim, generator=g)).to(device)
    gf = (signal * centers[g_pids] + torch.randn(num_gallery, dim, generator=g)).to(device)
    q_cams = torch.tensor([3, 6])[torch.randint(0, 2, (num_query,), generator=g)].numpy()
    g_cams = torch.tensor([1, 2, 4, 5])[torch.randint(0, 4, (num_gallery,), generator=g)].numpy()
    out, times = {}, {}
    for name, backend in (("faiss", faiss_backend), ("torch", "torch")):
        opts = RankingOptions(backend=backend, distance="cosine", max_rank=20)
        t0 = time.perf_counter()
        source = next(distance_sources(*prepare_features(qf, gf, opts), None, opts))
        out[name] = compute_metrics(source, q_pids.numpy(), g_pids.numpy(), q_cams, g_cams, SYSU_REMOVAL, 20, True)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        times[name] = time.perf_counter() - t0
    a, b = out["faiss"], out["torch"]
    diff = max(float(abs(torch.as_tensor(a.cmc) - torch.as_tensor(b.cmc)).max()), abs(a.mAP - b.mAP), abs(a.mINP - b.mINP))
    line = (f"{num_query}x{num_gallery}x{dim}: Rank-1 {100 * a.cmc[0]:.2f} / {100 * b.cmc[0]:.2f}, mAP "
            f"{100 * a.mAP:.2f} / {100 * b.mAP:.2f} ({faiss_backend} / torch), max diff {diff:.1e}; "
            f"{times['faiss']:.2f}s / {times['torch']:.2f}s")
    if diff > 1e-4:
        raise AssertionError(f"metrics differ: {line}")
    return line


def _check_amp(config_file: str) -> Callable:
    def check(args) -> str:
        from fastreid_ext.modeling import build_model

        cfg = _cfg(config_file, "SOLVER.AMP.ENABLED", True)
        model = build_model(cfg).train()
        losses, scale = _train_steps(model, cfg, steps=2, amp=True)
        return f"{cfg.MODEL.META_ARCHITECTURE}: losses {json.dumps({k: round(v, 3) for k, v in losses.items()})}, " \
               f"loss scale {scale:g}"
    return check


def check_nccl(args) -> str:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from fastreid_ext.modeling import build_model

    if not dist.is_nccl_available():
        raise RuntimeError("this torch build has no NCCL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", world_size=1, rank=0)
    try:
        t = torch.arange(4.0, device="cuda")
        dist.all_reduce(t)
        if t.tolist() != [0.0, 1.0, 2.0, 3.0]:
            raise AssertionError(f"all_reduce over 1 rank changed the tensor: {t.tolist()}")
        cfg = _cfg("configs/Baseline/sysu.yml", "SOLVER.AMP.ENABLED", True)
        ddp = DistributedDataParallel(build_model(cfg).train(), device_ids=[0], broadcast_buffers=False)
        losses, _ = _train_steps(ddp, cfg, steps=2, amp=True)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return f"backend {dist.Backend.NCCL}, all_reduce ok, DDP AMP step of the baseline: total loss {sum(losses.values()):.3f}"


def check_train_run(args) -> str:
    from fastreid_ext.data.synthetic import generate_sysu
    from fastreid_ext.evaluation.faiss_search import resolve_backend

    backend = resolve_backend("auto")  # faiss-gpu where faiss is installed, else the torch ranking on the GPU

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        generate_sysu(os.path.join(tmp, "SYSU-MM01"), seed=0, num_ids=24, images_per_camera=3, height=128,
                      width=64, progress=False)
        out = os.path.join(tmp, "out")
        opts = ["DATASETS.ROOT", tmp, "OUTPUT_DIR", out, "MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cuda",
                "SOLVER.MAX_EPOCH", "2", "SOLVER.WARMUP_EPOCHS", "1", "SOLVER.STEPS", "[1]", "SOLVER.AMP.ENABLED", "True",
                "DATALOADER.ITERS_PER_EPOCH", "3", "DATALOADER.NUM_WORKERS", "2", "TEST.EVAL_PERIOD", "0",
                "TEST.SYSU.NUM_TRIALS", "2", "TEST.RANKING.BACKEND", backend]
        p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
                            os.path.join(REPO, "configs", "Baseline", "sysu.yml"), *opts], cwd=REPO,
                           capture_output=True, text=True, timeout=args.run_timeout)
        if p.returncode != 0:
            last = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            raise RuntimeError(f"tools/train_net.py exited {p.returncode}: {last}")
        missing = [f for f in ("model_final.pth", "results.json") if not os.path.isfile(os.path.join(out, f))]
        if missing:
            raise AssertionError(f"the run wrote no {missing}")
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f).get("results", {})
        r1 = {k: round(v["FC/Rank-1"], 2) for k, v in results.items() if "FC/Rank-1" in v}
        return f"baseline, 6 iterations + full SYSU evaluation (ranking {backend}): FC Rank-1 {r1}"


def check_paenet_speed(args) -> str:
    from fastreid_ext.modeling import build_model
    from fastreid_ext.solver import build_optimizer

    cfg = _cfg("configs/PAENet/sysu.yml")
    if tuple(cfg.INPUT.SIZE_TRAIN) != (288, 144):
        raise AssertionError(f"configs/PAENet/sysu.yml trains at {cfg.INPUT.SIZE_TRAIN}, expected 288x144")
    model = build_model(cfg).train()
    opt = build_optimizer(cfg, model)
    g = torch.Generator().manual_seed(0)
    p, k = cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES
    batch = _batch(cfg, p, k, 395, cfg.INPUT.SIZE_TRAIN, g)
    times = []
    for i in range(3 + 5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = sum(model(batch).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    model.eval()
    n = int(cfg.TEST.IMS_PER_BATCH)
    ev = _batch(cfg, 1, n // 2, 395, cfg.INPUT.SIZE_TEST, g)
    ev["attribute_source"] = "gt"
    rates = []
    with torch.no_grad():
        for i in range(2 + 10):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(ev)
            torch.cuda.synchronize()
            if i >= 2:
                rates.append(len(ev["targets"]) / (time.perf_counter() - t0))
    return (f"reference PAENet, fp32: train step {1000 * step:.0f} ms for {2 * p * k} images at 288x144 "
            f"(median of 5); extraction {statistics.median(rates):.0f} images/s (batch {len(ev['targets'])}, "
            f"host-to-device copy included)")


def _recipe_speed_module():
    """bench/gpu_recipe_speed.py, loaded from beside this file (bench/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_recipe_speed", os.path.join(REPO, "bench", "gpu_recipe_speed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_recipe_speed(args) -> str:
    """The GPU recipe's step (fp32 vs AMP bf16/fp16 + channels-last, + compile) and loader; table, then summary."""
    speed = _recipe_speed_module()
    rows, summary = speed.measure(speed.parse_args(["--smoke"] if args.smoke else []))
    from tabulate import tabulate

    print(tabulate(rows, headers="keys", tablefmt="pipe"), flush=True)
    return summary


CHECKS: list[tuple[str, Callable]] = [
    ("gpu-marked tests", check_gpu_tests),
    ("faiss-gpu vs torch ranking", check_faiss_vs_torch),
    ("AMP step baseline", _check_amp("configs/Baseline/sysu.yml")),
    ("AMP step PAENet", _check_amp("configs/PAENet/sysu.yml")),
    ("AMP step PAENet label-free", _check_amp("configs/PAENet/sysu_labelfree.yml")),
    ("AMP step AGW + PAE/AAL", _check_amp("configs/PAENet/agw_sysu.yml")),
    ("1-GPU NCCL + DDP step", check_nccl),
    ("train + eval run on 1 GPU", check_train_run),
    ("PAENet speed 288x144", check_paenet_speed),
    ("GPU recipe speed 8x(4+4)", check_recipe_speed),
]
SPEED_CHECK = "GPU recipe speed 8x(4+4)"


def _run(checks, cuda: bool, args) -> int:
    """Every check, one line each; the number of failures."""
    failed, start = 0, time.perf_counter()
    for name, fn in checks:
        t0 = time.perf_counter()
        try:
            status, detail = "PASS", fn(args)
        except Skip as e:
            status, detail = "SKIP", str(e)
        except Exception as e:  # noqa: BLE001 - every failure becomes its line; the other checks still run
            status, detail = "FAIL", f"{type(e).__name__}: {' '.join(str(e).split())[:400]}"
            failed += 1
        finally:
            if cuda:
                torch.cuda.empty_cache()
        print(f"{status} {name}: {detail} ({time.perf_counter() - t0:.1f}s)", flush=True)
    print(f"gpu_check: {len(checks) - failed} of {len(checks)} checks without failure in "
          f"{time.perf_counter() - start:.0f}s", flush=True)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests-timeout", type=int, default=150, help="seconds for the gpu-marked tests")
    parser.add_argument("--run-timeout", type=int, default=180, help="seconds for the train + eval run")
    parser.add_argument("--speed-only", action="store_true",
                        help=f"only '{SPEED_CHECK}' (bench/gpu_recipe_speed.py): step and loader images/s, ratios")
    parser.add_argument("--smoke", action="store_true",
                        help=f"only '{SPEED_CHECK}' at tiny sizes, on the CPU when there is no GPU (checks the script)")
    args = parser.parse_args(argv)
    checks = [(n, fn) for n, fn in CHECKS if n == SPEED_CHECK] if (args.speed_only or args.smoke) else CHECKS
    cuda = torch.cuda.is_available()
    if args.smoke:
        print(f"gpu_check --smoke on {torch.cuda.get_device_name(0) if cuda else 'cpu'}, torch {torch.__version__}",
              flush=True)
        return 1 if _run(checks, cuda, args) else 0
    if not cuda:
        for name, _ in checks:
            print(f"SKIP {name}: no CUDA device", flush=True)
        return 0
    print(f"gpu_check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    return 1 if _run(checks, cuda, args) else 0


if __name__ == "__main__":
    sys.exit(main())
