"""Per-camera looks: visible cameras (background colours, colour cast, gain) and infrared ones
(background temperature, gain), so each camera has its own domain as in the real datasets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CameraStyle", "camera_style"]


@dataclass(frozen=True)
class CameraStyle:
    modality: str  # "visible" | "infrared"
    background: tuple  # RGB (visible) or a grey level repeated (infrared)
    background2: tuple  # gradient end colour
    cast: tuple  # per-channel gain (visible); (g, g, g) for infrared
    gamma: float
    clutter: int  # max clutter rectangles per image
    outdoor: bool


def camera_style(camid: int, modality: str, outdoor: bool, seed: int) -> CameraStyle:
    """A deterministic style for camera ``camid`` (seeded so datasets of other seeds differ)."""
    rng = np.random.default_rng([seed, 7919, camid])
    if modality == "visible":
        if outdoor:
            bg = tuple(int(v) for v in rng.integers([90, 100, 80], [160, 170, 150]))
            cast = (rng.uniform(0.9, 1.05), rng.uniform(0.95, 1.1), rng.uniform(0.95, 1.2))
        else:
            bg = tuple(int(v) for v in rng.integers([120, 110, 90], [220, 210, 200]))
            cast = (rng.uniform(1.0, 1.2), rng.uniform(0.9, 1.05), rng.uniform(0.7, 0.95))
        bg2 = tuple(int(np.clip(v * rng.uniform(0.5, 1.3), 0, 255)) for v in bg)
        return CameraStyle(modality, bg, bg2, cast, rng.uniform(0.8, 1.25), 4, outdoor)
    level = int(rng.integers(25, 60) if outdoor else rng.integers(50, 95))
    lvl2 = int(np.clip(level + rng.integers(-25, 25), 0, 255))
    g = rng.uniform(0.85, 1.1)
    return CameraStyle(modality, (level,) * 3, (lvl2,) * 3, (g, g, g), rng.uniform(0.9, 1.15), 2, outdoor)
