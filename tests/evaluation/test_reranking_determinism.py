"""Re-ranking depends on the query and gallery sets, not their order: trials that draw the same gallery
images in another order (SYSU multi-shot) give bit-identical distances, even with tied distances."""
import numpy as np
import pytest
import torch

from fastreid_ext.evaluation import k_reciprocal_distance
from fastreid_ext.evaluation.reranking import canonical_order


def _tied_features(nq=120, ng=260, dim=4, ids=12, seed=0):
    """Clustered features on a coarse lattice: many exactly equal distances (ties at the k1 boundary)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(ids, dim)) * 2
    qf = np.round(centres[rng.integers(0, ids, nq)] + 0.8 * rng.normal(size=(nq, dim)))
    gf = np.round(centres[rng.integers(0, ids, ng)] + 0.8 * rng.normal(size=(ng, dim)))
    return qf.astype(np.float32), gf.astype(np.float32)


@pytest.mark.parametrize("backend", ["torch", "faiss"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_reordered_identical_galleries_give_bit_identical_distances(backend, distance):
    if backend == "faiss":
        pytest.importorskip("faiss")
    qf, gf = _tied_features()
    rng = np.random.default_rng(1)
    first = k_reciprocal_distance(qf, gf, distance=distance, backend=backend)
    assert torch.equal(first, k_reciprocal_distance(qf, gf, distance=distance, backend=backend))  # same order
    for _ in range(3):  # the same images drawn in another order, queries reordered too
        g_perm, q_perm = rng.permutation(len(gf)), rng.permutation(len(qf))
        other = k_reciprocal_distance(qf[q_perm], gf[g_perm], distance=distance, backend=backend)
        assert torch.equal(other, first[q_perm][:, g_perm])


def test_ties_exist_in_the_test_data():
    """Guard: without ties (and a tie-break by position) the test above could not fail."""
    qf, gf = _tied_features()
    x = np.concatenate([qf, gf])
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    kth = np.sort(d, 1)[:, 21]  # distance of the k1+1-th neighbour (k1 = 20)
    assert (np.sum(d == kth[:, None], 1) > 1).mean() > 0.5


def test_canonical_order_is_a_function_of_the_rows():
    x = torch.tensor([[1.0, 2.0], [0.5, 3.0], [1.0, -2.0], [0.5, 3.0]])
    order = canonical_order(x)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    perm = torch.tensor([3, 0, 2, 1])
    assert torch.equal(x[order], x[perm][canonical_order(x[perm])])
