"""One ranking path: rank lists (tools/visualize_ranks.py, tools/search.py) rank through the
evaluator's distance source, so flip, AQE and re-ranking mean the same everywhere."""
import numpy as np
import pytest
import torch

from fastreid_ext.evaluation.camera_rules import CameraPairRule, SameCameraRule
from fastreid_ext.evaluation.distances import MatrixSource
from fastreid_ext.evaluation.metrics import compute_metrics
from fastreid_ext.evaluation.protocols import trial_metrics
from fastreid_ext.evaluation.protocol_api import Task
from fastreid_ext.evaluation.rank_visualization import average_precision
from fastreid_ext.evaluation.ranking import ranked_rows
from fastreid_ext.evaluation.distances import distance_sources, prepare_features
from fastreid_ext.evaluation.types import FeatureSet, RankingOptions, TestTimeOptions


def _sets(seed=0, nq=24, ng=60, ids=8):
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    centers = torch.randn(ids, 16, generator=g)
    qp, gp = rng.integers(0, ids, nq), rng.integers(0, ids, ng)
    qf = centers[qp] + 0.8 * torch.randn(nq, 16, generator=g)
    gf = centers[gp] + 0.8 * torch.randn(ng, 16, generator=g)
    q = FeatureSet({"FC": qf}, qp, rng.choice([3, 6], nq), [f"q{i}" for i in range(nq)])
    gal = FeatureSet({"FC": gf}, gp, rng.choice([1, 2, 4, 5], ng), [f"g{i}" for i in range(ng)])
    return q, gal


@pytest.mark.parametrize("tt", [TestTimeOptions(), TestTimeOptions(aqe=True),
                                TestTimeOptions(rerank=True, rerank_k1=6, rerank_k2=3),
                                TestTimeOptions(aqe=True, rerank=True, rerank_k1=6, rerank_k2=3)])
@pytest.mark.parametrize("rule", [None, CameraPairRule(3, 2), SameCameraRule()])
def test_rank_lists_give_the_evaluators_map(tt, rule):
    """Mean AP over the rank lists of every query == the evaluator's mAP with the same options."""
    query, gallery = _sets()
    opts = RankingOptions(backend="torch", test_time=tt)
    task = Task("t", query, gallery, None, rule, False, {})
    q, g = prepare_features(query.features["FC"], gallery.features["FC"], opts)
    evaluated = trial_metrics(next(distance_sources(q, g, None, opts)), query.pids, gallery.pids, query.camids,
                              gallery.camids, task, opts)
    lists = ranked_rows(query, gallery, "FC", range(len(query)), opts, rule)
    aps = [average_precision(gallery.pids[np.asarray(r)] == query.pids[i]) for i, (r, _) in enumerate(lists)]
    assert np.nanmean(aps) * 100 == pytest.approx(evaluated["mAP"], abs=1e-6)
    r1 = [gallery.pids[r[0]] == query.pids[i] for i, (r, _) in enumerate(lists) if not np.isnan(aps[i])]
    assert np.mean(r1) * 100 == pytest.approx(evaluated["Rank-1"], abs=1e-6)


def test_aqe_changes_the_rank_lists():
    query, gallery = _sets(1)
    plain = ranked_rows(query, gallery, "FC", [0, 1, 2], RankingOptions(backend="torch"))
    aqe = ranked_rows(query, gallery, "FC", [0, 1, 2], RankingOptions(backend="torch", test_time=TestTimeOptions(aqe=True)))
    assert [r for r, _ in plain] != [r for r, _ in aqe]  # the option reaches the lists (rank lists ignored it before)


def test_distances_are_the_sources_values():
    query, gallery = _sets(2)
    d = -(torch.nn.functional.normalize(query.features["FC"]) @ torch.nn.functional.normalize(gallery.features["FC"]).T)
    [(order, dists)] = ranked_rows(query, gallery, "FC", [5], RankingOptions(backend="torch"))
    assert order == torch.sort(d[5], stable=True).indices.tolist()
    assert np.allclose(dists, torch.sort(d[5], stable=True).values.numpy(), atol=1e-6)
    m = compute_metrics(MatrixSource(d), query.pids, gallery.pids)
    assert 0 <= m.mAP <= 1
