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

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.errors import UserError
from .curves import _save, new_figure

__all__ = ["last_stage", "grad_cam", "plot_attention"]


def last_stage(model: torch.nn.Module, name: str = "layer4") -> torch.nn.Module:
    """The last module whose qualified name ends with ``name`` (e.g. ``backbone.shared.layer4``)."""
    found = [m for n, m in model.named_modules() if n == name or n.endswith("." + name)]
    if not found:
        raise UserError(f"The model has no module named '*{name}' for Grad-CAM.")
    return found[-1]


def grad_cam(model: torch.nn.Module, batch: dict, feature: str = "POOL", stage: str = "layer4") -> torch.Tensor:
    """(B, H, W) maps in [0, 1] at the batch's image size."""
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
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=batch["images"].shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo, hi = cam.flatten(1).min(1).values[:, None, None], cam.flatten(1).max(1).values[:, None, None]
    return ((cam - lo) / (hi - lo).clamp_min(1e-12)).detach().cpu()


def plot_attention(predictors, labels, images, modalities, out: str, attribute_source=None, dpi: int = 100) -> str:
    """Rows = images, columns = the image then one Grad-CAM overlay per model (``predictors``:
    :class:`~fastreid_ext.engine.predictor.DefaultPredictor` objects, same test transform expected)."""
    from ..data.common import read_image  # noqa: PLC0415

    if len(predictors) != len(labels):
        raise UserError(f"{len(predictors)} models but {len(labels)} labels.")
    rgb = [read_image(p) for p in images]
    cams = []
    for pred in predictors:
        batch = pred.batch(images, modalities, attribute_source=attribute_source)
        cams.append(grad_cam(pred.model, batch))
    h, w = cams[0].shape[-2:]
    fig = new_figure(1.6 * (1 + len(predictors)), 3.0 * len(images))
    axes = np.array(fig.subplots(len(images), 1 + len(predictors))).reshape(len(images), -1)
    import matplotlib  # noqa: PLC0415

    jet = matplotlib.colormaps["jet"]
    for i, img in enumerate(rgb):
        small = torch.from_numpy(img).permute(2, 0, 1)[None].float()
        small = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy() / 255
        axes[i, 0].imshow(small)
        axes[i, 0].set_title(modalities[i] if i == 0 or modalities[i] != modalities[i - 1] else "", fontsize=8)
        for j, cam in enumerate(cams):
            overlay = 0.5 * small + 0.5 * jet(cam[i].numpy())[..., :3]
            axes[i, j + 1].imshow(overlay)
            if i == 0:
                axes[i, j + 1].set_title(labels[j], fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, out, dpi)
