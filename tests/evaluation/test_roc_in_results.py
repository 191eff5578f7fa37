"""TPR@FPR in the evaluator's results: the first trial's figures equal those of an independent full
distance matrix under the protocol's camera rule, whatever the ranking backend; the pair split of a
distance source follows each camera rule (against a loop)."""
import json

import numpy as np
import pytest
import torch.nn.functional as F

from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import build_evaluator
from fastreid_ext.evaluation.camera_rules import CameraPairRule, SameCameraRule
from fastreid_ext.evaluation.distances import MatrixSource
from fastreid_ext.evaluation.roc import FPR_LEVELS, ROC_METRICS, source_pair_distances, tpr_at_fpr


def test_metric_names_are_result_key_metrics():
    assert ROC_METRICS == ("TPR@FPR1e-4", "TPR@FPR1e-3", "TPR@FPR1e-2", "TPR@FPR1e-1")


@pytest.mark.parametrize("rule", [None, CameraPairRule(3, 2), SameCameraRule()])
def test_source_pairs_follow_the_camera_rule(rule):
    rng = np.random.default_rng(0)
    d = rng.random((9, 13)).astype(np.float32)
    qp, gp = rng.integers(0, 4, 9), rng.integers(0, 4, 13)
    qc, gc = rng.integers(1, 5, 9), rng.integers(1, 5, 13)
    pos, neg = source_pair_distances(MatrixSource(d), qp, gp, qc, gc, rule)
    ref_pos, ref_neg = [], []
    for i in range(9):
        for j in range(13):
            if isinstance(rule, CameraPairRule) and qc[i] == 3 and gc[j] == 2:
                continue
            if isinstance(rule, SameCameraRule) and qp[i] == gp[j] and qc[i] == gc[j]:
                continue
            (ref_pos if qp[i] == gp[j] else ref_neg).append(d[i, j])
    assert sorted(pos) == sorted(ref_pos) and sorted(neg) == sorted(ref_neg)


def _evaluate(sysu_root, tmp_path, backend):
    cfg = tiny_cfg(sysu_root, tmp_path, trials=2)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.TEST.RANKING.BACKEND = backend
    evaluator = build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(tmp_path))
    evaluator.progress = False
    return evaluator, evaluator.evaluate(PooledPixelModel())


def test_first_trial_tpr_matches_a_full_matrix(sysu_root, tmp_path):
    evaluator, results = _evaluate(sysu_root, tmp_path / "torch", "torch")
    query, gallery = evaluator.extract_feature_sets(PooledPixelModel())
    for task in ("all-single", "indoor-multi"):
        q, g, rule = evaluator.protocol.pools(query, gallery, task, 0)
        d = -(F.normalize(q.features["FC"].float(), dim=1) @ F.normalize(g.features["FC"].float(), dim=1).t()).numpy()
        valid = np.ones(d.shape, bool)
        q_res, g_rem = rule.pair_masks(q.camids, g.camids)
        valid[np.ix_(q_res, g_rem)] = False
        same = q.pids[:, None] == g.pids[None, :]
        ref = tpr_at_fpr(d[same & valid], d[~same & valid])
        got = results[f"SYSU_MM01/{task}"]
        for f, name in zip(FPR_LEVELS, ROC_METRICS):
            assert got[f"FC/{name}"] == pytest.approx(100.0 * ref[f], abs=1e-9), (task, name)
            assert f"FC/{name}-std" not in got
        assert got["FC/TPR@FPR1e-4"] <= got["FC/TPR@FPR1e-1"] and got["FC/TPR@FPR1e-1"] > 0
    with open(tmp_path / "torch" / "results.json") as fh:
        assert "FC/TPR@FPR1e-3" in json.load(fh)["results"]["SYSU_MM01/all-single"]
    pytest.importorskip("faiss")
    _, faiss_results = _evaluate(sysu_root, tmp_path / "faiss", "faiss-cpu")  # FAISS ranks; ROC reads distances
    for task, metrics in results.items():
        for key in (k for k in metrics if "TPR@FPR" in k):
            assert faiss_results[task][key] == pytest.approx(metrics[key], abs=1e-9)


def test_roc_off_emits_no_tpr(sysu_root, tmp_path):
    cfg = tiny_cfg(sysu_root, tmp_path, trials=1)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.TEST.ROC.ENABLED = False
    evaluator = build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), "")
    evaluator.progress = False
    results = evaluator.evaluate(PooledPixelModel(), quick=True)
    assert not any("TPR@" in k for m in results.values() for k in m)
    assert not any("TPR@" in str(k) for k in evaluator.result_keys(True))
