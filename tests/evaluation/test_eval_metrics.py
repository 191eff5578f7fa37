"""eval_sysu / eval_regdb: golden values (docs/protocols.md, "Evaluation metrics") and the community algorithm on random cases."""
import threading

import numpy as np
import pytest
import torch

from fastreid_ext.evaluation.distances import FeatureSource, MatrixSource
from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, compute_metrics, eval_regdb, eval_sysu

from community_reference import reference_eval


def golden_case():
    g = np.repeat(np.arange(1, 26), 4)
    gc = np.tile([1, 2, 4, 5], 25)
    q, qc = np.array([1, 2, 3, 4]), np.array([3, 3, 6, 6])
    i = np.arange(100)
    d = np.stack([((37 * i + 11 * k) % 100) / 100 for k in range(4)])
    for a, b, v in [(0, 0, -1.0), (0, 1, -2.0), (1, 6, 0.005), (2, 8, 0.5005), (2, 9, 0.0115),
                    (2, 10, 0.3005), (2, 11, 0.9005), (3, 12, -0.5)]:
        d[a, b] = v
    return d, q, g, qc, gc


def test_golden_sysu():
    d, q, g, qc, gc = golden_case()
    cmc, mAP, mINP = eval_sysu(d, q, g, qc, gc)
    assert cmc.shape == (20,)
    np.testing.assert_allclose(cmc[:5], [0.75, 0.75, 1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(cmc[5:], 1.0)
    assert mAP == pytest.approx(0.305918, abs=1e-6)
    assert mINP == pytest.approx(0.049649, abs=1e-6)


def test_golden_regdb():
    d, q, g, _, _ = golden_case()
    cmc, mAP, mINP = eval_regdb(d, q, g)
    np.testing.assert_allclose(cmc[:5], [0.5, 0.75, 1, 1, 1], atol=1e-7)
    assert mAP == pytest.approx(0.289156, abs=1e-6)
    assert mINP == pytest.approx(0.045748, abs=1e-6)


def random_case(rng, nq, ng, nid, absent=0, decimals=None):
    qp = rng.integers(0, nid + absent, nq)
    gp = rng.integers(0, nid, ng)
    qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
    d = rng.random((nq, ng))
    if decimals is not None:
        d = np.round(d, decimals)
    return d, qp, gp, qc, gc


def assert_matches_reference(m, ref, identity=True):
    author, std, mAP, mINP, nv = ref
    np.testing.assert_allclose(m.cmc_standard, std, atol=1e-6)
    if identity:
        np.testing.assert_allclose(m.cmc_identity, author, atol=1e-6)
    assert m.mAP == pytest.approx(mAP, abs=1e-9)
    assert m.mINP == pytest.approx(mINP, abs=1e-9)
    assert m.num_valid == nv


@pytest.mark.parametrize("decimals", [None, 1], ids=["tie-free", "ties-stable-order"])
def test_random_cases_match_community_algorithm(decimals):
    rng = np.random.default_rng(0)
    checked = 0
    for t in range(20):
        d, qp, gp, qc, gc = random_case(rng, rng.integers(1, 50), rng.integers(20, 80), rng.integers(2, 15), absent=2, decimals=decimals)
        if not np.isin(qp, gp).any():
            continue
        for sysu in (True, False):
            try:
                ref = reference_eval(d, qp, gp, qc, gc, sysu=sysu)
            except AssertionError:
                continue
            removal = SYSU_REMOVAL if sysu else None
            for rows in (0, 7):
                m = compute_metrics(MatrixSource(d), qp, gp, qc, gc, removal, 20, True, max_rows=rows)
                assert_matches_reference(m, ref)
            checked += 1
    assert checked > 20


def test_public_functions_equal_community_cmc_variant():
    rng = np.random.default_rng(1)
    d, qp, gp, qc, gc = random_case(rng, 60, 120, 10)
    ref = reference_eval(d, qp, gp, qc, gc, sysu=True)
    cmc, mAP, mINP = eval_sysu(d, qp, gp, qc, gc)
    np.testing.assert_allclose(cmc, ref[0], atol=1e-6)  # the author (identity) CMC is the returned one
    assert not np.allclose(ref[0], ref[1])  # and it differs from the standard CMC on this case
    ref_r = reference_eval(d, qp, gp, sysu=False)
    cmc_r, mAP_r, _ = eval_regdb(d, qp, gp)
    np.testing.assert_allclose(cmc_r, ref_r[1], atol=1e-6)
    assert mAP_r == pytest.approx(ref_r[2], abs=1e-9)


def test_feature_source_matches_matrix_and_float32_chunks():
    torch.manual_seed(0)
    qf, gf = torch.randn(70, 16), torch.randn(150, 16)
    rng = np.random.default_rng(2)
    qp, gp = rng.integers(0, 12, 70), rng.integers(0, 12, 150)
    qc, gc = rng.choice([3, 6], 70), rng.choice([1, 2, 4, 5], 150)
    for distance in ("cosine", "euclidean"):
        qn, gn = (torch.nn.functional.normalize(qf), torch.nn.functional.normalize(gf)) if distance == "cosine" else (qf, gf)
        d = -(qn @ gn.t()) if distance == "cosine" else torch.cdist(qf.double(), gf.double()) ** 2
        ref = reference_eval(d.double().numpy(), qp, gp, qc, gc, sysu=True)
        m = compute_metrics(FeatureSource(qf, gf, distance), qp, gp, qc, gc, SYSU_REMOVAL, 20, True, max_rows=16)
        assert_matches_reference(m, ref)


def test_query_identity_absent_is_skipped_and_counted():
    rng = np.random.default_rng(3)
    d, qp, gp, qc, gc = random_case(rng, 30, 60, 6)
    qp[:5] = 99  # absent from the gallery
    m = compute_metrics(MatrixSource(d), qp, gp, qc, gc, SYSU_REMOVAL)
    ref = reference_eval(d, qp, gp, qc, gc, sysu=True)
    assert (m.num_valid, m.num_queries) == (25, 30)
    assert_matches_reference(m, ref)


def test_gallery_smaller_than_max_rank_pads_last_value():
    rng = np.random.default_rng(4)
    d, qp, gp, qc, gc = random_case(rng, 10, 6, 3)
    cmc, mAP, _ = eval_sysu(d, qp, gp, qc, gc, max_rank=20)
    assert cmc.shape == (20,)
    ref = reference_eval(d, qp, gp, qc, gc, sysu=True)
    np.testing.assert_allclose(cmc, ref[0], atol=1e-6)
    assert (cmc[6:] == cmc[5]).all() and cmc[-1] == pytest.approx(1.0)
    assert mAP == pytest.approx(ref[2], abs=1e-9)


def test_camera_rule_removes_every_item_of_a_query():
    # gallery only cam2: cam3 queries see nothing (invalid), cam6 queries see everything
    rng = np.random.default_rng(5)
    gp = np.repeat(np.arange(5), 5)
    gc = np.full(25, 2)
    qp, qc = np.array([0, 1, 2, 3]), np.array([3, 3, 6, 6])
    d = rng.random((4, 25))
    m = compute_metrics(MatrixSource(d), qp, gp, qc, gc, SYSU_REMOVAL)
    assert (m.num_valid, m.num_queries) == (2, 4)
    assert_matches_reference(m, reference_eval(d, qp, gp, qc, gc, sysu=True))
    with pytest.raises(ValueError, match="No valid query"):
        eval_sysu(d[:2], qp[:2], gp, qc[:2], gc)


@pytest.mark.parametrize("nq,ng", [(0, 5), (3, 0)])
def test_empty_pools_raise(nq, ng):
    with pytest.raises(ValueError, match="Empty query or gallery set"):
        eval_sysu(np.zeros((nq, ng)), np.zeros(nq, int), np.zeros(ng, int), np.full(nq, 3), np.ones(ng, int))


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="g_pids"):
        eval_regdb(np.zeros((2, 3)), np.zeros(2, int), np.zeros(4, int))


def test_ties_are_broken_by_gallery_index():
    # all distances equal: the ranking is the gallery order
    gp = np.array([5, 7, 5, 9, 7])
    qp = np.array([7, 9])
    cmc, mAP, mINP = eval_regdb(np.zeros((2, 5)), qp, gp, max_rank=5)
    # query 7: matches at positions 2 and 5; query 9: at position 4
    assert mAP == pytest.approx(((1 / 2 + 2 / 5) / 2 + 1 / 4) / 2)
    assert mINP == pytest.approx((2 / 5 + 1 / 4) / 2)
    np.testing.assert_allclose(cmc, [0, 0.5, 0.5, 1, 1])


@pytest.mark.parametrize("removal,max_rows", [(SYSU_REMOVAL, 0), (None, 700)])
def test_row_workers_give_the_one_thread_numbers(monkeypatch, removal, max_rows):
    """KERNEL_THREADS 0 on CPU: a block's rows are scored in pieces by single-threaded row workers (one per
    intra-op thread of the caller); the metrics equal the block scored whole on one thread, bit for bit,
    with ties (rounded distances), a camera rule, and query chunks."""
    from fastreid_ext.evaluation import match_positions, metrics
    from fastreid_ext.utils.threads import intra_op_threads, per_thread_intra_op

    rng = np.random.default_rng(3)
    nq, ng = 1500, 300
    q, g = rng.integers(0, 40, nq), rng.integers(0, 40, ng)
    qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
    d = torch.from_numpy(np.round(rng.random((nq, ng)), 2).astype(np.float32))
    args = (q, g, qc, gc, removal, 20, True, max_rows)
    with intra_op_threads(1):
        ref = compute_metrics(MatrixSource(d.clone()), *args, kernel_threads=1)
    seen, kernel = [], match_positions.bucket_chunk_stats
    monkeypatch.setattr(metrics, "MIN_PIECE_ELEMENTS", 1 << 16)  # pieces of at least 219 rows here
    monkeypatch.setattr(metrics, "bucket_chunk_stats",
                        lambda b, *a, **k: seen.append((threading.get_ident(), torch.get_num_threads(), len(b)))
                        or kernel(b, *a, **k))
    with intra_op_threads(3):
        got = compute_metrics(MatrixSource(d.clone()), *args, kernel_threads=0)
        assert torch.get_num_threads() == 3  # the workers' one-thread setting stays in the workers
    np.testing.assert_array_equal(got.cmc, ref.cmc)
    np.testing.assert_array_equal(got.cmc_standard, ref.cmc_standard)
    assert (got.mAP, got.mINP, got.num_valid) == (ref.mAP, ref.mINP, ref.num_valid)
    assert sum(n for _, _, n in seen) == nq
    if per_thread_intra_op():  # else the block runs whole on the probed threads
        pieces = [(n, rows) for t, n, rows in seen if t != threading.get_ident()]
        # min(4 per worker, rows // ceil(2^16 / 300 columns)) pieces: 1500 rows -> 6; chunks 700, 700,
        # 100 -> 3 + 3, and the last too short to split (scored whole in the caller)
        assert len(pieces) == (6 if max_rows == 0 else 6) and {n for n, _ in pieces} == {1}
        assert len(seen) - len(pieces) == (0 if max_rows == 0 else 1)


def test_one_thread_scores_a_large_block_in_cache_sized_pieces(monkeypatch):
    """On one thread a block above PIECE_ELEMENTS is scored piece after piece in the caller (same numbers
    as whole); a GPU block would stay whole (one launch per pass)."""
    from fastreid_ext.evaluation import match_positions, metrics

    rng = np.random.default_rng(4)
    nq, ng = 900, 200
    q, g = rng.integers(0, 30, nq), rng.integers(0, 30, ng)
    qc, gc = rng.choice([3, 6], nq), rng.choice([1, 2, 4, 5], ng)
    d = torch.from_numpy(np.round(rng.random((nq, ng)), 2))
    args = (q, g, qc, gc, SYSU_REMOVAL, 20, True)
    whole = compute_metrics(MatrixSource(d.clone()), *args, kernel_threads=1)
    seen, kernel = [], match_positions.bucket_chunk_stats
    monkeypatch.setattr(metrics, "bucket_chunk_stats",
                        lambda b, *a, **k: seen.append((threading.get_ident(), len(b))) or kernel(b, *a, **k))
    monkeypatch.setattr(metrics, "PIECE_ELEMENTS", 200 * 200)  # 900 rows -> ceil(4.5) = 5 pieces of 180
    monkeypatch.setattr(metrics, "MIN_PIECE_ELEMENTS", 100 * 200)
    pieces = compute_metrics(MatrixSource(d.clone()), *args, kernel_threads=1)
    assert [n for _, n in seen] == [180] * 5 and {t for t, _ in seen} == {threading.get_ident()}
    np.testing.assert_array_equal(pieces.cmc, whole.cmc)
    assert (pieces.mAP, pieces.mINP) == (whole.mAP, whole.mINP)
    monkeypatch.undo()
    assert metrics._num_pieces(3803, 3010, 2, torch.device("cpu")) == 8  # four per worker
    assert metrics._num_pieces(3803, 3010, 1, torch.device("cpu")) == 3  # ceil(11.4M / 2^22)
    assert metrics._num_pieces(3803, 301, 2, torch.device("cpu")) == 4  # pieces of at least 2^18 elements
    monkeypatch.setattr(metrics, "PIECE_ELEMENTS", 200 * 200)
    monkeypatch.setattr(metrics, "MIN_PIECE_ELEMENTS", 100 * 200)
    assert metrics._num_pieces(900, 200, 1, torch.device("cuda")) == 1
    assert metrics._num_pieces(900, 200, 1, torch.device("cpu")) == 5
    assert metrics._num_pieces(900, 200, 2, torch.device("cpu")) == 8  # four per worker
    assert metrics._num_pieces(900, 200, 16, torch.device("cpu")) == 9  # pieces of at least MIN_PIECE_ELEMENTS
