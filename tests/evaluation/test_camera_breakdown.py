"""Per camera-pair Rank-1/mAP of the first trial: in results.json's ``breakdown`` section, each pair equal
to the community evaluation of the sub-matrix (queries of one camera, gallery items of another), SYSU's
removed pair (infrared 3 -> visible 2) absent, and a table in the log."""
import json
import logging

import numpy as np
import pytest
import torch.nn.functional as F

from community_reference import reference_eval
from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import build_evaluator
from fastreid_ext.evaluation.camera_breakdown import camera_pair_breakdown
from fastreid_ext.evaluation.distances import MatrixSource


def test_breakdown_matches_the_community_evaluation_of_each_pair(sysu_root, tmp_path, caplog):
    cfg = tiny_cfg(sysu_root, tmp_path, trials=2)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.TEST.FEATURES = ["FC"]
    evaluator = build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(tmp_path))
    evaluator.progress = False
    with caplog.at_level(logging.INFO, logger="fastreid_ext.evaluation.cross_modality_evaluator"):
        results = evaluator.evaluate(PooledPixelModel())
    assert "Rank-1 / mAP per camera pair" in caplog.text and "3 -> 1" in caplog.text
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["results"] == results and not any("camera" in k for m in results.values() for k in m)
    query, gallery = evaluator.extract_feature_sets(PooledPixelModel())
    for task in ("all-single", "indoor-multi"):
        pairs = payload["breakdown"][f"SYSU_MM01/{task}"]["FC"]
        q, g, _ = evaluator.protocol.pools(query, gallery, task, 0)
        d = -(F.normalize(q.features["FC"].float(), dim=1) @ F.normalize(g.features["FC"].float(), dim=1).t()).numpy()
        seen = set()
        for p in pairs:
            qs, gs = np.flatnonzero(q.camids == p["query_camera"]), np.flatnonzero(g.camids == p["gallery_camera"])
            cmc, _, m_ap, _, num_valid = reference_eval(d[np.ix_(qs, gs)], q.pids[qs], g.pids[gs], q.camids[qs], g.camids[gs])
            assert p["Rank-1"] == pytest.approx(100 * cmc[0], abs=1e-4) and p["mAP"] == pytest.approx(100 * m_ap, abs=1e-4)
            assert p["gallery_size"] == len(gs) and p["num_queries"] == num_valid > 0
            seen.add((p["query_camera"], p["gallery_camera"]))
        assert (3, 2) not in seen and {(3, 1), (6, 1)} <= seen
        assert {c for _, c in seen} == set(np.unique(g.camids).tolist())


def test_pairs_without_a_shared_identity_are_left_out():
    d = np.arange(12, dtype=np.float32).reshape(3, 4)
    pairs = camera_pair_breakdown(MatrixSource(d), np.array([0, 1, 2]), np.array([0, 1, 5, 6]), np.array([1, 1, 2]),
                                  np.array([3, 3, 4, 4]), None, False, 2)
    assert [(p["query_camera"], p["gallery_camera"]) for p in pairs] == [(1, 3)]
    assert pairs[0]["Rank-1"] == 50.0 and pairs[0]["num_queries"] == 2  # query 0 ranks id 0 first, query 1 does not


def test_attribute_breakdown_matches_the_community_evaluation_of_each_group(sysu_root, tmp_path, caplog):
    """Which attributes fail: the queries with each annotated value against the whole first-trial gallery."""
    cfg = tiny_cfg(sysu_root, tmp_path, trials=2)
    cfg.TEST.FEATURES = ["FC"]
    dataset = build_dataset(cfg, "SYSU_MM01")
    assert dataset.attribute_names  # the synthetic SYSU has attribute files
    evaluator = build_evaluator(cfg, dataset, str(tmp_path))
    evaluator.progress = False
    with caplog.at_level(logging.INFO, logger="fastreid_ext.evaluation.cross_modality_evaluator"):
        evaluator.evaluate(PooledPixelModel())
    assert "Rank-1 / mAP of the queries per attribute value" in caplog.text
    groups = json.loads((tmp_path / "results.json").read_text())["attribute_breakdown"]["SYSU_MM01/all-single"]["FC"]
    query, gallery = evaluator.extract_feature_sets(PooledPixelModel())
    q, g, _ = evaluator.protocol.pools(query, gallery, "all-single", 0)
    d = -(F.normalize(q.features["FC"].float(), dim=1) @ F.normalize(g.features["FC"].float(), dim=1).t()).numpy()
    names = list(dataset.attribute_names)
    assert {a["attribute"] for a in groups} <= set(names) and len(groups) >= len(names)
    for a in groups:
        j = names.index(a["attribute"])
        qs = np.flatnonzero(q.attribute_mask[:, j] & ((q.attributes[:, j] > 0.5) == bool(a["value"])))
        cmc, _, m_ap, _, num_valid = reference_eval(d[qs], q.pids[qs], g.pids, q.camids[qs], g.camids)
        assert a["Rank-1"] == pytest.approx(100 * cmc[0], abs=1e-4) and a["mAP"] == pytest.approx(100 * m_ap, abs=1e-4)
        assert a["num_queries"] == num_valid
