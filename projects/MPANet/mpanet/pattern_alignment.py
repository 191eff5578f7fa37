"""Pattern alignment module: NUM_PARTS sigmoid masks from a 1x1 conv of the final map, one pooled
feature per mask, concatenated with the globally pooled map; a separation loss keeps the masks apart."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatternAlignment", "mask_separation_loss"]


def mask_separation_loss(masks: torch.Tensor) -> torch.Tensor:
    """Mean over images and mask pairs i < j of <m_i, m_j> (the masks flattened over space): the
    public ``p-reg`` term, which is 0 only when no two masks overlap."""
    b, p = masks.shape[:2]
    flat = masks.reshape(b, p, -1)
    gram = torch.bmm(flat, flat.transpose(1, 2))
    return torch.triu(gram, diagonal=1).sum() / (b * p * (p - 1) / 2)


class PatternAlignment(nn.Module):
    """``forward(fmap) -> (features B x (P+1)C as [part_1 … part_P, global], masks B x P x h x w)``.
    The 1x1 conv is the public ``spatial_attention`` (bias initialised to 0)."""

    def __init__(self, channels: int, num_parts: int = 6):
        super().__init__()
        if num_parts < 2:
            raise ValueError(f"MPANET.NUM_PARTS is {num_parts}; the separation loss needs at least 2 patterns.")
        self.num_parts = num_parts
        self.spatial_attention = nn.Conv2d(channels, num_parts, kernel_size=1, bias=True)
        nn.init.zeros_(self.spatial_attention.bias)

    @property
    def out_dim_factor(self) -> int:
        return self.num_parts + 1

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masks = torch.sigmoid(self.spatial_attention(fmap))
        # part i = spatial mean of mask_i * fmap; all parts at once: (B,P,hw) @ (B,hw,C) / hw
        b, c = fmap.shape[:2]
        flat = fmap.reshape(b, c, -1)
        parts = torch.bmm(masks.reshape(b, self.num_parts, -1), flat.transpose(1, 2)) / flat.shape[-1]
        feats = torch.cat([parts.reshape(b, -1), flat.mean(-1)], dim=1)
        return feats, masks
