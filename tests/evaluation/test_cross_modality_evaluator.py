"""CrossModalityEvaluator end to end on the synthetic datasets with a tiny deterministic model."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from community_reference import reference_eval
from fastreid_ext.evaluation.roc import ROC_METRICS
from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import build_evaluator
from fastreid_ext.evaluation.saved_features import load_features
from fastreid_ext.evaluation.protocols import draw_sysu_gallery, group_gallery_images

METRICS = ("Rank-1", "Rank-5", "Rank-10", "Rank-20", "mAP", "mINP")


def _reference_metrics(qf, gf, qp, gp, qc, gc, sysu):
    d = -(F.normalize(qf) @ F.normalize(gf).t()).double().numpy()
    author, std, mAP, mINP, _ = reference_eval(d, qp, gp, qc, gc, sysu=sysu)
    cmc = author if sysu else std
    return {**{f"Rank-{r}": 100 * cmc[r - 1] for r in (1, 5, 10, 20)}, "mAP": 100 * mAP, "mINP": 100 * mINP}


@pytest.fixture(scope="module")
def sysu_run(sysu_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_sysu")
    cfg = tiny_cfg(sysu_root, out)
    cfg.TEST.SAVE_FEATURES = True
    dataset = build_dataset(cfg, "SYSU_MM01")
    model = PooledPixelModel()
    results = build_evaluator(cfg, dataset, str(out)).evaluate(model)
    return cfg, dataset, model, results, out


def test_sysu_results_keys_and_json(sysu_run):
    cfg, dataset, model, results, out = sysu_run
    tasks = {f"SYSU_MM01/{m}-{s}" for m in ("all", "indoor") for s in ("single", "multi")}
    assert set(results) == tasks
    for metrics in results.values():
        assert set(metrics) == ({f"{f}/{m}{s}" for f in ("FC", "POOL") for m in (*METRICS, "chance") for s in ("", "-std")}
                                | {f"{f}/{m}" for f in ("FC", "POOL") for m in ROC_METRICS})  # TPR@FPR: first trial, no std
        assert metrics["FC/chance"] == metrics["POOL/chance"] > 0.0  # chance depends on the gallery only
        assert all(0.0 <= v <= 100.0 for v in metrics.values())
    assert model.seen_modalities == {0, 1}  # both branches used: visible gallery, infrared queries
    payload = json.loads((out / "results.json").read_text())
    assert payload["results"] == results and payload["features"] == ["FC", "POOL"] and payload["quick"] is False
    run = next(r for r in payload["runs"] if r["task"] == "SYSU_MM01/all-multi" and r["feature"] == "FC")
    assert run["seeds"] == [0, 1, 2] and run["num_trials"] == 3 and len(run["per_trial"]) == 3
    assert run["mode"] == "all" and run["shot"] == "multi" and run["attribute_source"] is None
    groups = group_gallery_images([r.pid for r in dataset.gallery], [r.camid for r in dataset.gallery],
                                [r.img_path for r in dataset.gallery])
    assert run["gallery_sizes"] == [sum(min(2, len(v)) for v in groups.values())] * 3


@pytest.mark.parametrize("mode,shot", [("all", "single"), ("indoor", "multi")])
def test_sysu_mean_and_std_over_trials_match_the_community_algorithm(sysu_run, mode, shot):
    cfg, dataset, _, results, out = sysu_run
    query, gallery, meta = load_features(str(out / "features.npz"))
    assert meta["protocol"] == "sysu" and len(query) == len(dataset.query)
    groups = group_gallery_images(gallery.pids, gallery.camids, gallery.paths)
    for feat in ("FC", "POOL"):
        per_trial = []
        for t in range(3):
            idx = draw_sysu_gallery(groups, mode, shot, t, num_shots=2)
            per_trial.append(_reference_metrics(query.features[feat], gallery.features[feat][idx], query.pids,
                                                gallery.pids[idx], query.camids, gallery.camids[idx], True))
        got = results[f"SYSU_MM01/{mode}-{shot}"]
        for m in METRICS:
            values = np.array([p[m] for p in per_trial])
            assert got[f"{feat}/{m}"] == pytest.approx(values.mean(), abs=1e-4)
            assert got[f"{feat}/{m}-std"] == pytest.approx(values.std(), abs=1e-4)
    assert results["SYSU_MM01/all-single"]["FC/Rank-1"] != results["SYSU_MM01/all-single"]["POOL/Rank-1"] or \
        results["SYSU_MM01/all-single"]["FC/mAP"] != results["SYSU_MM01/all-single"]["POOL/mAP"]


def test_sysu_quick_runs_all_single_with_train_eval_trials(sysu_root, tmp_path):
    cfg = tiny_cfg(sysu_root, tmp_path)
    cfg.TEST.SYSU.TRAIN_EVAL_TRIALS = 2
    cfg.TEST.FEATURES = ["FC", "NOT_AN_OUTPUT"]
    results = build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(tmp_path)).evaluate(PooledPixelModel(), quick=True)
    assert list(results) == ["SYSU_MM01/all-single"]
    assert set(k.split("/")[0] for k in results["SYSU_MM01/all-single"]) == {"FC"}
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["quick"] is True and payload["runs"][0]["seeds"] == [0, 1]


def test_regdb_directions_attribute_sources_and_recognition(regdb_root, tmp_path):
    cfg = tiny_cfg(regdb_root, tmp_path, dataset="RegDB")
    cfg.TEST.ATTRIBUTE_SOURCES = ["gt", "zeros"]
    cfg.TEST.SAVE_FEATURES = True
    dataset = build_dataset(cfg, "RegDB")
    n_attr = len(dataset.attribute_names)
    assert n_attr > 0
    model = PooledPixelModel(num_attributes=n_attr)
    results = build_evaluator(cfg, dataset, str(tmp_path)).evaluate(model)
    assert set(results) == {"RegDB/visible2infrared", "RegDB/infrared2visible", "RegDB/attributes"}
    assert {"gt", "zeros"} <= set(model.seen_sources)
    v2i = results["RegDB/visible2infrared"]
    assert {"gt/FC/Rank-1", "zeros/POOL/mINP", "gt/FC/mAP-std"} <= set(v2i)
    query, gallery, meta = load_features(str(tmp_path / "features-gt.npz"))
    assert meta["attribute_source"] == "gt"
    for direction, (q, g) in {"visible2infrared": (query, gallery), "infrared2visible": (gallery, query)}.items():
        ref = _reference_metrics(q.features["FC"], g.features["FC"], q.pids, g.pids, None, None, False)
        for m in METRICS:
            assert results[f"RegDB/{direction}"][f"gt/FC/{m}"] == pytest.approx(ref[m], abs=1e-4)
    attrs = results["RegDB/attributes"]
    assert {"gt/mA", "zeros/mA"} <= set(attrs) and all(0 <= v <= 100 for v in attrs.values())
    assert attrs["gt/mA"] != attrs["zeros/mA"]
    quick = build_evaluator(cfg, dataset, str(tmp_path)).evaluate(model, quick=True)
    assert set(quick) == {"RegDB/visible2infrared", "RegDB/attributes"}


def test_model_without_any_configured_feature_fails_clearly(regdb_root, tmp_path):
    cfg = tiny_cfg(regdb_root, tmp_path, dataset="RegDB")
    cfg.TEST.FEATURES = ["EMBEDDING"]
    with pytest.raises(KeyError, match="TEST.FEATURES"):
        build_evaluator(cfg, build_dataset(cfg, "RegDB"), str(tmp_path)).evaluate(PooledPixelModel())
