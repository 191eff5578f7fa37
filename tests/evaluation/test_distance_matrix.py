"""The SYSU runner's shared query x drawn-columns distance matrix gives the per-trial numbers exactly."""
import numpy as np
import torch

from fastreid_ext.evaluation import distances
from fastreid_ext.evaluation.protocols import run_sysu
from fastreid_ext.evaluation.types import FeatureSet, RankingOptions


def _feature_sets(distance_dim=12):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    qp, qc = rng.integers(0, 8, 90), rng.choice([3, 6], 90)
    gp, gc = np.repeat(np.arange(8), 24), np.tile(np.repeat([1, 2, 4, 5], 6), 8)
    paths = [f"cam{c}/{p:04d}/{i:04d}.jpg" for i, (p, c) in enumerate(zip(gp, gc))]
    feats = lambda n: {"f": torch.randn(n, distance_dim), "g": torch.randn(n, distance_dim)}  # noqa: E731
    return FeatureSet(feats(90), qp, qc, [""] * 90), FeatureSet(feats(len(gp)), gp, gc, paths)


def test_shared_matrix_equals_per_trial_distances(monkeypatch):
    query, gallery = _feature_sets()
    for distance in ("cosine", "euclidean"):
        opts = RankingOptions(backend="torch", distance=distance, max_rows=17)
        args = (query, gallery, ["f", "g"], ["all", "indoor"], ["single", "multi"], 3, 4, opts)
        shared = run_sysu(*args)
        monkeypatch.setattr(distances.DistanceMatrix, "fits", staticmethod(lambda *a, **k: False))
        per_trial = run_sysu(*args)
        monkeypatch.undo()
        assert [(r.task, r.feature) for r in shared] == [(r.task, r.feature) for r in per_trial]
        for a, b in zip(shared, per_trial):
            assert a.info == b.info
            for ta, tb in zip(a.trials, b.trials):
                assert ta.keys() == tb.keys()
                assert all(abs(ta[k] - tb[k]) < 1e-9 for k in ta)
