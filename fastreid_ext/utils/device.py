"""Resolve the configured device once, so no code calls ``.cuda()`` directly."""
from __future__ import annotations

import torch

from .errors import UserError

__all__ = ["resolve_device"]


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → cuda when available, else cpu; any other torch device string as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise UserError(f"MODEL.DEVICE is '{name}'; expected 'auto', 'cpu', 'cuda' or 'cuda:<index>' ({e}).") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"MODEL.DEVICE is '{name}' but CUDA is not available on this machine (torch "
                        f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use 'cpu' or 'auto'.")
    return device
