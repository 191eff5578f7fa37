"""Resolve the configured device once, so no code calls ``.cuda()`` directly."""
from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → cuda when available, else cpu; any other torch device string as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"MODEL.DEVICE is '{name}' but CUDA is not available; use 'cpu' or 'auto'.")
    return device
