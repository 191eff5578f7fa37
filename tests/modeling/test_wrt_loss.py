"""Weighted regularization triplet: against the community TripletLoss_WRT formula re-implemented
independently here (float64, per-anchor loops), a hand-computed case, gradients and bad input."""
import math

import pytest
import torch

from fastreid_ext.modeling.losses import weighted_regularized_triplet_loss


def community_wrt(x: torch.Tensor, labels: torch.Tensor, normalize_feature: bool = False) -> torch.Tensor:
    """The community TripletLoss_WRT, written out anchor by anchor in float64."""
    x = x.double()
    if normalize_feature:
        x = x / (x.norm(dim=1, keepdim=True) + 1e-12)
    n = x.shape[0]
    losses = []
    for i in range(n):
        d = torch.stack([torch.clamp((x[i] * x[i]).sum() + (x[j] * x[j]).sum() - 2 * (x[i] * x[j]).sum(), min=1e-12).sqrt()
                         for j in range(n)])
        pos = (labels == labels[i]).double()
        neg = 1.0 - pos
        # softmax_weights(dist * mask, mask): shift by the max of the masked row (masked entries are 0 there)
        ap = d * pos
        shift = ap.max()
        w_ap = torch.exp(ap - shift) * pos / ((torch.exp(ap - shift) * pos).sum() + 1e-6)
        an = -(d * neg)
        shift = an.max()
        w_an = torch.exp(an - shift) * neg / ((torch.exp(an - shift) * neg).sum() + 1e-6)
        furthest_positive = (d * pos * w_ap).sum()
        closest_negative = (d * neg * w_an).sum()
        losses.append(torch.log(1 + torch.exp(-(closest_negative - furthest_positive))))  # SoftMarginLoss, y = 1
    return torch.stack(losses).mean()


def _batch(seed, p=3, k=2, dim=16, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(p).repeat_interleave(k)
    return scale * torch.randn(2 * p * k, dim, generator=g, dtype=torch.float64), torch.cat([ids, ids])


@pytest.mark.parametrize("seed,scale,normalize", [(0, 1.0, False), (1, 0.2, False), (2, 3.0, False), (3, 1.0, True),
                                                  (4, 5.0, True)])
def test_matches_community_formula_on_random_batches(seed, scale, normalize):
    x, labels = _batch(seed, scale=scale)
    ref = community_wrt(x, labels, normalize).item()
    assert weighted_regularized_triplet_loss(x, labels, normalize_feature=normalize).item() == pytest.approx(ref, rel=1e-10)
    ours32 = weighted_regularized_triplet_loss(x.float(), labels, normalize_feature=normalize).item()
    assert ours32 == pytest.approx(ref, rel=1e-5, abs=1e-6)


def test_gradients_match_the_reference():
    x, labels = _batch(5, p=2, k=3, dim=8)
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    weighted_regularized_triplet_loss(a, labels).backward()
    community_wrt(b, labels).backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-8, atol=1e-12)
    assert a.grad.abs().sum() > 0


def test_hand_computed_three_points():
    # 1-D features 0, 1 (id 0) and 3 (id 1): pairwise distances 1, 3, 2; self distance sqrt(1e-12) = 1e-6.
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1])
    e = math.exp
    eps = 1e-6
    # anchor 0: positives at 1e-6 and 1 (shift 1), negative at 3 (shift 0: the masked zeros)
    fp0 = (eps * e(eps - 1) + 1 * e(0)) / (e(eps - 1) + e(0) + eps)
    cn0 = 3 * e(-3) / (e(-3) + eps)
    # anchor 1: positives at 1 and 1e-6, negative at 2
    fp1 = (1 * e(0) + eps * e(eps - 1)) / (e(0) + e(eps - 1) + eps)
    cn1 = 2 * e(-2) / (e(-2) + eps)
    # anchor 2: its only positive is itself (1e-6, shift 1e-6); negatives at 3 and 2
    fp2 = eps * e(0) / (e(0) + eps)
    cn2 = (3 * e(-3) + 2 * e(-2)) / (e(-3) + e(-2) + eps)
    expected = sum(math.log1p(e(fp - cn)) for fp, cn in ((fp0, cn0), (fp1, cn1), (fp2, cn2))) / 3
    assert weighted_regularized_triplet_loss(x, labels).item() == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.14819, abs=1e-5)  # ≈ (0.0984 + 0.2477 + 0.0984) / 3


def test_order_invariant_soft_margin_and_far_negative_quirk():
    x, labels = _batch(6)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    assert weighted_regularized_triplet_loss(x[perm], labels[perm]).item() == pytest.approx(
        weighted_regularized_triplet_loss(x, labels).item(), rel=1e-12)
    labels = torch.tensor([0] * 4 + [1] * 4)
    # separated identities (distance 10): the soft margin drives the loss to ~softplus(-d_n)
    sep = torch.cat([torch.zeros(4, 2), torch.full((4, 2), 10 / math.sqrt(2))]).double()
    d_n = 10 * 4 * math.exp(-10) / (4 * math.exp(-10) + 1e-6)  # ≈ 9.945: the +1e-6 already shows
    assert weighted_regularized_triplet_loss(sep, labels).item() == pytest.approx(math.log1p(math.exp(1e-6 - d_n)), rel=1e-6)
    # community quirk kept: with negatives far away (distance 141) exp(-d) falls below the +1e-6 of the
    # normaliser, the negative weights vanish, d_n -> 0 and the loss saturates at log 2
    far = torch.cat([torch.zeros(4, 2), torch.full((4, 2), 100.0)]).double()
    assert weighted_regularized_triplet_loss(far, labels).item() == pytest.approx(math.log(2), rel=1e-5)
    assert community_wrt(far, labels).item() == pytest.approx(math.log(2), rel=1e-5)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="B×D features and B labels"):
        weighted_regularized_triplet_loss(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="B×D features"):
        weighted_regularized_triplet_loss(torch.zeros(4, 3, 1), torch.zeros(4, dtype=torch.long))
