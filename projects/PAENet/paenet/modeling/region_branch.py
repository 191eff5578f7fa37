"""The identity ("region") feature computed from the map F and the attribute gates (Eq. 10).

Reference (official ``region``): ``W2 = sigmoid(BN2d(F ⊙ g))``, ``f_id = GeM(sigmoid(F ⊙ W2))``
(the extra sigmoid makes f_id lie in [0.5, 1)); BN2d has its bias frozen, as officially.
Paper: ``W2 = sigmoid(mean_i F ⊙ w_i)``, ``f_id = GeM(W2 ⊙ F)``, no parameters.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ReferenceRegionBranch", "PaperRegionBranch"]


class ReferenceRegionBranch(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(dim)
        self.bn.bias.requires_grad_(False)

    def forward(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        g = gates.mean(1)[:, :, None, None]
        w2 = torch.sigmoid(self.bn(fmap * g))
        return pool(torch.sigmoid(fmap * w2))


class PaperRegionBranch(nn.Module):
    def forward(self, fmap: torch.Tensor, gates: torch.Tensor, pool: nn.Module) -> torch.Tensor:
        w2 = torch.sigmoid(fmap * gates.mean(1)[:, :, None, None])
        return pool(w2 * fmap)
