"""Render one identity's image for one camera and write it as the real datasets store it."""
from __future__ import annotations

import cv2
import numpy as np

from .cameras import CameraStyle
from .identity import IdentityTraits
from .render import frame_size, render_person

__all__ = ["write_image"]


def write_image(path: str, traits: IdentityTraits, style: CameraStyle, rng: np.random.Generator,
                height: int, width: int, pose: dict | None = None, spread: float = 0.2) -> None:
    """Visible → colour file; infrared → the heat image replicated into 3 equal channels."""
    img = render_person(traits, style, rng, frame_size(rng, height, width, spread), pose)
    img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if path.lower().endswith((".jpg", ".jpeg")) else []
    if not cv2.imwrite(path, img, params):
        raise OSError(f"Could not write synthetic image {path}.")
