"""The match-position kernel (bucketing) against the searchsorted reference kernel and the brute-force
community algorithm."""
import numpy as np
import pytest
import torch

from community_reference import reference_eval
from fastreid_ext.evaluation.distances import MatrixSource
from fastreid_ext.evaluation.match_positions import GalleryLayout, Workspace, bucket_chunk_stats
from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, _restriction
from searchsorted_reference import fast_chunk_stats


def _stats(kernel, d, qp, gp, qc, gc, regroup, **kw):
    q_res, g_rem = _restriction(qc, gc, SYSU_REMOVAL)
    layout = GalleryLayout.build(gp, g_rem, regroup=regroup)
    src = MatrixSource(d)
    src.set_layout(layout)
    qi, qr = layout.query_index(qp), torch.as_tensor(q_res)
    return kernel(src.regrouped(0, len(qp), Workspace()), qi, qr, layout, True, **kw)


def both_kernels(d, qp, gp, qc, gc, buckets):
    """(bucket stats, searchsorted stats), restricted rows included: the bucket kernel on blocks in
    gallery order (the default) and regrouped by identity, bucketing every item and only the items
    at or before each row's last match (equal stats), the reference on the regrouped block it needs."""
    a = _stats(bucket_chunk_stats, d, qp, gp, qc, gc, False, buckets=buckets, compact_limit=0.0)
    for regroup in (False, True):
        assert_same(a, _stats(bucket_chunk_stats, d, qp, gp, qc, gc, regroup, buckets=buckets, compact_limit=1.0))
    assert_same(a, _stats(bucket_chunk_stats, d, qp, gp, qc, gc, True, buckets=buckets, compact_limit=0.0))
    return a, _stats(fast_chunk_stats, d, qp, gp, qc, gc, True)


def assert_same(a, b):
    assert torch.equal(a.num_matches, b.num_matches)
    v = a.num_matches > 0
    for name in ("first_pos", "id_rank"):
        assert torch.equal(getattr(a, name)[v], getattr(b, name)[v]), name
    torch.testing.assert_close(a.ap[v], b.ap[v], rtol=0, atol=1e-12)
    torch.testing.assert_close(a.inp[v], b.inp[v], rtol=0, atol=1e-12)


@pytest.mark.parametrize("decimals", [None, 2, 1], ids=["tie-free", "ties", "heavy-ties"])
@pytest.mark.parametrize("buckets", [1, 2, 7, 0], ids=["B1", "B2", "B7", "default"])
def test_bucket_kernel_equals_searchsorted_and_brute_force(decimals, buckets):
    rng = np.random.default_rng(3)
    for _ in range(8):
        nq, ng, nid = int(rng.integers(1, 40)), int(rng.integers(5, 90)), int(rng.integers(2, 12))
        qp, gp = rng.integers(0, nid + 1, nq), rng.integers(0, nid, ng)
        qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
        d = rng.random((nq, ng)) if decimals is None else np.round(rng.random((nq, ng)), decimals)
        a, b = both_kernels(d, qp, gp, qc, gc, buckets)
        assert_same(a, b)
        v = (a.num_matches > 0).numpy()
        if v.any():
            author, std, mAP, _, nv = reference_eval(d, qp, gp, qc, gc, sysu=True)
            assert int(v.sum()) == nv
            assert float(a.ap[v].mean()) == pytest.approx(mAP, abs=1e-12)
            k = min(20, len(author))
            assert np.allclose(np.cumsum(np.bincount(a.id_rank[v].numpy() - 1, minlength=ng + 20))[:k] / nv, author[:k])
            assert np.allclose(np.cumsum(np.bincount(a.first_pos[v].numpy() - 1, minlength=ng + 20))[:k] / nv, std[:k])


def test_all_matches_in_one_bucket_and_equal_match_distances():
    rng = np.random.default_rng(4)
    nq, ng = 6, 60
    gp = rng.integers(0, 4, ng)
    qp = np.array([0, 1, 2, 3, 0, 1])
    qc, gc = np.full(nq, 6), rng.choice([1, 4], ng)
    d = rng.random((nq, ng))
    d[0, gp == 0] = 0.5  # every match at one distance, tied with non-matches
    d[0, gp == 2] = 0.5
    d[1, gp == 1] = 0.3 + 1e-7 * np.arange((gp == 1).sum())  # matches in a tiny range: one bucket
    d[2] = 0.25  # the whole row tied
    d[4, gp == 0] = 0.0  # matches first
    d[5, gp == 1] = 1.0 + np.arange((gp == 1).sum())  # matches last, spread beyond the others
    for buckets in (1, 3, 0):
        a, b = both_kernels(d, qp, gp, qc, gc, buckets)
        assert_same(a, b)
    ref = reference_eval(d, qp, gp, qc, gc, sysu=True)
    assert float(a.ap.mean()) == pytest.approx(ref[2], abs=1e-12)


