"""SwitchNorm1d as the official PAENet code uses it to normalise the attribute vector.

Kept bit-for-bit (it is not PyTorch's BatchNorm): the per-sample (layer) and per-batch statistics
use the *unbiased* variance and are mixed by two learnable softmax pairs; the running statistics
follow ``running = m·running + (1-m)·batch`` with m = 0.997 weighing the *old* value, and
``running_var`` starts at 0. Eval mode uses the running batch statistics and still the per-sample
ones. Buffer and parameter names and shapes (``weight``/``bias`` 1×n) match the official state dict.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["SwitchNorm1d"]


class SwitchNorm1d(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.997):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(1, num_features))
        self.bias = nn.Parameter(torch.zeros(1, num_features))
        self.mean_weight = nn.Parameter(torch.ones(2))
        self.var_weight = nn.Parameter(torch.ones(2))
        self.register_buffer("running_mean", torch.zeros(1, num_features))
        self.register_buffer("running_var", torch.zeros(1, num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SwitchNorm1d expects B×{self.num_features}, got {tuple(x.shape)}")
        mean_ln = x.mean(1, keepdim=True)
        var_ln = x.var(1, keepdim=True)
        if self.training:
            if x.shape[0] < 2:
                raise ValueError("SwitchNorm1d needs at least 2 samples per batch in training mode")
            mean_bn = x.mean(0, keepdim=True)
            var_bn = x.var(0, keepdim=True)
            with torch.no_grad():
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean_bn)
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var_bn)
        else:
            mean_bn, var_bn = self.running_mean, self.running_var
        mw = torch.softmax(self.mean_weight, 0)
        vw = torch.softmax(self.var_weight, 0)
        mean = mw[0] * mean_ln + mw[1] * mean_bn
        var = vw[0] * var_ln + vw[1] * var_bn
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias
