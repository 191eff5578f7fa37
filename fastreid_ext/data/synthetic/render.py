"""Draw one synthetic detection with numpy/cv2 primitives.

The same geometry is drawn for both modalities; only the palette changes: visible images use the
identity's colours under the camera's light, infrared images a near-infrared reflectance map: each
part's level mixes its visible luminance (NIR_CARRY) with its material's reflectance, so clothing
brightness and printed patterns carry over while hue cannot. Pose, scale, crop, blur, noise, light
and the frame size are jittered per image; camera gain, background and clutter per camera.
"""
from __future__ import annotations

import cv2
import numpy as np

from .cameras import CameraStyle
from .identity import MATERIAL_NIR, MIN_PATTERN_LUMA, IdentityTraits, luminance

__all__ = ["render_person", "sample_pose", "frame_size", "infrared_levels", "NIR_CARRY"]

# Share of an infrared level predicted by the visible luminance (the rest is the material).
NIR_CARRY = 0.6
# Infrared cameras auto-expose: per-image light varies this fraction as much as in visible.
IR_LIGHT_DAMPING = 0.5


def frame_size(rng: np.random.Generator, height: int, width: int, spread: float = 0.2) -> tuple[int, int]:
    """A detection-like (h, w) around the base size: scale and aspect ratio vary."""
    h = int(round(height * rng.uniform(1 - spread, 1 + spread)))
    w = int(round(h * (width / height) * rng.uniform(1 - spread / 2, 1 + spread / 2)))
    return max(h, 16), max(w, 8)


def sample_pose(rng: np.random.Generator) -> dict:
    return {
        "view": "back" if rng.random() < 0.4 else "front",
        "phase": rng.uniform(-1, 1),  # leg / arm swing
        "scale": rng.uniform(0.9, 1.06),
        "dx": rng.normal(0, 0.05),  # horizontal offset (fraction of width): crop jitter
        "dy": rng.normal(0, 0.03),
        "lean": rng.normal(0, 0.03),
        "blur": rng.uniform(0, 1.3),
        "noise": rng.uniform(1.5, 7),
        "light": rng.uniform(0.8, 1.2),
    }


def _nir(rgb, material: str | None = None, base: float = 128.0) -> float:
    """Infrared level of a surface: NIR_CARRY of its visible luminance, the rest its material."""
    return NIR_CARRY * luminance(rgb) + (1 - NIR_CARRY) * (MATERIAL_NIR[material] if material else base)


def infrared_levels(t: IdentityTraits) -> dict:
    """Grey level (before camera gain and light) of every part in an infrared image of ``t``."""
    top = _nir(t.top, t.top_material)
    # the print stays legible: at least NIR_CARRY x the minimum visible contrast, same polarity
    delta = NIR_CARRY * (luminance(t.top2) - luminance(t.top))
    delta = float(np.sign(delta) or 1.0) * max(abs(delta), NIR_CARRY * MIN_PATTERN_LUMA)
    if not 0 <= top + delta <= 255:
        delta = -delta
    return {"skin": float(t.skin_nir), "hair": _nir(t.hair, base=60.0), "top": top, "top2": top + delta,
            "bottom": _nir(t.bottom, t.bottom_material), "shoes": _nir(t.shoes, base=70.0),
            "bag": _nir(t.bag, t.bag_material), "glasses": 30.0}


def _palette(t: IdentityTraits, style: CameraStyle) -> dict:
    if style.modality == "visible":
        return {"skin": t.skin, "hair": t.hair, "top": t.top, "top2": t.top2, "bottom": t.bottom,
                "shoes": t.shoes, "bag": t.bag, "glasses": (20, 20, 25)}
    return {k: (v, v, v) for k, v in infrared_levels(t).items()}