def test_float32_block_and_nan_non_match():
    torch.manual_seed(0)
    q, g = torch.randn(30, 8), torch.randn(200, 8)
    d = -(torch.nn.functional.normalize(q) @ torch.nn.functional.normalize(g).t())
    rng = np.random.default_rng(5)
    qp, gp = rng.integers(0, 6, 30), rng.integers(0, 6, 200)
    qc, gc = rng.choice([3, 6], 30), rng.choice([1, 2, 4, 5], 200)
    a, b = both_kernels(d, qp, gp, qc, gc, 0)
    assert_same(a, b)
    d[0, np.flatnonzero(gp != qp[0])[:3]] = float("nan")  # non-matches without a distance rank last
    a, _ = both_kernels(d, qp, gp, qc, gc, 0)
    ref = reference_eval(torch.nan_to_num(d, nan=np.inf).numpy(), qp, gp, qc, gc, sysu=True)
    assert float(a.ap[a.num_matches > 0].mean()) == pytest.approx(ref[2], abs=1e-9)


def test_many_rows_are_split_below_the_bucket_id_limit():
    rng = np.random.default_rng(6)
    nq, ng = 2500, 40
    qp, gp = rng.integers(0, 5, nq), rng.integers(0, 5, ng)
    qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
    d = np.round(rng.random((nq, ng)), 2)
    a, b = both_kernels(d, qp, gp, qc, gc, 4094)  # 2500 rows x 4096 buckets > 2^23: split in two
    assert_same(a, b)
    v = (a.num_matches > 0).numpy()
    author, std, mAP, mINP, nv = reference_eval(d, qp, gp, qc, gc, sysu=True)
    assert int(v.sum()) == nv
    assert float(a.ap[v].mean()) == pytest.approx(mAP, abs=1e-12)
    assert float(a.inp[v].mean()) == pytest.approx(mINP, abs=1e-12)
    assert np.allclose(np.cumsum(np.bincount(a.id_rank[v].numpy() - 1, minlength=60))[:20] / nv, author[:20])
    assert np.allclose(np.cumsum(np.bincount(a.first_pos[v].numpy() - 1, minlength=60))[:20] / nv, std[:20])


def test_two_equal_match_distances_brute_force():
    """Row 822 of the case above: both matches at 0.26 with a camera-removed match between them in
    regrouped order, nine items before them (brute force: first match at position 10). The
    searchsorted kernel missed this tie (it checked equal matches with the unsorted validity mask)."""
    rng = np.random.default_rng(6)
    qp, gp = rng.integers(0, 5, 2500), rng.integers(0, 5, 40)
    qc, gc = rng.choice([3, 6], 2500), rng.choice([1, 2, 4, 5], 40)
    d = np.round(rng.random((2500, 40)), 2)[822:823]
    a, b = both_kernels(d, qp[822:823], gp, qc[822:823], gc, 0)
    assert_same(a, b)
    ref = reference_eval(d, qp[822:823], gp, qc[822:823], gc, sysu=True)
    assert int(a.first_pos[0]) == 10 and ref[1][9] == 1 and ref[1][8] == 0
    assert float(a.ap[0]) == pytest.approx(ref[2], abs=1e-12)


def test_a_trained_ranking_buckets_only_the_items_before_the_last_match(monkeypatch):
    """Matches near the top of every row (as a trained model ranks them): the kernel buckets only the
    items at or before each row's last match (the default limit), with the stats of bucketing all."""
    from fastreid_ext.evaluation import match_positions

    rng = np.random.default_rng(8)
    nq, ng = 50, 400
    qp, gp = rng.integers(0, 25, nq), rng.integers(0, 25, ng)  # about 16 matches per row of 400
    qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
    d = rng.random((nq, ng)) + 2.0 * (qp[:, None] != gp[None, :])  # every match before every non-match
    d[::7, :5] = 0.1  # a few non-matches ranked among them
    seen = []
    kept_items = match_positions._kept_items
    monkeypatch.setattr(match_positions, "_kept_items", lambda d, flat, *a: seen.append(flat.numel()) or kept_items(d, flat, *a))
    default = _stats(bucket_chunk_stats, d, qp, gp, qc, gc, False)
    assert len(seen) == 1 and 0 < seen[0] < match_positions.COMPACT_LIMIT * d.size
    full = _stats(bucket_chunk_stats, d, qp, gp, qc, gc, False, compact_limit=0.0)
    assert_same(default, full)
    assert_same(default, _stats(fast_chunk_stats, d, qp, gp, qc, gc, True))
