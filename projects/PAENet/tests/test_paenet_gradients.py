"""Which parameters learn: every PAE/AAL parameter of the paper variant gets a gradient from the
total loss; in the reference variant only the documented frozen biases do not."""

from paenet_testkit import make_batch


def _backward(model, n):
    model.train()
    model.zero_grad(set_to_none=True)
    losses = model(make_batch(num_ids=2, k=2, num_attributes=n))
    sum(losses.values()).backward()


def _no_grad(model, prefixes=("pae.", "aal.", "identity_neck.")):
    return sorted(name for name, p in model.named_parameters() if name.startswith(prefixes) and p.requires_grad
                  and (p.grad is None or p.grad.abs().sum() == 0))


def test_every_paper_pae_aal_parameter_gets_gradient(build_small):
    model = build_small(variant="paper")
    _backward(model, 5)
    names = [n for n, _ in model.named_parameters() if n.startswith(("pae.", "aal."))]
    assert any(n.startswith("pae.embedding_i.") for n in names)
    assert any(n.startswith("pae.embedding_ii.") for n in names)
    assert any(n.startswith("pae.embedding_iii.") for n in names)
    assert any(n.startswith("aal.heads.") for n in names)
    assert _no_grad(model) == []


def test_reference_parameters_get_gradient_except_frozen_biases(build_small):
    model = build_small(variant="reference")
    _backward(model, 5)
    assert _no_grad(model) == []
    frozen = sorted(n for n, p in model.named_parameters() if not p.requires_grad)
    # documented in projects/PAENet/README.md: the BN biases frozen as in the official code
    assert frozen == ["aal.region.bn.bias", "base.bottleneck.bias", "identity_neck.bias"]
