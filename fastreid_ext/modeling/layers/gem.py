"""Generalised-mean pooling, as the reference computes it (docs/protocols.md#gem)."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["GeM"]


class GeM(nn.Module):
    """``((1/HW) Σ x^p + 1e-12)^(1/p)`` per channel → B×C.

    With a fixed ``p`` (the reference: p = 3, inputs ≥ 0) the formula is kept exact, with no clamp,
    and ``p`` is a plain attribute so it does not appear in the state dict (official checkpoints
    have no such key). A learnable ``p`` is a parameter, and the input is clamped to ``clamp_eps``
    so that non-integer powers of zero or negative values stay finite.
    """

    def __init__(self, p: float = 3.0, learnable: bool = False, eps: float = 1e-12, clamp_eps: float = 1e-6):
        super().__init__()
        if p <= 0:
            raise ValueError(f"MODEL.HEADS.GEM_P must be > 0; got {p}.")
        self.learnable = learnable
        self.eps = eps
        self.clamp_eps = clamp_eps
        if learnable:
            self.p = nn.Parameter(torch.tensor(float(p)))
        else:
            self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.learnable:
            x = x.clamp(min=self.clamp_eps)
        x = x.flatten(2)
        return (x.pow(self.p).mean(dim=-1) + self.eps).pow(1.0 / self.p)

    def extra_repr(self) -> str:
        p = float(self.p.detach()) if self.learnable else self.p
        return f"p={p:.4g}, learnable={self.learnable}"
