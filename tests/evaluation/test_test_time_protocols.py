"""AQE and re-ranking inside the protocols: each SYSU trial gallery is post-processed on its own
(checked against the functions applied by hand to that trial's features), and every run names the
number of gallery identities of each trial (the chance Rank-1 of the summary table)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fastreid_ext.evaluation import eval_regdb, eval_sysu, k_reciprocal_distance
from fastreid_ext.evaluation.postprocess import average_query_expansion
from fastreid_ext.evaluation.protocols import draw_sysu_gallery, group_gallery_images, run_regdb, run_sysu
from fastreid_ext.evaluation.types import FeatureSet, RankingOptions, TestTimeOptions


def _sysu_sets(dim=6):
    rng = np.random.default_rng(1)
    gen = torch.Generator().manual_seed(1)
    centres = torch.randn(8, dim, generator=gen)
    qp, qc = rng.integers(0, 8, 30), rng.choice([3, 6], 30)
    # identity 7 has no image in cameras 1 and 2: the indoor galleries hold 7 identities, all-search 8
    gp, gc = np.repeat(np.arange(8), 8), np.tile(np.repeat([1, 2, 4, 5], 2), 8)
    gc[gp == 7] = np.where(gc[gp == 7] < 4, gc[gp == 7] + 3, gc[gp == 7])
    paths = [f"cam{c}/{p:04d}/{i:04d}.jpg" for i, (p, c) in enumerate(zip(gp, gc))]
    feats = lambda pids: {"FC": centres[pids] + 0.8 * torch.randn(len(pids), dim, generator=gen)}  # noqa: E731
    return FeatureSet(feats(qp), qp, qc, [""] * 30), FeatureSet(feats(gp), gp, gc, paths)


def _trial_galleries(gallery, mode, trials):
    groups = group_gallery_images(gallery.pids, gallery.camids, gallery.paths)
    return [draw_sysu_gallery(groups, mode, "single", t) for t in range(trials)]


@pytest.mark.parametrize("test_time", [TestTimeOptions(rerank=True, rerank_k1=4, rerank_k2=2),
                                       TestTimeOptions(aqe=True, aqe_k=3, aqe_alpha=2.0)])
def test_sysu_post_processes_each_trial_gallery(test_time):
    query, gallery = _sysu_sets()
    opts = RankingOptions(backend="torch", distance="cosine", test_time=test_time)
    runs = run_sysu(query, gallery, ["FC"], ["all", "indoor"], ["single"], 2, 10, opts)
    plain = run_sysu(query, gallery, ["FC"], ["all"], ["single"], 2, 10, RankingOptions(backend="torch"))
    assert [r.task for r in runs] == ["all-single", "indoor-single"]
    for run in runs:
        mode = run.task.split("-")[0]
        galleries = _trial_galleries(gallery, mode, 2)
        assert run.info["gallery_ids"] == [8 if mode == "all" else 7] * 2
        for trial, idx in zip(run.trials, galleries):
            q, g = F.normalize(query.features["FC"]), F.normalize(gallery.features["FC"][idx])
            if test_time.rerank:
                dist = k_reciprocal_distance(q, g, 4, 2, 0.3, distance="cosine", backend="torch")
            else:
                q, g = average_query_expansion(q, g, 1, 3, 2.0)
                dist = -(F.normalize(q) @ F.normalize(g).t())
            cmc, mAP, mINP = eval_sysu(dist.numpy(), query.pids, gallery.pids[idx], query.camids, gallery.camids[idx])
            assert trial["Rank-1"] == pytest.approx(100 * cmc[0])
            assert trial["mAP"] == pytest.approx(100 * mAP)
            assert trial["mINP"] == pytest.approx(100 * mINP)
    assert runs[0].trials != plain[0].trials  # the option changed the numbers


def test_regdb_reranks_and_counts_gallery_identities():
    query, gallery = _sysu_sets()
    opts = RankingOptions(backend="torch", distance="euclidean", test_time=TestTimeOptions(rerank=True, rerank_k1=5, rerank_k2=1))
    (run,) = run_regdb(query, gallery, ["FC"], ["visible2infrared"], 1, opts)
    assert run.info["gallery_ids"] == [8]
    dist = k_reciprocal_distance(query.features["FC"], gallery.features["FC"], 5, 1, 0.3, distance="euclidean", backend="torch")
    cmc, mAP, _ = eval_regdb(dist.numpy(), query.pids, gallery.pids)
    assert run.trials[0]["Rank-1"] == pytest.approx(100 * cmc[0])
    assert run.trials[0]["mAP"] == pytest.approx(100 * mAP)
