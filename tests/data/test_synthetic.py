"""Generator: determinism, exact layouts, infrared files, colour not carrying across modalities."""
import dataclasses
import hashlib
import importlib.util
import os
import re

import cv2
import numpy as np
import pytest
import scipy.io as sio

from fastreid_ext.data.synthetic import generate_regdb, generate_sysu
from fastreid_ext.data.synthetic.cameras import camera_style
from fastreid_ext.data.synthetic.identity import luminance, sample_identity
from fastreid_ext.data.synthetic.render import render_person, sample_pose


def _digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def test_same_seed_same_bytes(tmp_path):
    kw = {"num_ids": 6, "images_per_camera": 1, "height": 48, "width": 24, "progress": False}
    a = _digest(generate_sysu(str(tmp_path / "a"), seed=3, **kw))
    b = _digest(generate_sysu(str(tmp_path / "b"), seed=3, **kw))
    c = _digest(generate_sysu(str(tmp_path / "c"), seed=4, **kw))
    assert a == b and any(k.endswith(".mat") for k in a)
    assert a != c
    kw = {"num_ids": 4, "images_per_id": 1, "height": 48, "width": 24, "progress": False}
    assert _digest(generate_regdb(str(tmp_path / "r1"), seed=1, **kw)) == _digest(generate_regdb(str(tmp_path / "r2"), seed=1, **kw))


def test_sysu_layout_is_exact(sysu_root):
    root = sysu_root / "SYSU-MM01"
    assert sorted(os.listdir(root)) == [f"cam{c}" for c in range(1, 7)] + ["exp", "sysu_attribute"]
    assert sorted(os.listdir(root / "exp")) == ["test_id.txt", "train_id.txt", "val_id.txt"]
    for name in os.listdir(root / "exp"):
        text = (root / "exp" / name).read_text()
        assert re.fullmatch(r"\d+(,\d+)*\n", text)
    for c in range(1, 7):
        for pid in os.listdir(root / f"cam{c}"):
            assert re.fullmatch(r"\d{4}", pid)
            files = sorted(os.listdir(root / f"cam{c}" / pid))
            assert files == [f"{i:04d}.jpg" for i in range(1, len(files) + 1)]
        m = sio.loadmat(root / "sysu_attribute" / f"cam{c}_att.mat")
        assert [k for k in m if not k.startswith("__")] == [f"cam{c}_att"]
        assert m[f"cam{c}_att"].dtype == np.uint8 and m[f"cam{c}_att"].shape[0] == 8


def test_regdb_layout_is_exact(regdb_root):
    root = regdb_root / "RegDB"
    assert sorted(os.listdir(root)) == ["Thermal", "Visible", "attributes.csv", "idx"]
    assert sorted(os.listdir(root / "idx")) == sorted(
        f"{s}_{m}_{t}.txt" for s in ("train", "test") for m in ("visible", "thermal") for t in range(1, 11)
    )
    line = (root / "idx" / "train_thermal_4.txt").read_text().splitlines()[0]
    assert re.fullmatch(r"Thermal/\d+/(male|female)_(front|back)_t_\d{5}_\d+\.bmp \d+", line)


@pytest.mark.parametrize("pattern", ["SYSU-MM01/cam3/*/*.jpg", "SYSU-MM01/cam6/*/*.jpg", "RegDB/Thermal/*/*.bmp"])
def test_infrared_files_are_three_equal_channels(sysu_root, regdb_root, pattern):
    import glob

    base = sysu_root if pattern.startswith("SYSU") else regdb_root
    files = sorted(glob.glob(str(base / pattern)))[:15]
    assert files
    for f in files:
        img = cv2.imread(f, cv2.IMREAD_UNCHANGED)
        assert img.ndim == 3 and img.shape[2] == 3
        assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_visible_files_are_colour_and_sizes_vary(sysu_root):
    import glob

    files = sorted(glob.glob(str(sysu_root / "SYSU-MM01" / "cam1" / "*" / "*.jpg")))
    imgs = [cv2.imread(f) for f in files]
    assert all(np.abs(im[..., 0].astype(int) - im[..., 2]).mean() > 3 for im in imgs)
    assert len({im.shape[:2] for im in imgs}) > 3


def _render(traits, cam, modality, seed=0):
    rng = np.random.default_rng(seed)
    pose = sample_pose(rng)
    pose["view"] = "front"
    return render_person(traits, camera_style(cam, modality, False, 0), rng, (96, 48), pose)


def _same_luma_other_hue(rgb):
    """A colour of another hue with the same Rec. 601 luma (solved for the blue channel)."""
    r, g = (rgb[1], rgb[0]) if rgb[0] != rgb[1] else (min(255, rgb[0] + 40), max(0, rgb[1] - 20))
    b = (luminance(rgb) - 0.299 * r - 0.587 * g) / 0.114
    return (r, g, b) if 0 <= b <= 255 else None


