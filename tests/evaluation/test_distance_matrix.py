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


def test_trials_scored_at_once_give_the_same_numbers_in_order(monkeypatch):
    """TEST.RANKING.TRIAL_WORKERS: the 4 protocols x 3 trials on worker threads equal, bit for bit and in
    trial order (curves too), the trials scored one after another; the key reaches the options."""
    from fastreid_ext.config import get_cfg
    from fastreid_ext.evaluation.protocols import trial_workers
    from fastreid_ext.utils.threads import per_thread_intra_op

    query, gallery = _feature_sets()
    cfg = get_cfg()
    assert RankingOptions.from_config(cfg).trial_workers == cfg.TEST.RANKING.TRIAL_WORKERS == 0
    args = (query, gallery, ["f", "g"], ["all", "indoor"], ["single", "multi"], 3, 4)
    one = run_sysu(*args, RankingOptions(backend="torch", max_rows=17, trial_workers=1))
    import threading

    from fastreid_ext.evaluation import match_positions, metrics

    seen, kernel = [], match_positions.bucket_chunk_stats
    monkeypatch.setattr(metrics, "bucket_chunk_stats",
                        lambda *a, **k: seen.append((threading.get_ident(), torch.get_num_threads())) or kernel(*a, **k))
    three = run_sysu(*args, RankingOptions(backend="torch", max_rows=17, trial_workers=3))
    if per_thread_intra_op():  # else map_in_order runs them one after another
        assert {n for _, n in seen} == {1} and threading.get_ident() not in {t for t, _ in seen}
        assert len({t for t, _ in seen}) > 1
    assert trial_workers(RankingOptions(backend="torch", trial_workers=3), "cpu") == 3
    assert trial_workers(RankingOptions(backend="faiss-cpu", trial_workers=3), "cpu") == 1
    assert len(one) == len(three) == 8
    for a, b in zip(one, three):
        assert (a.task, a.feature, a.info) == (b.task, b.feature, b.info)
        assert a.trials == b.trials and a.cmc_curves == b.cmc_curves
        assert len(a.trials) == 3
    assert len({str(r.trials) for r in one}) == 8  # the trials differ between protocols: order would show
