"""Ablation switches and test-time attribute sources change the computed function.

Each ablated model gets the full model's weights for every parameter they share, so the switch
is the only difference between the two. AAL off drops the heads and L_atr only: the identity
feature (Eq. 10) and so the retrieval features stay the same."""
import pytest
import torch

from paenet_testkit import make_batch

N = 5
SWITCHES = {
    "pae_off": ["PAENET.PAE.ENABLED", "False"],
    "embedding_i_off": ["PAENET.PAE.EMBEDDING_I", "False"],
    "embedding_ii_off": ["PAENET.PAE.EMBEDDING_II", "False"],
    "embedding_iii_off": ["PAENET.PAE.EMBEDDING_III", "False"],
    "aal_off": ["PAENET.AAL.ENABLED", "False"],
}


def _eval(model, batch, source="gt"):
    model.eval()
    with torch.no_grad():
        return model({**batch, "attribute_source": source})


@pytest.fixture(scope="module")
def batch():
    return make_batch(num_ids=2, k=2, num_attributes=N)


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_switch_changes_function(build_small, batch, variant, switch):
    full = build_small(variant=variant)
    ablated = build_small(variant=variant, extra=SWITCHES[switch])
    missing = ablated.load_state_dict(full.state_dict(), strict=False).missing_keys
    assert missing == [], missing  # the ablated model is a sub-model of the full one
    a, b = _eval(full, batch), _eval(ablated, batch)
    same = torch.allclose(a["FC"], b["FC"], atol=1e-6)
    if variant == "reference" and switch == "embedding_ii_off":
        assert same  # Embedding-II is the identity in the official code (docs/protocols.md)
    elif switch == "aal_off":
        assert same and torch.equal(a["POOL"], b["POOL"])  # Eq. 10 is left alone
    else:
        assert not same
    assert ("attribute_probs" in b) == (switch != "aal_off")


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_lambda_scales_attribute_loss(build_small, batch, variant):
    full = build_small(variant=variant)
    half = build_small(variant=variant, extra=["PAENET.AAL.LOSS_WEIGHT", "0.5"])
    half.load_state_dict(full.state_dict())
    off = build_small(variant=variant, extra=["PAENET.AAL.LOSS_WEIGHT", "0.0"])
    off.load_state_dict(full.state_dict())
    def losses(m):
        m.train()
        torch.manual_seed(0)  # same dropout masks
        with torch.no_grad():
            return m(batch)

    l1, l2, l0 = losses(full), losses(half), losses(off)
    assert torch.allclose(l2["loss_attr"], 0.5 * l1["loss_attr"], rtol=1e-4)
    assert "loss_attr" not in l0 and torch.allclose(l0["loss_cls"], l1["loss_cls"], atol=1e-6)


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_attribute_sources(build_small, batch, variant):
    model = build_small(variant=variant, extra=["PAENET.RECOGNIZER.ENABLED", "True"])
    sign = torch.tensor([1.0, -1.0]).repeat(N)[:N]
    with torch.no_grad():  # an untrained recognizer predicts ~0.5 everywhere: make some attributes positive
        model.recognizer.classifier.bias.copy_(3 * sign)
    gt, zeros, pred = (_eval(model, batch, s) for s in ("gt", "zeros", "predicted"))
    assert not torch.allclose(gt["FC"], zeros["FC"], atol=1e-6)
    # predicted = the recognizer's probabilities, thresholded, fed as if they were the ground truth
    a_hat = (pred["attribute_probs"] > 0.5).float()
    assert 0 < a_hat.sum() < a_hat.numel()
    fed = _eval(model, {**batch, "attributes": a_hat}, "gt")
    assert torch.allclose(pred["FC"], fed["FC"], atol=1e-6)
    assert not torch.allclose(pred["FC"], zeros["FC"], atol=1e-6)
    # attribute_probs come from the recognizer (the image only), whatever PAE is fed
    assert torch.equal(gt["attribute_probs"], pred["attribute_probs"])
    assert torch.equal(zeros["attribute_probs"], pred["attribute_probs"])
    assert torch.equal(_eval(model, {k: v for k, v in batch.items()})["FC"], gt["FC"])  # default: gt
    with pytest.raises(ValueError, match="attribute_source"):
        _eval(model, batch, "oracle")


def test_predicted_without_recognizer_names_the_key(build_small, batch):
    from fastreid_ext.utils.errors import UserError

    model = build_small()
    with pytest.raises(UserError, match=r"PAENET\.RECOGNIZER\.ENABLED"):
        _eval(model, batch, "predicted")
