"""Grad-CAM figure content: each overlay holds the image and a half-transparent jet map on one [0, 1]
scale, with a colour bar; a map smaller than 4x2 (the demo's 2x1 layer4) is warned about, a larger one not."""
import logging

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("matplotlib")
from fastreid_ext.visualization.attention import attention_figure, grad_cam  # noqa: E402


class StrideModel(nn.Module):
    """A 'layer4' whose map is the image size / ``stride``; POOL = its pooled output."""

    def __init__(self, stride):
        super().__init__()
        self.layer4 = nn.Conv2d(3, 4, kernel_size=stride, stride=stride)

    def forward(self, batch):
        return {"POOL": self.layer4(batch["images"]).relu().mean(dim=(2, 3))}


@pytest.mark.parametrize("stride,size,warned", [(32, (2, 1), True), (8, (8, 4), False)])
def test_small_maps_are_warned_about(caplog, stride, size, warned):
    torch.manual_seed(0)
    sizes = []
    with caplog.at_level(logging.WARNING, logger="fastreid_ext.visualization.attention"):
        cam = grad_cam(StrideModel(stride), {"images": torch.rand(2, 3, 64, 32)}, sizes=sizes)
    assert cam.shape == (2, 64, 32) and float(cam.min()) >= 0.0 and float(cam.max()) <= 1.0
    assert sizes == [size]
    assert ("smaller than 4x2" in caplog.text) == warned


def test_overlay_and_colour_bar():
    rng = np.random.default_rng(0)
    rgb = [rng.integers(0, 255, (64, 32, 3), dtype=np.uint8) for _ in range(2)]
    cams = [torch.rand(2, 64, 32), torch.rand(2, 64, 32)]
    fig = attention_figure(rgb, cams, ["baseline", "PAENet"], ["visible", "infrared"], [(8, 4), (8, 4)])
    image_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(image_axes) == 2 * 3 and len(bars) == 1
    assert "Grad-CAM" in bars[0].get_ylabel()
    grid = np.array(image_axes).reshape(2, 3)
    for row in grid:
        assert len(row[0].images) == 1  # the image alone
        for ax in row[1:]:
            base, heat = ax.images
            assert base.get_cmap().name == "gray" and heat.get_cmap().name == "jet" and heat.get_alpha() == 0.5
            assert heat.get_clim() == (0.0, 1.0)
    assert grid[0, 1].get_title() == "baseline (8x4 map)" and grid[0, 2].get_title() == "PAENet (8x4 map)"
