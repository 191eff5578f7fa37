"""Identity traits of a synthetic person: the 8 PAENet attributes plus what makes an id unique.

Colours only exist in the visible palette; the thermal palette is built from materials and skin,
so colour cannot carry across modalities while shape, attributes and texture do.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

__all__ = ["IdentityTraits", "sample_identity", "PATTERNS", "MATERIAL_HEAT"]

PATTERNS = ("plain", "hstripes", "vstripes", "checks", "dots")
# Relative thermal emission of clothing materials (0-255 scale before camera gain).
MATERIAL_HEAT = {"cotton": 150, "wool": 118, "synthetic": 172, "denim": 132, "leather": 96}


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
    skin_heat: int


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
    mats = list(MATERIAL_HEAT)
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
        top=_hsv(top_h, rng.uniform(0.2, 1.0), rng.uniform(0.25, 1.0)),
        top2=_hsv(top_h + rng.uniform(0.25, 0.75), rng.uniform(0.0, 1.0), rng.uniform(0.1, 1.0)),
        top_pattern=str(rng.choice(PATTERNS, p=[0.4, 0.2, 0.15, 0.15, 0.1])),
        top_period=rng.uniform(0.03, 0.07),
        bottom=_hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.85)),
        bottom_pattern=str(rng.choice(["plain", "denim"], p=[0.6, 0.4])),
        shoes=_hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.05, 0.9)),
        top_material=str(rng.choice(mats)),
        bottom_material=str(rng.choice(mats)),
        bag=_hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.1, 0.8)),
        bag_material=str(rng.choice(["synthetic", "leather", "cotton"])),
        bag_size=rng.uniform(0.8, 1.2),
        satchel_side=int(rng.choice([-1, 1])),
        skin_heat=int(rng.integers(205, 245)),
    )
