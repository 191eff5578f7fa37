"""Ranking backends: identical rankings on tie-free data, the GPU top-k limit, lazy faiss import."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from fastreid_ext.evaluation import faiss_search
from fastreid_ext.evaluation.distances import FeatureSource, distance_sources, prepare_features
from fastreid_ext.evaluation.faiss_search import RankingSource, resolve_backend, sharded_topk, stable_ties
from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, compute_metrics
from fastreid_ext.evaluation.ranking import rank_gallery
from fastreid_ext.evaluation.types import RankingOptions


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 24, generator=g), torch.randn(230, 24, generator=g)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_faiss_cpu_and_torch_rank_identically(feats, distance):
    q, g = feats
    d_t, i_t = rank_gallery(q, g, 230, "torch", distance, max_rows=16)
    d_f, i_f = rank_gallery(q, g, 230, "faiss", distance)
    assert torch.equal(i_t, i_f)
    assert torch.allclose(d_t, d_f, atol=1e-4)
    _, i_top = rank_gallery(q, g, 7, "faiss", distance)
    assert torch.equal(i_top, i_t[:, :7])


def test_sharded_topk_merges_to_the_unsharded_result(feats):
    q, g = feats
    d = -(torch.nn.functional.normalize(q) @ torch.nn.functional.normalize(g).t())
    calls = []

    def search(start, end, k):
        calls.append(k)
        assert k <= 16
        dist, idx = torch.sort(d[:, start:end], dim=1, stable=True)
        return dist[:, :k], idx[:, :k]

    full_d, full_i = torch.sort(d, dim=1, stable=True)
    for k in (5, 16, 17, 100, 230):
        calls.clear()
        dist, idx = sharded_topk(search, 230, k, limit=16)
        assert torch.equal(idx, full_i[:, :k]) and torch.equal(dist, full_d[:, :k])
        assert len(calls) == (1 if k <= 16 else 15)


def test_stable_ties_orders_equal_distances_by_index():
    dist = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    idx = torch.tensor([[3, 0, 2, 1]])
    d2, i2 = stable_ties(dist, idx)
    assert i2.tolist() == [[0, 2, 3, 1]] and d2.tolist() == dist.tolist()


class _FakeGpuFaiss:
    """A stand-in for GPU faiss: CPU flat indexes that refuse k > 2048, as GPU faiss does."""

    def __init__(self, faiss):
        self.faiss, self.max_k = faiss, 0

    def __getattr__(self, name):
        return getattr(self.faiss, name)

    def get_num_gpus(self):
        return 1

    def StandardGpuResources(self):  # noqa: N802 - faiss's name
        return object()

    def index_cpu_to_gpu(self, res, device, index):
        fake = self

        class Limited:
            def add(self, x):
                index.add(x)

            def search(self, q, k):
                assert k <= faiss_search.GPU_TOPK_LIMIT, f"GPU faiss cannot select k={k}"
                fake.max_k = max(fake.max_k, k)
                return index.search(q, k)

        return Limited()


def test_gpu_backend_respects_the_topk_limit(monkeypatch):
    import faiss

    fake = _FakeGpuFaiss(faiss)
    monkeypatch.setattr(faiss_search, "_faiss", lambda: fake)
    assert resolve_backend("auto") == "faiss-gpu" and resolve_backend("faiss") == "faiss-gpu"
    gen = torch.Generator().manual_seed(1)
    q, g = torch.randn(6, 8, generator=gen), torch.randn(5000, 8, generator=gen)
    _, i_gpu = rank_gallery(q, g, 5000, "faiss", "cosine")
    _, i_t = rank_gallery(q, g, 5000, "torch", "cosine")
    assert fake.max_k == faiss_search.GPU_TOPK_LIMIT
    # the metrics on GPU FAISS read full rankings merged from shards of at most GPU_TOPK_LIMIT items
    rng = np.random.default_rng(2)
    qp, gp = rng.integers(0, 50, 6), rng.integers(0, 50, 5000)
    opts = RankingOptions(backend=resolve_backend("faiss"))
    (source,) = distance_sources(*prepare_features(q, g, opts), None, opts)
    assert isinstance(source, RankingSource)
    a = compute_metrics(source, qp, gp, None, None, None, 20, False)
    b = compute_metrics(FeatureSource(q, g), qp, gp, None, None, None, 20, False)
    np.testing.assert_array_equal(a.cmc, b.cmc)
    assert a.mAP == pytest.approx(b.mAP, abs=1e-12) and a.mINP == pytest.approx(b.mINP, abs=1e-12)
    assert torch.equal(i_gpu, i_t)


def test_resolve_backend_without_gpu_and_unknown_name(monkeypatch):
    monkeypatch.setattr(faiss_search, "_faiss_gpus", lambda: 0)
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("auto") == "torch"  # no GPU here: torch is faster than a full FAISS ranking
    assert resolve_backend("faiss") == "faiss-cpu"
    with pytest.raises(ValueError, match="TEST.RANKING.BACKEND"):
        resolve_backend("annoy")


def test_faiss_ranking_metrics_equal_torch_block_metrics(feats):
    q, g = feats
    rng = np.random.default_rng(0)
    qp, gp = rng.integers(0, 9, 40), rng.integers(0, 9, 230)
    qc, gc = rng.choice([3, 6], 40), rng.choice([1, 2, 4, 5], 230)
    opts = RankingOptions(backend=resolve_backend("faiss"))
    (source,) = distance_sources(*prepare_features(q, g, opts), None, opts)
    assert isinstance(source, RankingSource)  # the metrics read full FAISS rankings
    a = compute_metrics(source, qp, gp, qc, gc, SYSU_REMOVAL, 20, True)
    b = compute_metrics(FeatureSource(q, g), qp, gp, qc, gc, SYSU_REMOVAL, 20, True)
    np.testing.assert_allclose(a.cmc, b.cmc)
    np.testing.assert_allclose(a.cmc_standard, b.cmc_standard)
    assert a.mAP == pytest.approx(b.mAP, abs=1e-12) and a.mINP == pytest.approx(b.mINP, abs=1e-12)


def test_faiss_is_not_imported_by_the_package():
    code = "import sys, fastreid_ext.evaluation as e; e.eval_sysu; print('faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
