"""CrossModalBaseline: registry build, train losses, eval outputs, interface attributes."""
import pytest
import torch

from fastreid_ext.modeling import META_ARCH_REGISTRY, build_model
from fastreid_ext.modeling.losses import hetero_center_triplet_loss, margin_mmd_loss


def test_registered_and_interface_attributes(make_cfg):
    model = build_model(make_cfg())
    assert type(model).__name__ == "CrossModalBaseline" and META_ARCH_REGISTRY.get("CrossModalBaseline")
    assert model.TRAINING_ONLY_PREFIXES == ("classifier.",)
    assert model.feat_dim == model.backbone.out_channels == 512
    assert model.device == torch.device("cpu")
    assert model.classifier.bias is None and model.classifier.out_features == 6
    assert abs(model.classifier.weight.std().item() - 0.001) < 2e-4
    keys = set(model.state_dict())
    assert {"backbone.specific.visible.conv1.weight", "backbone.shared.layer4.0.conv1.weight", "bottleneck.weight",
            "classifier.weight"} <= keys


@pytest.mark.parametrize("depth,batch_kw", [(18, dict(p=2, k=2, size=(288, 144))), (18, dict(p=2, k=2)),
                                            (50, dict(p=1, k=1, size=(288, 144)))])
def test_train_losses_are_finite_and_reach_every_part(depth, batch_kw, make_cfg, make_batch):
    model = build_model(make_cfg(depth=depth)).train()
    losses = model(make_batch(**batch_kw))
    assert set(losses) == {"loss_cls", "loss_hctri", "loss_mmd"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for name in ("backbone.specific.visible.conv1.weight", "backbone.specific.infrared.conv1.weight",
                 "backbone.shared.layer4.0.conv1.weight", "bottleneck.weight", "classifier.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name
    assert model.bottleneck.bias.grad is None


def test_metric_losses_use_the_pooled_feature_and_scales(make_cfg, make_batch):
    cfg = make_cfg(**{"MODEL.LOSSES.MMD.MARGIN": 0.0, "MODEL.LOSSES.HCTRI.SCALE": 3.0, "MODEL.LOSSES.MMD.SCALE": 0.5})
    model = build_model(cfg).train()
    batch = make_batch()
    torch.manual_seed(0)
    losses = model(batch)
    # same BN batch statistics: recompute the pooled feature in train mode on the same batch
    torch.manual_seed(0)
    pooled = model.extract(batch["images"], batch["modality"])["POOL"]
    args = (pooled, batch["targets"], batch["modality"])
    assert losses["loss_hctri"].item() == pytest.approx(3.0 * hetero_center_triplet_loss(*args, margin=0.3).item(), rel=1e-5)
    assert losses["loss_mmd"].item() == pytest.approx(0.5 * margin_mmd_loss(*args, margin=0.0).item(), rel=1e-5)


def test_global_mmd_option_and_unknown_loss(make_cfg, make_batch):
    cfg = make_cfg(**{"MODEL.LOSSES.NAME": ["CrossEntropyLoss", "GlobalMMDLoss"]})
    losses = build_model(cfg).train()(make_batch())
    assert set(losses) == {"loss_cls", "loss_gmmd"}
    with pytest.raises(ValueError, match="MODEL.LOSSES.NAME"):
        build_model(make_cfg(**{"MODEL.LOSSES.NAME": ["TripletLoss"]}))


def test_eval_outputs_and_no_classifier(make_cfg, make_batch):
    model = build_model(make_cfg(num_classes=0)).eval()
    assert model.classifier is None
    batch = make_batch()
    with torch.no_grad():
        out = model(batch)
    assert set(out) == {"FC", "POOL"}
    assert out["FC"].shape == out["POOL"].shape == (8, 512)
    assert not torch.allclose(out["POOL"].norm(dim=1), torch.ones(8))  # not normalised
    with torch.no_grad():
        expected = model.bottleneck(out["POOL"])
    assert torch.allclose(out["FC"], expected)
    model.train()
    with pytest.raises(ValueError, match="NUM_CLASSES"):
        model(batch)
