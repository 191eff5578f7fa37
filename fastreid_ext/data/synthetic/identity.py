"""Identity traits of a synthetic person: the 8 PAENet attributes plus what makes an id unique.

Hue only exists in the visible palette. The near-infrared palette (render.py) is built from each
part's visible luminance and its material, so brightness and texture carry across modalities
(partly) while colour cannot; shape and attributes are drawn identically in both.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

__all__ = ["IdentityTraits", "sample_identity", "luminance", "PATTERNS", "MATERIAL_NIR"]

PATTERNS = ("plain", "hstripes", "vstripes", "checks", "dots")
# Near-infrared reflectance of clothing materials (0-255 scale before camera gain): the part of an
# infrared level that the visible colour does not predict.
MATERIAL_NIR = {"cotton": 165, "wool": 120, "synthetic": 185, "denim": 140, "leather": 90}
# A pattern's two colours differ at least this much in luminance, so the print shows in both modalities.
MIN_PATTERN_LUMA = 70.0


def luminance(rgb) -> float:
    """Rec. 601 luma of an RGB triple (0-255)."""
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def _hsv(h, s, v):
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


@dataclass(frozen=True)
class IdentityTraits:
    attributes: tuple  # 8 ints, order and polarity of docs/protocols.md#sysu-attributes
    height: float  # person height as a fraction of the frame
    shoulder: float  # half shoulder width / height
    hip: float  # half hip width / height
    head: float  # head radius / height
    torso: float  # hip line / height
    limb: float  # limb half-thickness / height
    skin: tuple
    hair: tuple
    top: tuple
    top2: tuple  # pattern colour
    top_pattern: str
    top_period: float
    bottom: tuple
    bottom_pattern: str
    shoes: tuple
    top_material: str
    bottom_material: str
    bag: tuple
    bag_material: str
    bag_size: float
    satchel_side: int  # -1 left, 1 right
    skin_nir: int


def sample_identity(rng: np.random.Generator) -> IdentityTraits:
    female = int(rng.random() < 0.45)
    long_hair = int(rng.random() < (0.75 if female else 0.08))
    glasses = int(rng.random() < 0.25)
    long_sleeve = int(rng.random() < 0.45)
    skirt = int(female and rng.random() < 0.45)
    long_lower = int(rng.random() < (0.4 if skirt else 0.72))
    backpack = int(rng.random() < 0.35)
    satchel = int(rng.random() < (0.4 if not backpack else 0.15))
    attrs = (female, long_hair, glasses, long_sleeve, skirt, long_lower, backpack, satchel)
    skin_v = rng.uniform(0.45, 0.95)
    hair_choice = rng.integers(4)
    hair = [_hsv(0.07, 0.5, 0.12), _hsv(0.07, 0.6, 0.3), _hsv(0.12, 0.55, 0.75), _hsv(0.0, 0.0, 0.55)][hair_choice]
    top_h = rng.random()
    top = _hsv(top_h, rng.uniform(0.2, 1.0), rng.uniform(0.25, 1.0))
    top2 = top
    for _ in range(32):  # a contrasting second colour (deterministic: the same draws for the same rng)
        top2 = _hsv(top_h + rng.uniform(0.25, 0.75), rng.uniform(0.0, 1.0), rng.uniform(0.05, 1.0))
        if abs(luminance(top2) - luminance(top)) >= MIN_PATTERN_LUMA:
            break
    else:
        top2 = (20, 20, 20) if luminance(top) > 128 else (235, 235, 235)
    mats = list(MATERIAL_NIR)
    return IdentityTraits(
        attributes=attrs,
        height=rng.uniform(0.82, 0.96),
        shoulder=rng.uniform(0.10, 0.125) if female else rng.uniform(0.12, 0.15),
        hip=rng.uniform(0.095, 0.115) if female else rng.uniform(0.08, 0.1),
        head=rng.uniform(0.062, 0.078),
        torso=rng.uniform(0.49, 0.55),
        limb=rng.uniform(0.024, 0.034),
        skin=_hsv(0.07, rng.uniform(0.3, 0.55), skin_v),
        hair=hair,
        top=top,
        top2=top2,
        top_pattern=str(rng.choice(PATTERNS, p=[0.3, 0.2, 0.2, 0.15, 0.15])),
        top_period=rng.uniform(0.045, 0.09),  # legible at 64 px: >= ~2.5 px per stripe
        bottom=_hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.85)),
        bottom_pattern=str(rng.choice(["plain", "denim"], p=[0.6, 0.4])),
        shoes=_hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.05, 0.9)),
        top_material=str(rng.choice(mats)),
        bottom_material=str(rng.choice(mats)),
        bag=_hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.1, 0.8)),
        bag_material=str(rng.choice(["synthetic", "leather", "cotton"])),
        bag_size=rng.uniform(0.8, 1.2),
        satchel_side=int(rng.choice([-1, 1])),
        skin_nir=int(rng.integers(175, 235)),
    )
