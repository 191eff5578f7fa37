"""k-reciprocal re-ranking against a float64, loop-by-loop transcription of the published algorithm
(Zhong et al., CVPR 2017: k-reciprocal sets, their 2/3 expansion, Gaussian-kernel encoding, local
query expansion over k2 neighbours, Jaccard distance, lambda mix with the row-normalised distance)."""
import numpy as np
import pytest
import torch

from fastreid_ext.evaluation import k_reciprocal_distance
from fastreid_ext.evaluation.reranking import k_nearest_neighbours


def reference_rerank(qf, gf, k1, k2, lam):
    """Dense float64 reference, written from the paper's definitions (one image at a time)."""
    x = np.concatenate([qf, gf]).astype(np.float64)
    nq, n = len(qf), len(x)
    dist = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    dist = dist / dist.max(1, keepdims=True)
    rank = np.argsort(dist, axis=1, kind="stable")

    def reciprocal(i, k):
        forward = rank[i, : k + 1]
        return np.array([j for j in forward if i in rank[j, : k + 1]])

    v = np.zeros((n, n))
    for i in range(n):
        r = reciprocal(i, k1)
        expansion = set(r.tolist())
        for c in r:
            rc = reciprocal(c, int(np.around(k1 / 2)))
            if len(np.intersect1d(rc, r)) > 2 / 3 * len(rc):
                expansion.update(rc.tolist())
        e = np.array(sorted(expansion))
        w = np.exp(-dist[i, e])
        v[i, e] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(n)])
    jac = np.zeros((nq, n - nq))
    for i in range(nq):
        for j in range(nq, n):
            inter = np.minimum(v[i], v[j]).sum()
            union = np.maximum(v[i], v[j]).sum()
            jac[i, j - nq] = 1 - inter / union
    return (1 - lam) * jac + lam * dist[:nq, nq:]


def _features(nq=40, ng=55, dim=12, ids=9, seed=0):
    """Clustered features (identities), so the k-reciprocal sets are non-trivial."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(ids, dim))
    qf = centres[rng.integers(0, ids, nq)] + 0.6 * rng.normal(size=(nq, dim))
    gf = centres[rng.integers(0, ids, ng)] + 0.6 * rng.normal(size=(ng, dim))
    return qf.astype(np.float32), gf.astype(np.float32)


@pytest.mark.parametrize("backend", ["torch", "faiss"])
@pytest.mark.parametrize("k1,k2,lam", [(20, 6, 0.3), (5, 1, 0.0), (7, 3, 1.0)])
def test_matches_float64_reference(backend, k1, k2, lam):
    if backend == "faiss":
        pytest.importorskip("faiss")
    qf, gf = _features()
    ours = k_reciprocal_distance(qf, gf, k1, k2, lam, backend=backend)
    assert ours.dtype == torch.float32 and tuple(ours.shape) == (len(qf), len(gf))
    np.testing.assert_allclose(ours.numpy(), reference_rerank(qf, gf, k1, k2, lam), rtol=0, atol=2e-6)


def test_cosine_normalises_first_and_torch_inputs_keep_device():
    qf, gf = _features(seed=1)
    q, g = torch.from_numpy(qf) * 5.0, torch.from_numpy(gf)
    ours = k_reciprocal_distance(q, g, 6, 3, 0.3, distance="cosine", backend="torch")
    qn, gn = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (qf, gf))
    np.testing.assert_allclose(ours.numpy(), reference_rerank(qn, gn, 6, 3, 0.3), atol=2e-6)
    assert ours.device == q.device


def test_rerank_improves_ranking_on_clustered_data():
    """Sanity of the whole thing: the mean rank of true matches gets better (published effect)."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, 16))
    qid, gid = rng.integers(0, 12, 60), np.repeat(np.arange(12), 8)
    qf = centres[qid] + 0.9 * rng.normal(size=(60, 16))
    gf = centres[gid] + 0.9 * rng.normal(size=(96, 16))
    plain = ((qf[:, None] - gf[None]) ** 2).sum(-1)
    rer = k_reciprocal_distance(qf, gf, 8, 3, 0.3, backend="torch").numpy()

    def mean_ap(d):
        aps = []
        for i in range(len(qf)):
            good = gid[np.argsort(d[i], kind="stable")] == qid[i]
            hits = np.cumsum(good)
            aps.append((hits[good] / (np.flatnonzero(good) + 1)).mean())
        return np.mean(aps)

    assert mean_ap(rer) > mean_ap(plain) + 0.01


def test_knn_backends_agree_and_farthest_is_exact():
    pytest.importorskip("faiss")
    qf, gf = _features(seed=2)
    x = torch.from_numpy(np.concatenate([qf, gf]))
    i_t, far_t = k_nearest_neighbours(x, 7, "torch")
    i_f, far_f = k_nearest_neighbours(x, 7, "faiss")
    assert torch.equal(i_t, i_f)
    d = torch.cdist(x.double(), x.double()).pow(2)
    torch.testing.assert_close(far_t.double(), d.max(1).values, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(far_f.double(), d.max(1).values, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"k1": 0}, "TEST.RERANK.K1/K2"), ({"lambda_value": 1.5}, "TEST.RERANK.LAMBDA"),
    ({"distance": "l1"}, "TEST.RANKING.DISTANCE"),
])
def test_bad_arguments_name_the_key(kwargs, match):
    qf, gf = _features()
    with pytest.raises(ValueError, match=match):
        k_reciprocal_distance(qf, gf, **kwargs)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="feature sizes differ"):
        k_reciprocal_distance(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        k_reciprocal_distance(np.zeros((0, 4)), np.zeros((3, 4)))