def _pattern(h, w, kind, period_px, c1, c2, rng):
    img = np.empty((h, w, 3), np.float32)
    img[:] = c1
    p = max(int(period_px), 2)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "hstripes":
        sel = (yy // p) % 2 == 0
    elif kind == "vstripes":
        sel = (xx // p) % 2 == 0
    elif kind == "checks":
        sel = ((yy // p) + (xx // p)) % 2 == 0
    elif kind == "dots":
        sel = ((yy % (2 * p) - p) ** 2 + (xx % (2 * p) - p) ** 2) < (p * 0.6) ** 2
    elif kind == "denim":
        img += rng.normal(0, 10, (h, w, 1)).astype(np.float32)
        return img
    else:
        return img
    img[sel] = c2
    return img


def _background(h, w, style: CameraStyle, rng):
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (1 - t) * np.array(style.background, np.float32) + t * np.array(style.background2, np.float32)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    for _ in range(int(rng.integers(0, style.clutter + 1))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 2 + 2)), y0 + int(rng.integers(h // 10, h // 2 + 2))
        delta = rng.normal(0, 35, 3) if style.modality == "visible" else np.full(3, rng.normal(0, 25))
        color = tuple(float(np.clip(c + d, 0, 255)) for c, d in zip(img[min(y0, h - 1), min(x0, w - 1)], delta))
        cv2.rectangle(img, (x0, y0), (x1, y1), color, -1)
    return img


def render_person(t: IdentityTraits, style: CameraStyle, rng: np.random.Generator, size: tuple[int, int],
                  pose: dict | None = None) -> np.ndarray:
    """uint8 RGB (h, w, 3) for a visible camera, uint8 (h, w) heat image for an infrared one."""
    h, w = size
    pose = pose or sample_pose(rng)
    pal = _palette(t, style)
    female, long_hair, glasses, long_sleeve, skirt, long_lower, backpack, satchel = t.attributes
    img = _background(h, w, style, rng)
    ph = h * t.height * pose["scale"]
    top = (h - ph) / 2 + pose["dy"] * h
    cx = w / 2 + pose["dx"] * w
    lean = pose["lean"] * ph

    def P(x, y):  # person-frame (fraction of height, x from centre) → pixel, with lean
        return (int(round(cx + x * ph + lean * (0.5 - y))), int(round(top + y * ph)))

    def poly(points, color):
        cv2.fillPoly(img, [np.array(points, np.int32)], color, lineType=cv2.LINE_AA)

    def limb(a, b, width, color):
        cv2.line(img, a, b, color, max(1, int(round(2 * width * ph))), lineType=cv2.LINE_AA)

    back = pose["view"] == "back"
    sh_y, hip_y = 0.17, t.torso
    knee_y = hip_y + (1 - hip_y) * 0.5
    sw, hw, lw = t.shoulder, t.hip, t.limb
    swing = pose["phase"] * 0.06
    # long hair falls behind the shoulders
    head_c, hr = P(0, t.head * 1.1), t.head * ph
    if long_hair:
        poly([P(-t.head * 1.1, t.head), P(t.head * 1.1, t.head), P(t.head * 1.3, 0.27), P(-t.head * 1.3, 0.27)], pal["hair"])
    # legs / lower body
    for side in (-1, 1):
        foot = P(side * hw * 0.55 + side * swing, 0.98)
        hipp = P(side * hw * 0.5, hip_y)
        limb(hipp, foot, lw * 1.15, pal["skin"])
        cv2.ellipse(img, (foot[0] + side * 2, foot[1]), (max(2, int(lw * ph * 1.6)), max(1, int(lw * ph * 0.8))), 0, 0, 360, pal["shoes"], -1)
    if skirt:
        end = 0.9 if long_lower else knee_y + 0.02
        poly([P(-hw, hip_y - 0.02), P(hw, hip_y - 0.02), P(hw * 1.9, end), P(-hw * 1.9, end)], pal["bottom"])
    else:
        end = 0.94 if long_lower else knee_y - 0.04
        mask = np.zeros((h, w), np.uint8)
        for side in (-1, 1):
            frac = (end - hip_y) / (0.98 - hip_y)
            lx = side * hw * 0.5 + (side * hw * 0.55 + side * swing - side * hw * 0.5) * frac
            cv2.line(mask, P(side * hw * 0.5, hip_y), P(lx, end), 255, max(1, int(round(2.6 * lw * ph))))
        cv2.fillPoly(mask, [np.array([P(-hw, hip_y - 0.03), P(hw, hip_y - 0.03), P(hw * 0.6, hip_y + 0.07), P(-hw * 0.6, hip_y + 0.07)], np.int32)], 255)
        tex = _pattern(h, w, t.bottom_pattern, 0, pal["bottom"], pal["bottom"], rng)
        img[mask > 0] = tex[mask > 0]
    # torso with texture
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.array([P(-sw, sh_y), P(sw, sh_y), P(hw * 1.05, hip_y), P(-hw * 1.05, hip_y)], np.int32)], 255)
    tex = _pattern(h, w, t.top_pattern, t.top_period * ph, pal["top"], pal["top2"], rng)
    img[mask > 0] = tex[mask > 0]
    if backpack and back:
        bw, bh = sw * 0.85 * t.bag_size, 0.2 * t.bag_size
        poly([P(-bw, sh_y + 0.03), P(bw, sh_y + 0.03), P(bw, sh_y + 0.03 + bh), P(-bw, sh_y + 0.03 + bh)], pal["bag"])
    # arms: upper arm in the top colour, forearm in the top colour only with long sleeves
    for side in (-1, 1):
        s = P(side * sw * 0.92, sh_y + 0.02)
        e = P(side * (sw + 0.02) - side * swing * 0.3 + swing * 0.5, sh_y + 0.17)
        hnd = P(side * (sw + 0.015) + swing, sh_y + 0.33)
        limb(s, e, lw, pal["top"])
        limb(e, hnd, lw * 0.9, pal["top"] if long_sleeve else pal["skin"])
        cv2.circle(img, hnd, max(1, int(lw * ph)), pal["skin"], -1)
    if backpack and not back:
        for side in (-1, 1):
            limb(P(side * sw * 0.55, sh_y), P(side * sw * 0.6, sh_y + 0.16), lw * 0.35, pal["bag"])
            poly([P(side * sw, sh_y + 0.04), P(side * (sw + 0.035), sh_y + 0.05), P(side * (sw + 0.035), sh_y + 0.2), P(side * sw, sh_y + 0.2)], pal["bag"])
    if satchel:
        sd = t.satchel_side
        limb(P(-sd * sw * 0.7, sh_y), P(sd * hw, hip_y - 0.03), lw * 0.3, pal["bag"])
        bx = sd * (hw + 0.03)
        poly([P(bx - 0.05, hip_y - 0.06), P(bx + 0.05, hip_y - 0.06), P(bx + 0.05, hip_y + 0.05), P(bx - 0.05, hip_y + 0.05)], pal["bag"])
    # head
    limb(P(0, t.head * 1.8), P(0, sh_y), lw * 0.9, pal["skin"])
    cv2.ellipse(img, head_c, (max(2, int(hr * 0.85)), max(2, int(hr))), 0, 0, 360, pal["hair"] if back else pal["skin"], -1, cv2.LINE_AA)
    cv2.ellipse(img, head_c, (max(2, int(hr * 0.9)), max(2, int(hr * 1.05))), 0, 180, 360, pal["hair"], -1, cv2.LINE_AA)
    if glasses and not back:
        ey = head_c[1] + int(hr * 0.15)
        cv2.line(img, (head_c[0] - int(hr * 0.7), ey), (head_c[0] + int(hr * 0.7), ey), pal["glasses"], max(1, int(hr * 0.3)))
    return _finish(img, style, pose, rng)


def _finish(img, style: CameraStyle, pose, rng):
    light = pose["light"] if style.modality == "visible" else 1 + IR_LIGHT_DAMPING * (pose["light"] - 1)
    img = img * (np.array(style.cast, np.float32) * light)
    img = 255.0 * np.clip(img / 255.0, 0, 1) ** style.gamma
    if pose["blur"] > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), pose["blur"])
    if style.modality == "infrared":
        img = img[..., 0]
        img = img + rng.normal(0, pose["noise"], img.shape).astype(np.float32)
    else:
        img = img + rng.normal(0, pose["noise"], img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)
