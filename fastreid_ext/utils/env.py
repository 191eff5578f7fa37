"""Seeding (python, numpy, torch; per rank and per loader worker) and the environment report logged at start."""
from __future__ import annotations

import os
import platform
import random
import sys

import numpy as np
import torch

__all__ = ["seed_all_rng", "collect_env_info", "get_rng_state", "set_rng_state"]


def seed_all_rng(seed: int | None = None) -> int:
    """Seed python, numpy and torch; ``None`` or a negative seed draws one (returned, so it can be logged)."""
    if seed is None or seed < 0:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def get_rng_state() -> dict:
    """Python, numpy and torch (cpu and cuda) generator states, for exact resume."""
    # Only ints, tuples and tensors, so a checkpoint holding it loads with weights_only=True.
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_as_python_state(state["python"]))
    np.random.set_state(_as_numpy_state(state["numpy"]))
    torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _as_python_state(s):
    # a checkpoint loaded with weights_only turns the tuples into lists
    return (s[0], tuple(s[1]), s[2]) if isinstance(s, (list, tuple)) else s


def _as_numpy_state(s):
    if isinstance(s, dict):
        return s
    keys = s[1].numpy() if isinstance(s[1], torch.Tensor) else np.asarray(s[1])
    return (s[0], keys.astype(np.uint32), int(s[2]), int(s[3]), float(s[4]))


def collect_env_info() -> str:
    """A table of versions: python, torch, CUDA, cuDNN, GPUs, faiss and its GPU count, fvcore, numpy, cv2."""
    from tabulate import tabulate

    rows = [("sys.platform", sys.platform), ("Python", sys.version.replace("\n", "")),
            ("machine", platform.machine()), ("numpy", np.__version__),
            ("PyTorch", f"{torch.__version__} @{os.path.dirname(torch.__file__)}"),
            ("PyTorch CUDA build", torch.version.cuda or "none"),
            ("CUDA available", torch.cuda.is_available())]
    if torch.cuda.is_available():
        rows.append(("cuDNN", torch.backends.cudnn.version()))
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
    try:
        import torchvision

        rows.append(("torchvision", torchvision.__version__))
    except ImportError:
        rows.append(("torchvision", "not installed"))
    try:
        import faiss  # lazy: a broken faiss must not break importing the toolkit

        ngpu = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
        rows.append(("faiss", f"{getattr(faiss, '__version__', '?')} (GPUs visible to faiss: {ngpu})"))
    except Exception as e:  # noqa: BLE001 - report, never fail
        rows.append(("faiss", f"unavailable ({type(e).__name__}: {e})"))
    for mod in ("fvcore", "cv2"):
        try:
            rows.append((mod, __import__(mod).__version__))
        except Exception:  # noqa: BLE001
            rows.append((mod, "unavailable"))
    return tabulate(rows)


def import_fvcore_nn():
    """``fvcore.nn``, imported without the FutureWarning its package import triggers on recent torch
    (fvcore scripts a loss with ``torch.jit.script`` at import): it is not ours to fix and would be the
    first line of every run's stderr."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
        return importlib.import_module("fvcore.nn")
