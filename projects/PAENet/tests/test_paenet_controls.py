"""The benchmark's controls built from PAENet's switches: without the region branch PAENet is its base
(same losses, same retrieval feature); the ATTR-style control (the base + a linear attribute head on its
retrieval feature) trains the backbone through the attribute loss in one step; evaluating a model whose
PAE takes attributes without naming a source is an error (nothing falls back to the test annotations)."""
import pytest
import torch

from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_optimizer
from fastreid_ext.utils.errors import UserError
from paenet_testkit import make_batch, small_opts

N = 5
OFF = "False"
NO_REGION = ["PAENET.PAE.ENABLED", OFF, "PAENET.AAL.ENABLED", OFF, "PAENET.REGION_BRANCH", OFF]
ATTR_HEAD = NO_REGION + ["PAENET.RECOGNIZER.ENABLED", "True", "PAENET.RECOGNIZER.NAME", "linear",
                         "TEST.ATTRIBUTE_SOURCES", '["zeros"]']


def test_without_region_branch_paenet_is_its_base(make_cfg):
    batch = make_batch(num_ids=2, k=2, num_attributes=N)
    torch.manual_seed(0)
    paenet = build_model(make_cfg(opts=small_opts(num_attributes=N, extra=NO_REGION)))
    base = build_model(make_cfg("configs/Baseline/sysu.yml", small_opts(num_attributes=0)))
    base.load_state_dict(paenet.base.state_dict())
    assert paenet.identity_neck is None and paenet.aal.region is None
    assert not any(n.startswith(("pae.", "aal.")) for n, _ in paenet.named_parameters())
    paenet.train(), base.train()
    ours, theirs = paenet(batch), base(batch)
    assert set(ours) == set(theirs) == {"loss_cls", "loss_hctri", "loss_mmd"}
    for k in ours:
        assert ours[k].item() == pytest.approx(theirs[k].item(), rel=1e-5), k
    paenet.eval(), base.eval()
    with torch.no_grad():
        out = paenet(batch)  # PAE off: no source needed, none is read
        ref = base(batch)
    assert torch.allclose(out["FC"], ref["FC"], atol=1e-6) and torch.allclose(out["POOL"], ref["POOL"], atol=1e-6)


def test_attribute_head_control_trains_the_backbone_in_one_step(make_cfg):
    """ResNet-18 at 64×32, one Adam step: the only PAENet term is the linear head's attribute loss, it
    reaches the backbone, and the retrieval feature stays the base's BNNeck output."""
    torch.manual_seed(0)
    cfg = make_cfg(opts=small_opts(num_attributes=N, extra=ATTR_HEAD + ["SOLVER.OPTIMIZER", "Adam",
                                                                         "SOLVER.BASE_LR", "0.001"]))
    model = build_model(cfg)
    batch = make_batch(num_ids=2, k=2, num_attributes=N)
    model.train()
    losses = model(batch)
    assert set(losses) == {"loss_cls", "loss_hctri", "loss_mmd", "loss_attr_recognizer"}
    losses["loss_attr_recognizer"].backward(retain_graph=True)
    layer4 = [p.grad for n, p in model.named_parameters() if n.startswith("base.backbone.") and "layer4" in n]
    assert any(g is not None and g.abs().sum() > 0 for g in layer4)  # attribute supervision of the backbone
    model.zero_grad(set_to_none=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = build_optimizer(cfg, model)
    sum(losses.values()).backward()
    optimizer.step()
    for prefix in ("base.backbone.", "recognizer."):
        assert any(not torch.equal(p.detach(), before[n]) for n, p in model.named_parameters() if n.startswith(prefix))
    model.eval()
    with torch.no_grad():
        out = model({**batch, "attribute_source": "zeros"})
        feats = model.base.extract(batch["images"], batch["modality"])
    assert torch.equal(out["FC"], feats["FC"]) and out["attribute_probs"].shape == (len(batch["targets"]), N)


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_evaluation_without_a_source_is_refused(build_small, variant):
    model = build_small(variant=variant, num_attributes=N).eval()
    batch = make_batch(num_ids=2, k=2, num_attributes=N)
    assert model.default_attribute_source == "" and model.default_input_source is None
    with torch.no_grad(), pytest.raises(UserError, match="none was named.*TEST.ATTRIBUTE_SOURCES.*label leakage"):
        model(batch)
    with torch.no_grad():
        named = model({**batch, "attribute_source": "gt"})["FC"]
        zeros = model({**batch, "attribute_source": "zeros"})["FC"]
    assert not torch.allclose(named, zeros)  # the source is read: it mattered which one was named


def test_an_empty_source_list_is_refused_at_build(make_cfg):
    with pytest.raises(UserError, match="TEST.ATTRIBUTE_SOURCES is empty"):
        build_model(make_cfg(opts=small_opts(num_attributes=N, extra=["TEST.ATTRIBUTE_SOURCES", "[]"])))
    model = build_model(make_cfg(opts=small_opts(num_attributes=N, extra=["TEST.ATTRIBUTE_SOURCES", "[]",
                                                                          "PAENET.PAE.ENABLED", OFF])))
    assert not model.pae.uses_attributes  # PAE off: no source to name
