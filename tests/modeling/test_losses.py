"""Losses: golden values (inputs below), brute-force equivalence, order independence, edge cases."""
import math

import pytest
import torch

from fastreid_ext.modeling.losses import (cross_entropy_loss, global_mmd_loss, hetero_center_triplet_loss,
                                          margin_mmd_loss, mmd2)

# ------------------------------- golden inputs (values from a float64 transcription of the reference losses)
P, K, D = 4, 4, 3


def golden_batch():
    rgb = torch.tensor([[math.sin(0.7 * (3 * r + j)) + 0.5 * (r // K) for j in range(D)] for r in range(P * K)],
                       dtype=torch.float64)
    ir = torch.tensor([[math.cos(0.3 * (3 * r + j)) + 0.5 * (r // K) + 0.2 for j in range(D)] for r in range(P * K)],
                      dtype=torch.float64)
    ids = torch.tensor([7, 3, 11, 5]).repeat_interleave(K)
    return torch.cat([rgb, ir]), torch.cat([ids, ids]), torch.tensor([0] * (P * K) + [1] * (P * K))


def test_golden_inputs_as_documented():
    f, _, _ = golden_batch()
    assert torch.allclose(f[0], torch.tensor([0, 0.644218, 0.985450], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(f[P * K], torch.tensor([1.2, 1.155336, 1.025336], dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-8), (torch.float32, 1e-5)])
def test_golden_hetero_center_triplet(dtype, tol):
    f, y, m = golden_batch()
    assert hetero_center_triplet_loss(f.to(dtype), y, m, margin=0.3).item() == pytest.approx(0.25859181, abs=tol)


def test_golden_per_group_mmd():
    f, _, _ = golden_batch()
    rgb, ir = f[: P * K], f[P * K:]
    got = [mmd2(rgb[g * K:(g + 1) * K], ir[g * K:(g + 1) * K]).item() for g in range(P)]
    assert got == pytest.approx([0.80277459, 1.23426992, 0.60683988, 1.30140409], abs=1e-8)


@pytest.mark.parametrize("margin,expected", [(1.40, 0.0), (1.25, 0.32535102), (1.0, 0.63391850), (0.0, 0.98632212)])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-8), (torch.float32, 1e-5)])
def test_golden_margin_mmd(margin, expected, dtype, tol):
    f, y, m = golden_batch()
    assert margin_mmd_loss(f.to(dtype), y, m, margin=margin).item() == pytest.approx(expected, abs=tol)


def test_golden_global_mmd():
    f, y, m = golden_batch()
    assert global_mmd_loss(f, y, m).item() == pytest.approx(0.16381894, abs=1e-8)


# ---------------------------------------------------------------- brute force (explicit loops)
def bf_hctri(f, y, m, margin):
    keys = sorted({(int(m[i]), int(y[i])) for i in range(len(y))})
    centers = []
    for key in keys:
        rows = [f[i] for i in range(len(y)) if (int(m[i]), int(y[i])) == key]
        centers.append([sum(r[d].item() for r in rows) / len(rows) for d in range(f.shape[1])])
    total = 0.0
    for i, ki in enumerate(keys):
        ap, an = -math.inf, math.inf
        for j, kj in enumerate(keys):
            dot = sum(a * b for a, b in zip(centers[i], centers[j]))
            n2 = sum(a * a for a in centers[i]) + sum(b * b for b in centers[j])
            d = math.sqrt(max(n2 - 2 * dot, 1e-12))
            if ki[1] == kj[1]:
                ap = max(ap, d)
            else:
                an = min(an, d)
        total += max(0.0, ap - an + margin) if an < math.inf else 0.0
    return total / len(keys)


def bf_mmd2(xs, ys, num_kernels=5, mul=2.0):
    z = xs + ys
    n = len(z)
    dist = [[sum((a - b) ** 2 for a, b in zip(z[i], z[j])) for j in range(n)] for i in range(n)]
    sigma = sum(map(sum, dist)) / (n * n - n) / mul ** (num_kernels // 2)
    k = [[sum(math.exp(-dist[i][j] / (sigma * mul ** q + 1e-9)) for q in range(num_kernels)) for j in range(n)]
         for i in range(n)]
    nx = len(xs)

    def mean(rs, cs):
        return sum(k[i][j] for i in rs for j in cs) / (len(rs) * len(cs))
    X, Y = range(nx), range(nx, n)
    return mean(X, X) + mean(Y, Y) - mean(X, Y) - mean(Y, X)


def bf_margin_mmd(f, y, m, margin):
    terms = []
    for pid in sorted(set(y.tolist())):
        xs = [f[i].tolist() for i in range(len(y)) if y[i] == pid and m[i] == 0]
        ys = [f[i].tolist() for i in range(len(y)) if y[i] == pid and m[i] == 1]
        if xs and ys:
            v = bf_mmd2(xs, ys)
            terms.append(v if (not margin or v > margin) else 0.0)
    return sum(terms) / len(terms)


def bf_cross_entropy(logits, y, eps):
    total = 0.0
    n = logits.shape[1]
    for i in range(logits.shape[0]):
        row = logits[i].tolist()
        mx = max(row)
        lse = mx + math.log(sum(math.exp(v - mx) for v in row))
        for c in range(n):
            q = (1 - eps) * (c == int(y[i])) + eps / n
            total -= q * (row[c] - lse)
    return total / logits.shape[0]


def random_batch(seed, p=4, k=4, d=8, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randperm(50, generator=g)[:p].repeat_interleave(k)
    f = torch.randn(2 * p * k, d, generator=g, dtype=torch.float64) * scale
    f += ids.repeat(2).unsqueeze(1).double() * 0.05  # some identity structure
    return f, torch.cat([ids, ids]), torch.tensor([0] * (p * k) + [1] * (p * k))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("p,k", [(4, 4), (8, 4), (3, 2)])
def test_hctri_matches_brute_force_and_ignores_order(seed, p, k):
    f, y, m = random_batch(seed, p, k)
    expected = bf_hctri(f, y, m, 0.3)
    assert hetero_center_triplet_loss(f, y, m, 0.3).item() == pytest.approx(expected, abs=1e-9)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + 100))
    assert hetero_center_triplet_loss(f[perm], y[perm], m[perm], 0.3).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("p,k", [(4, 4), (8, 4), (2, 3)])
@pytest.mark.parametrize("margin", [0.0, 0.05])
def test_margin_mmd_matches_brute_force_and_ignores_order(seed, p, k, margin):
    f, y, m = random_batch(seed, p, k, d=5, scale=0.3)
    expected = bf_margin_mmd(f, y, m, margin)
    assert margin_mmd_loss(f, y, m, margin=margin).item() == pytest.approx(expected, abs=1e-9)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + 7))
    assert margin_mmd_loss(f[perm], y[perm], m[perm], margin=margin).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_global_mmd_matches_brute_force_and_ignores_order(seed):
    f, y, m = random_batch(seed, 4, 3, d=4)
    expected = bf_mmd2([r.tolist() for r in f[m == 0]], [r.tolist() for r in f[m == 1]])
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    assert global_mmd_loss(f, y, m).item() == pytest.approx(expected, abs=1e-9)
    assert global_mmd_loss(f[perm], y[perm], m[perm]).item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_matches_brute_force(eps):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 7, (12,), generator=g)
    assert cross_entropy_loss(logits, y, None, epsilon=eps).item() == pytest.approx(bf_cross_entropy(logits, y, eps),
                                                                                   abs=1e-10)


# ---------------------------------------------------------------- gradients and edge cases
def test_margin_mmd_gradient_is_that_of_the_hinge():
    """Above the margin the gradient equals that of MMD² (the logged value is unshifted); below it, zero."""
    f, y, m = golden_batch()
    f = f.clone().requires_grad_(True)
    margin_mmd_loss(f, y, m, margin=1.25).backward()
    g_margin = f.grad.clone()
    f.grad = None
    rgb, ir = f[: P * K], f[P * K:]
    (mmd2(rgb[12:16], ir[12:16]) / P).backward()  # the only group above 1.25 (1.3014)
    assert torch.allclose(g_margin, f.grad, atol=1e-12)


def test_losses_follow_the_features_device_and_dtype():
    f, y, m = golden_batch()
    for fn in (hetero_center_triplet_loss, margin_mmd_loss, global_mmd_loss):
        out = fn(f.float(), y, m)
        assert out.dtype == torch.float32 and out.device == f.device and out.dim() == 0


def test_one_modality_batch_gives_zero_mmd_with_a_graph():
    f, y, m = golden_batch()
    f = f[:16].clone().requires_grad_(True)
    for fn in (margin_mmd_loss, global_mmd_loss):
        out = fn(f, y[:16], m[:16])
        assert out.item() == 0.0
        out.backward()


def test_mismatched_lengths_are_reported():
    f, y, m = golden_batch()
    for fn in (hetero_center_triplet_loss, margin_mmd_loss):
        with pytest.raises(ValueError, match="same length"):
            fn(f, y[:-1], m)
