"""The reference variant, loaded from an official-format checkpoint through the real loading path,
reproduces the official model's outputs (shared/data/paenet_official_golden, tolerances there)."""
import numpy as np
import torch
import torch.nn.functional as F

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.modeling import build_model


def _compare(ours: np.ndarray, ref: np.ndarray, name: str):
    assert ours.shape == ref.shape, name
    max_abs = np.abs(ours - ref).max()
    assert max_abs <= 2e-6, f"{name}: max abs diff {max_abs:.3g} > 2e-6"
    dev_o, dev_r = ours - ours.mean(0), ref - ref.mean(0)
    rel = np.linalg.norm(dev_o - dev_r) / np.linalg.norm(dev_r)
    assert rel <= 1e-3, f"{name}: relative error of the deviations from the batch mean {rel:.3g} > 1e-3"


def test_reference_reproduces_official_golden(make_cfg, official_checkpoint, golden):
    path, _ = official_checkpoint
    torch.set_num_threads(2)
    cfg = make_cfg(opts=["MODEL.HEADS.NUM_CLASSES", "395", "MODEL.WEIGHTS", str(path)])
    model = build_model(cfg)
    ReidCheckpointer(model).load_for_eval(cfg.MODEL.WEIGHTS)
    model.eval()
    images = torch.from_numpy(golden["images"])
    attributes = torch.from_numpy(golden["attributes"])
    outs = {}
    with torch.no_grad():
        for modality, prefix in ((0, "visible"), (1, "infrared")):
            batch = {"images": images, "modality": torch.full((len(images),), modality, dtype=torch.long),
                     "attributes": attributes}
            out = model(batch)
            outs[f"{prefix}_pool"] = F.normalize(out["POOL"], dim=1).numpy()
            outs[f"{prefix}_bn"] = F.normalize(out["FC"], dim=1).numpy()
    for name, ours in outs.items():
        _compare(ours, golden[name], name)
    # the visible and infrared stems really differ (so modality routing is tested too)
    assert np.abs(golden["visible_bn"] - golden["infrared_bn"]).max() > 1e-5
