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


def test_class_balanced_weights_give_each_class_half_the_loss():
    """Positives weigh 1/(2r), negatives 1/(2(1-r)) with r the positive rate of the known labels seen."""
    from paenet.attribute_recognition import AttributeBalance

    balance = AttributeBalance(3)
    assert all(torch.equal(w, torch.ones(3)) for w in balance.weights())  # nothing seen: unweighted
    targets = torch.tensor([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 1, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    balance.update(targets, mask)  # rates 1/4, 1/4, 2/3 (the masked entry is not counted)
    w_pos, w_neg = balance.weights()
    assert torch.allclose(w_pos, torch.tensor([2.0, 2.0, 0.75])) and torch.allclose(w_neg, torch.tensor([2 / 3, 2 / 3, 1.5]))
    # the weighted mean BCE by hand, over the known entries
    torch.manual_seed(2)
    logits = torch.randn(4, 3)
    per_entry = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    weight = targets * w_pos + (1 - targets) * w_neg
    expected = (per_entry * weight)[mask].sum() / mask.sum()
    assert torch.allclose(masked_attribute_bce(logits, targets, mask, "mean", (w_pos, w_neg)), expected, atol=1e-6)
    # each class of a seen attribute carries the same total weight
    for j in range(2):
        known = mask[:, j]
        pos = (targets[known, j] * w_pos[j]).sum()
        neg = ((1 - targets[known, j]) * w_neg[j]).sum()
        assert torch.isclose(pos, neg)
    balance.update(torch.ones(1, 3), None)  # a label never seen as negative is clamped, not infinite
    only_pos = AttributeBalance(1)
    only_pos.update(torch.ones(5, 1), None)
    assert torch.isfinite(only_pos.weights()[1]).all() and only_pos.weights()[1].item() == pytest.approx(25.0)


def test_class_balance_counts_only_in_training_and_are_checkpointed(build_small):
    from paenet_testkit import make_batch

    model = build_small(extra=["PAENET.RECOGNIZER.ENABLED", "True", "PAENET.RECOGNIZER.CLASS_BALANCE", "True",
                               "PAENET.TRAIN_ATTRIBUTE_INPUT", "predicted"])
    batch = make_batch(num_ids=2, k=2, num_attributes=5)
    model.eval()
    with torch.no_grad():
        model({**batch, "attribute_source": "predicted"})
    assert model.recognizer_balance.known.sum() == 0  # evaluation never counts labels
    model.train()
    model(batch)
    known = batch["attribute_mask"].sum(0).double()
    assert torch.equal(model.recognizer_balance.known, known)
    assert {"recognizer_balance.positives", "recognizer_balance.known"} <= set(model.state_dict())