def test_hue_does_not_carry_but_attributes_and_material_do():
    t = next(t for t in (sample_identity(np.random.default_rng(s)) for s in range(100))
             if all(_same_luma_other_hue(getattr(t, k)) for k in ("top", "top2", "bottom", "shoes", "bag")))
    recoloured = dataclasses.replace(t, **{k: _same_luma_other_hue(getattr(t, k)) for k in ("top", "top2", "bottom", "shoes", "bag")})
    assert not np.array_equal(_render(t, 1, "visible"), _render(recoloured, 1, "visible"))
    # hue at equal luminance never reaches infrared (1 grey level of float rounding allowed)
    assert np.abs(_render(t, 3, "infrared").astype(int) - _render(recoloured, 3, "infrared")).max() <= 1
    other = "wool" if t.top_material != "wool" else "cotton"
    assert not np.array_equal(_render(t, 3, "infrared"), _render(dataclasses.replace(t, top_material=other), 3, "infrared"))
    flipped = list(t.attributes)
    flipped[7] = 1 - flipped[7]  # satchel
    assert not np.array_equal(_render(t, 3, "infrared"), _render(dataclasses.replace(t, attributes=tuple(flipped)), 3, "infrared"))


def test_cli(tmp_path, repo_root):
    spec = importlib.util.spec_from_file_location("make_synthetic", repo_root / "tools" / "make_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["regdb", "--preset", "demo", "--root", str(tmp_path), "--seed", "2", "--num-ids", "4", "--images-per-id", "1", "--height", "40", "--width", "20"]
    assert mod.main(argv) == 0
    assert (tmp_path / "RegDB" / "idx" / "test_visible_10.txt").is_file()
    assert len(list((tmp_path / "RegDB" / "Thermal").glob("*/*.bmp"))) == 4
    assert mod.main(argv) == 1  # refuses to overwrite without --force


# --- the cues both modalities share (docs/synthetic_data.md) -----------------------------------
_IDS = [sample_identity(np.random.default_rng([9, p])) for p in range(60)]


def _ir(t, cam, seed, pose=None):
    return render_person(t, camera_style(cam, "infrared", cam == 6, 0), np.random.default_rng([seed, cam]), (64, 32), pose).astype(int)


def test_prints_are_legible_in_infrared():
    """The pattern of the top stands out of blur, noise, gain and light in infrared: the render with
    the print minus the same render (same draws) without it differs by tens of grey levels."""
    contrast = []
    for i, t in enumerate(_IDS):
        if t.top_pattern == "plain":
            continue
        for cam in (3, 6):
            d = np.abs(_ir(t, cam, i) - _ir(dataclasses.replace(t, top_pattern="plain"), cam, i))
            contrast.append(np.percentile(d[d > 0], 90))
    assert len(contrast) > 40
    assert np.median(contrast) >= 30 and min(contrast) >= 12, (np.median(contrast), min(contrast))


def test_clothing_brightness_correlates_across_modalities():
    """Per identity, the torso's visible luminance predicts its infrared level (not its hue)."""
    def torso(img):
        h, w = img.shape[:2]
        return img[int(h * 0.3):int(h * 0.45), int(w * 0.4):int(w * 0.6)].mean()

    vis, ir = [], []
    for i, t in enumerate(_IDS):
        v, q = [], []
        for cam in (1, 2, 3, 6):
            r = np.random.default_rng([i, cam])
            pose = {**sample_pose(r), "dx": 0.0, "dy": 0.0, "lean": 0.0}
            if cam in (1, 2):
                img = render_person(t, camera_style(cam, "visible", False, 0), r, (64, 32), pose).astype(float)
                v.append(torso(img @ np.array([0.299, 0.587, 0.114])))
            else:
                q.append(torso(_ir(t, cam, i, pose)))
        vis.append(np.mean(v))
        ir.append(np.mean(q))
    assert np.corrcoef(vis, ir)[0, 1] >= 0.6, np.corrcoef(vis, ir)[0, 1]


# --- presets ----------------------------------------------------------------------------------
def test_preset_sets_sysu_proportions_and_keywords_win(tmp_path):
    root = generate_sysu(str(tmp_path / "s"), seed=1, preset="benchmark", num_ids=50, images_per_camera=1,
                         height=32, width=16, attributes=False, progress=False)
    ids = {n: open(os.path.join(root, "exp", f"{n}_id.txt")).read().strip().split(",") for n in ("train", "val", "test")}
    assert len(ids["test"]) == round(50 * 96 / 491) and len(ids["val"]) == round((50 - len(ids["test"])) * 99 / 395)
    assert sum(len(v) for v in ids.values()) == 50
    heights = {cv2.imread(f).shape[0] for f in __import__("glob").glob(os.path.join(root, "cam*", "*", "*.jpg"))}
    assert max(heights) <= 32 * 1.2 + 1  # the explicit height, not the preset's


def test_unknown_preset_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"preset='huge'.*benchmark.*demo"):
        generate_sysu(str(tmp_path / "s"), preset="huge", progress=False)
    with pytest.raises(ValueError, match=r"test_fraction=1.5"):
        generate_sysu(str(tmp_path / "s"), num_ids=10, test_fraction=1.5, progress=False)
