"""Flip TTA and average query expansion change features as specified; the evaluator names them."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import build_evaluator
from fastreid_ext.evaluation.postprocess import FlipAveraged, TestTimeOptions, average_query_expansion


class WidthPositionModel(nn.Module):
    """FC depends on where along the width the bright pixels are (so a flip changes it)."""

    def forward(self, batch):
        img = batch["images"]
        w = torch.arange(img.shape[3], dtype=img.dtype)
        col_mass = img.mean(dim=(1, 2))  # B x W
        return {"FC": torch.stack([col_mass @ w, col_mass.sum(1)], 1), "ids": batch["targets"]}


def test_flip_of_a_symmetric_image_gives_the_same_feature():
    model = WidthPositionModel().eval()
    half = torch.rand(2, 3, 8, 3)
    symmetric = torch.cat([half, half.flip(3)], dim=3)
    batch = {"images": symmetric, "targets": torch.tensor([4, 5])}
    out, flipped = model(batch), FlipAveraged(model)(batch)
    torch.testing.assert_close(flipped["FC"], out["FC"])
    assert torch.equal(flipped["ids"], batch["targets"])  # integer outputs are passed through


def test_flip_averages_an_asymmetric_image_with_its_mirror():
    model = WidthPositionModel().eval()
    img = torch.zeros(1, 3, 4, 6)
    img[..., 0] = 1.0  # bright first column: position 0, its mirror at position 5
    wrapped = FlipAveraged(model)
    assert not wrapped.training  # follows the wrapped model's mode
    fc = wrapped({"images": img, "targets": torch.tensor([0])})["FC"]
    torch.testing.assert_close(fc, torch.tensor([[(0 + 5) / 2, 1.0]]))


def reference_aqe(qf, gf, times, k, alpha):
    """fast-reid's aqe written out per row, float64."""
    feats = np.concatenate([qf, gf]).astype(np.float64)
    for _ in range(times):
        normed = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        new = []
        for i in range(len(feats)):
            sims = normed @ normed[i]
            top = np.argsort(-sims, kind="stable")[:k]
            new.append((feats[top] * sims[top, None] ** alpha).mean(0))
        feats = np.stack(new)
    return feats[: len(qf)], feats[len(qf):]


@pytest.mark.parametrize("times,k,alpha", [(1, 5, 3.0), (2, 3, 1.0)])
def test_aqe_matches_the_reference(times, k, alpha):
    rng = np.random.default_rng(0)
    qf, gf = rng.normal(size=(13, 6)).astype(np.float32), rng.normal(size=(21, 6)).astype(np.float32)
    q, g = average_query_expansion(torch.from_numpy(qf), torch.from_numpy(gf), times, k, alpha, block_elements=64)
    rq, rg = reference_aqe(qf, gf, times, k, alpha)
    np.testing.assert_allclose(q.numpy(), rq, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.numpy(), rg, rtol=1e-5, atol=1e-6)
    assert not np.allclose(q.numpy(), qf)  # it does change features


def test_options_label_and_validation():
    assert TestTimeOptions().label == "" and not TestTimeOptions().changes_distances
    opts = TestTimeOptions(flip=True, rerank=True)
    assert opts.label == "+flip+rerank" and opts.changes_distances
    assert opts.as_dict() == {"flip": True, "rerank": True, "rerank_k1": 20, "rerank_k2": 6, "rerank_lambda": 0.3}
    with pytest.raises(ValueError, match="TEST.AQE.QE_TIME"):
        TestTimeOptions(aqe=True, aqe_k=0)
    with pytest.raises(ValueError, match="LAMBDA=2"):
        TestTimeOptions(rerank=True, rerank_lambda=2)


def test_evaluator_applies_and_names_the_options(regdb_root, tmp_path):
    cfg = tiny_cfg(regdb_root, tmp_path, dataset="RegDB")
    cfg.TEST.FEATURES = ["FC"]
    cfg.TEST.FLIP.ENABLED, cfg.TEST.RERANK.ENABLED = True, True
    cfg.TEST.RERANK.K1, cfg.TEST.RERANK.K2 = 4, 2
    cfg.TEST.RANKING.BACKEND = "torch"
    cfg.TEST.SAVE_FEATURES = True
    dataset = build_dataset(cfg, "RegDB")
    results = build_evaluator(cfg, dataset, str(tmp_path)).evaluate(PooledPixelModel())
    assert set(results["RegDB/visible2infrared"]) == {f"FC+flip+rerank/{m}{s}" for m in
                                                      ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP", "chance") for s in ("", "-std")} | {
        f"FC+flip+rerank/TPR@FPR1e-{e}" for e in (4, 3, 2, 1)}  # ROC of the re-ranked distances
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["test_time"]["flip"] and payload["test_time"]["rerank_k1"] == 4
    assert payload["runs"][0]["feature"] == "FC+flip+rerank"
    # the saved (flip-averaged) features re-ranked by hand give the evaluator's Rank-1
    from fastreid_ext.evaluation import eval_regdb, k_reciprocal_distance
    from fastreid_ext.evaluation.saved_features import load_features

    query, gallery, _ = load_features(str(tmp_path / "features.npz"))
    dist = k_reciprocal_distance(query.features["FC"], gallery.features["FC"], 4, 2, 0.3, distance="cosine")
    cmc, mAP, _ = eval_regdb(dist.numpy(), query.pids, gallery.pids)
    assert results["RegDB/visible2infrared"]["FC+flip+rerank/Rank-1"] == pytest.approx(100 * cmc[0])
    assert results["RegDB/visible2infrared"]["FC+flip+rerank/mAP"] == pytest.approx(100 * mAP)
    # and flipping did change the features the plain model gives
    plain = PooledPixelModel().eval()
    img = torch.rand(1, 3, 32, 16)
    batch = {"images": img, "modality": torch.zeros(1, dtype=torch.long)}
    assert not torch.allclose(FlipAveraged(plain)(batch)["FC"], plain(batch)["FC"])
    assert F.normalize(query.features["FC"]).shape[0] == len(dataset.query)
