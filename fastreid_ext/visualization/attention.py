"""Grad-CAM activation maps of models on the same images (e.g. baseline vs PAENet).

Method: Grad-CAM (Selvaraju et al., ICCV 2017) on the output of the last backbone stage (``layer4``).
That stage's map is what the retrieval feature is pooled from, so it shows where the feature comes
from at the finest semantic level the model has; plain activation maps ignore which channels matter
to the feature, and gradients of earlier stages are too local. Re-identification has no class at
test time, so the score differentiated is the squared norm of the pooled feature ``POOL`` (before the
BNNeck: non-negative, so its gradient highlights the regions that build the feature; after the neck
the eval-mode BN shift makes the sign arbitrary). It is class-agnostic: the same for any identity,
seen or not, and for any model returning that output.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.errors import UserError
from .curves import _save, new_figure

__all__ = ["last_stage", "grad_cam", "attention_figure", "plot_attention", "MIN_MAP_SIZE"]

logger = logging.getLogger(__name__)
# Below this (height, width) the upsampled map is a ramp between a few values, not a localisation.
MIN_MAP_SIZE = (4, 2)


def check_map_size(size, where: str = "") -> bool:
    """Warn (once per call) when a Grad-CAM map is smaller than :data:`MIN_MAP_SIZE`; True when it is."""
    h, w = int(size[0]), int(size[1])
    if h < MIN_MAP_SIZE[0] or w < MIN_MAP_SIZE[1]:
        logger.warning("Grad-CAM map%s is %dx%d (height x width), smaller than %dx%d: the figure only shows a "
                       "coarse ramp; use a larger INPUT.SIZE_TEST (e.g. 288x144 gives 18x9 at layer4).",
                       f" of {where}" if where else "", h, w, *MIN_MAP_SIZE)
        return True
    return False


def last_stage(model: torch.nn.Module, name: str = "layer4") -> torch.nn.Module:
    """The last module whose qualified name ends with ``name`` (e.g. ``backbone.shared.layer4``)."""
    found = [m for n, m in model.named_modules() if n == name or n.endswith("." + name)]
    if not found:
        raise UserError(f"The model has no module named '*{name}' for Grad-CAM.")
    return found[-1]


def grad_cam(model: torch.nn.Module, batch: dict, feature: str = "POOL", stage: str = "layer4",
             sizes: list | None = None) -> torch.Tensor:
    """(B, H, W) maps in [0, 1] at the batch's image size; the stage's own map size is appended to
    ``sizes`` when given, and a map smaller than :data:`MIN_MAP_SIZE` is warned about."""
    layer = last_stage(model, stage)
    store = {}

    def hook(_module, _inputs, output):
        output.retain_grad()
        store["act"] = output

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            images = batch["images"].clone().requires_grad_(True)  # a graph even with frozen parameters
            outputs = model(dict(batch, images=images))
            if feature not in outputs:
                raise UserError(f"The model returns no output {feature!r} (it returns {sorted(outputs)}).")
            outputs[feature].float().pow(2).sum().backward()
    finally:
        handle.remove()
        model.train(was_training)
    act, grad = store["act"], store["act"].grad
    check_map_size(act.shape[-2:], stage)
    if sizes is not None:
        sizes.append(tuple(int(v) for v in act.shape[-2:]))
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=batch["images"].shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo, hi = cam.flatten(1).min(1).values[:, None, None], cam.flatten(1).max(1).values[:, None, None]
    return ((cam - lo) / (hi - lo).clamp_min(1e-12)).detach().cpu()


def attention_figure(rgb, cams, labels, modalities, map_sizes=None):
    """Rows = images, columns = the image then one overlay per model: the image in grey with the
    Grad-CAM map (jet, half transparent) over it, and one colour bar for the shared [0, 1] scale.
    ``rgb``: HxWx3 uint8 images; ``cams``: per model, (B, h, w) maps; ``map_sizes``: per model, the
    stage's map size (in the column title)."""
    h, w = cams[0].shape[-2:]
    fig = new_figure(1.6 * (1 + len(cams)) + 0.8, 3.0 * len(rgb))
    axes = np.array(fig.subplots(len(rgb), 1 + len(cams))).reshape(len(rgb), -1)
    mappable = None
    for i, img in enumerate(rgb):
        small = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
        small = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy() / 255
        axes[i, 0].imshow(small)
        axes[i, 0].set_title(modalities[i] if i == 0 or modalities[i] != modalities[i - 1] else "", fontsize=8)
        grey = small.mean(axis=2)
        for j, cam in enumerate(cams):
            ax = axes[i, j + 1]
            ax.imshow(grey, cmap="gray", vmin=0.0, vmax=1.0)
            mappable = ax.imshow(cam[i].numpy(), cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
            if i == 0:
                size = f" ({map_sizes[j][0]}x{map_sizes[j][1]} map)" if map_sizes else ""
                ax.set_title(f"{labels[j]}{size}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    bar = fig.colorbar(mappable, ax=list(axes.ravel()), fraction=0.04, pad=0.02)
    bar.set_label("Grad-CAM (normalised per image)")
    return fig


def plot_attention(predictors, labels, images, modalities, out: str, attribute_source=None, dpi: int = 100) -> str:
    """:func:`attention_figure` of ``predictors``
    (:class:`~fastreid_ext.engine.predictor.DefaultPredictor` objects, same test transform expected)."""
    from ..data.common import read_image  # noqa: PLC0415

    if len(predictors) != len(labels):
        raise UserError(f"{len(predictors)} models but {len(labels)} labels.")
    rgb = [read_image(p) for p in images]
    cams, sizes = [], []
    for pred in predictors:
        batch = pred.batch(images, modalities, attribute_source=attribute_source)
        cams.append(grad_cam(pred.model, batch, sizes=sizes))
    return _save(attention_figure(rgb, cams, labels, modalities, sizes), out, dpi)
