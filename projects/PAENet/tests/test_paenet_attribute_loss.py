"""Masked BCE: unknown attributes neither count nor divide; λ scales the term."""
import pytest
import torch
import torch.nn.functional as F

from paenet.attribute_recognition import masked_attribute_bce


def test_masked_bce_matches_mean_over_known_entries():
    torch.manual_seed(0)
    logits, targets = torch.randn(4, 6), (torch.rand(4, 6) > 0.5).float()
    mask = torch.rand(4, 6) > 0.3
    expected = F.binary_cross_entropy(torch.sigmoid(logits[mask]), targets[mask])
    assert torch.allclose(masked_attribute_bce(logits, targets, mask), expected, atol=1e-6)
    # the unknown entries' targets do not matter
    flipped = torch.where(mask, targets, 1 - targets)
    assert torch.allclose(masked_attribute_bce(logits, flipped, mask), expected, atol=1e-6)
    # no mask = all known = the official mean BCE
    assert torch.allclose(masked_attribute_bce(logits, targets), F.binary_cross_entropy(torch.sigmoid(logits), targets),
                          atol=1e-6)


def test_masked_bce_all_unknown_is_zero_with_graph():
    logits = torch.randn(2, 3, requires_grad=True)
    loss = masked_attribute_bce(logits, torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0 and logits.grad.abs().sum() == 0


def test_masked_bce_shape_errors():
    with pytest.raises(ValueError, match="attribute_mask"):
        masked_attribute_bce(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool))


def test_sum_reduction_is_the_papers_eq9_scale():
    torch.manual_seed(1)
    logits, targets = torch.randn(4, 6), (torch.rand(4, 6) > 0.5).float()
    mask = torch.rand(4, 6) > 0.3
    per_entry = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert torch.allclose(masked_attribute_bce(logits, targets, mask, "sum"), per_entry[mask].sum(), atol=1e-5)
    assert torch.allclose(masked_attribute_bce(logits, targets, None, "sum"), per_entry.sum(), atol=1e-5)
    with pytest.raises(ValueError, match="LOSS_REDUCTION"):
        masked_attribute_bce(logits, targets, mask, "median")
