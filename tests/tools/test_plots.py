"""tools/plot.py subcommands on the tiny run: each writes a non-empty PNG of the expected size;
bad input is one clear error naming the thing."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml

from tools_testkit import load_tool
from fastreid_ext.utils.errors import UserError

pytestmark = pytest.mark.slow  # a tiny training run is shared by these tests
pytest.importorskip("matplotlib")


def _png_shape(path):
    img = cv2.imread(str(path))
    assert img is not None and img.std() > 0  # a real, non-blank picture
    return img.shape[:2]


def test_training_curves_and_cmc(repo_root, tiny_run, tmp_path):
    plot = load_tool(repo_root, "plot")
    assert _png_shape(plot.main(["curves", str(tiny_run), "--output", str(tmp_path / "c.png")])) == (400, 1500)
    assert _png_shape(plot.main(["cmc", str(tiny_run), "--feature", "FC", "--output", str(tmp_path / "m.png"),
                                 "--dpi", "50"])) == (250, 350)
    with pytest.raises(UserError, match="no metrics.json"):
        plot.main(["curves", str(tmp_path), "--output", str(tmp_path / "x.png")])
    with pytest.raises(UserError, match="feature 'NOPE'"):
        plot.main(["cmc", str(tiny_run), "--feature", "NOPE", "--output", str(tmp_path / "x.png")])


def test_curves_hold_every_loss_term_lr_and_metric(tiny_run):
    from fastreid_ext.visualization import curves

    records = curves.read_metrics(str(tiny_run))
    keys = {k for r in records for k in r}
    assert {"loss_cls", "loss_hctri", "loss_mmd", "lr", "SYSU_MM01/all-single/FC/Rank-1"} <= keys
    fig_keys = []
    real_save = curves._save
    curves._save = lambda fig, out, dpi: fig_keys.extend(line.get_label() for ax in fig.axes for line in ax.lines) or out
    try:
        curves.plot_training_curves([str(tiny_run)], "unused.png")
    finally:
        curves._save = real_save
    assert {"loss_cls", "loss_hctri", "loss_mmd", "total_loss", "SYSU_MM01/all-single/FC/Rank-1",
            "SYSU_MM01/all-single/FC/mAP"} <= set(fig_keys)


def test_tsne_side_by_side(repo_root, tiny_run, tmp_path):
    pytest.importorskip("sklearn")
    plot = load_tool(repo_root, "plot")
    feats = str(tiny_run / "features.npz")
    out = plot.main(["tsne", feats, feats, "--labels", "a", "b", "--num-ids", "4", "--dpi", "40", "--output",
                     str(tmp_path / "t.png")])
    assert _png_shape(out) == (240, 480)
    with pytest.raises(UserError, match="no such features file"):
        plot.main(["tsne", str(tmp_path / "none.npz"), "--output", str(tmp_path / "x.png")])


def test_grad_cam_maps_and_attention_figure(repo_root, tiny_run, tmp_path):
    from fastreid_ext.config import load_config
    from fastreid_ext.engine.predictor import DefaultPredictor
    from fastreid_ext.visualization.attention import grad_cam

    with np.load(tiny_run / "features.npz") as z:
        images = [str(z["query/paths"][0]), str(z["gallery/paths"][0])]
    pred = DefaultPredictor(load_config(str(tiny_run / "config.yaml"), ["MODEL.WEIGHTS", str(tiny_run / "model_final.pth")]))
    batch = pred.batch(images, ["infrared", "visible"])
    cam = grad_cam(pred.model, batch)
    assert cam.shape == (2, 32, 16) and float(cam.min()) >= 0 and float(cam.max()) == pytest.approx(1.0)
    assert not pred.model.training
    assert not torch.allclose(cam[0], cam[1])  # image-specific maps
    plot = load_tool(repo_root, "plot")
    args = ["attention", "--images", *images, "--modality", "infrared", "visible", "--dpi", "50", "--output", str(tmp_path / "a.png")]
    for label in ("baseline", "PAENet"):
        args += ["--config-file", str(tiny_run / "config.yaml"), "--weights", str(tiny_run / "model_final.pth"), "--label", label]
    assert _png_shape(plot.main(args)) == (300, 280)  # (1 + 2 models) x 1.6 in + 0.8 in colour bar wide, 2 images x 3 in high


def test_sweep_over_run_folders(repo_root, tiny_run, tmp_path):
    plot = load_tool(repo_root, "plot")
    runs = []
    payload = json.loads((tiny_run / "results.json").read_text())
    for lam, shift in ((1.0, 0.0), (0.1, 5.0), (0.5, 2.0)):
        d = tmp_path / f"lambda_{lam}"
        d.mkdir()
        p = json.loads(json.dumps(payload))
        for m in p["results"].values():
            for k in m:
                m[k] += shift
        (d / "results.json").write_text(json.dumps(p))
        (d / "config.yaml").write_text(yaml.safe_dump({"PAENET": {"AAL": {"LOSS_WEIGHT": lam}}}))
        runs.append(str(d))
    assert _png_shape(plot.main(["sweep", *runs, "--output", str(tmp_path / "s.png")])) == (400, 600)
    shutil.copy(tiny_run / "results.json", tmp_path / "results.json")
    with pytest.raises(UserError, match="no config.yaml"):
        plot.main(["sweep", str(tmp_path), "--output", str(tmp_path / "x.png")])
