"""PAE + AAL attached by config to the AGW and HCT bases (configs/PAENet/{agw,hct}_sysu.yml): the
base's recipe and own loss terms are kept and PAENet adds its terms; a community AGW checkpoint
initialises the base of AGW + PAE and is refused by PAENet on another base."""
import logging
import re

import pytest
import torch

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.modeling import build_model
from fastreid_ext.modeling.losses import hetero_center_triplet_loss, weighted_regularized_triplet_loss
from fastreid_ext.solver import build_optimizer
from paenet_testkit import make_batch, small_opts

AGW = "configs/PAENet/agw_sysu.yml"
HCT = "configs/PAENet/hct_sysu.yml"
PAENET_TERMS = {"loss_attr", "loss_attr_recognizer"}


def _build(make_cfg, config, depth=18, size=(64, 32), extra=()):
    torch.manual_seed(0)
    return build_model(make_cfg(config, small_opts(depth=depth, size=size, extra=extra)))


def test_attach_configs_keep_the_base_recipe(make_cfg):
    agw, hct = make_cfg(AGW), make_cfg(HCT)
    assert agw.PAENET.BASE_ARCHITECTURE == "AGWBaseline" and agw.MODEL.BACKBONE.NAME == "NonLocalTwoStreamResNet"
    assert list(agw.MODEL.LOSSES.NAME) == ["CrossEntropyLoss", "WeightedRegularizedTripletLoss"]
    assert (agw.DATALOADER.IDS_PER_BATCH, agw.DATALOADER.NUM_INSTANCES, agw.SOLVER.MAX_EPOCH) == (8, 4, 81)
    assert hct.PAENET.BASE_ARCHITECTURE == "CrossModalBaseline" and hct.MODEL.BACKBONE.SHARED_FROM == "layer2"
    assert list(hct.MODEL.LOSSES.NAME) == ["CrossEntropyLoss", "HeteroCenterTripletLoss"]
    assert (hct.DATALOADER.IDS_PER_BATCH, hct.DATALOADER.NUM_INSTANCES) == (6, 8)
    for cfg in (agw, hct):  # the label-free setup
        assert cfg.MODEL.META_ARCHITECTURE == "PAENet" and cfg.PAENET.RECOGNIZER.ENABLED
        assert cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == cfg.PAENET.DEFAULT_ATTRIBUTE_SOURCE == "predicted"
        assert list(cfg.TEST.ATTRIBUTE_SOURCES)[0] == "predicted"
        assert all(pattern.startswith("^base\\.") or not pattern.startswith("^backbone")
                   for pattern, _ in cfg.SOLVER.LR_MULTIPLIERS)


@pytest.mark.parametrize("config,base_type,base_terms,trained", [
    (AGW, "AGWBaseline", {"loss_cls", "loss_wrt"}, "base.backbone.non_local.layer3.0.theta.weight"),
    (HCT, "CrossModalBaseline", {"loss_cls", "loss_hctri"}, "base.backbone.specific.infrared.layer1.0.conv1.weight"),
])
@pytest.mark.parametrize("depth,size", [(18, (64, 32)), (18, (96, 48)),
                                        pytest.param(50, (64, 32), marks=pytest.mark.slow)])
def test_one_training_step_keeps_the_base_losses(make_cfg, config, base_type, base_terms, trained, depth, size):
    """Loss dict = the base's own terms (WRT / HcTri, no MMD) + PAENet's; the base's metric term is
    computed on PAENet's identity feature f_id; one step moves base and PAENet parameters."""
    cfg = make_cfg(config, small_opts(depth=depth, size=size))
    torch.manual_seed(0)
    model = build_model(cfg).train()
    assert type(model.base).__name__ == base_type
    batch = make_batch(num_ids=2, k=2, num_attributes=5, size=size)
    torch.manual_seed(0)  # dropout in PAE: the same draws for the pass by hand below
    losses = model(batch)
    assert set(losses) == base_terms | PAENET_TERMS and "loss_mmd" not in losses
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    torch.manual_seed(0)
    with torch.no_grad():  # the same pass by hand: base map → PAE/AAL → f_id → the plain loss function
        feats = model.base.extract(batch["images"], batch["modality"])
        a = model._predicted(torch.sigmoid(model.recognizer(batch["images"], feats["POOL"])))
        f_id, _, _ = model.head(feats["MAP"], feats["POOL"], feats["FC"], a)
    if "loss_wrt" in base_terms:
        expected = weighted_regularized_triplet_loss(f_id, batch["targets"])
        assert losses["loss_wrt"].item() == pytest.approx(expected.item(), rel=1e-4)
    else:
        expected = hetero_center_triplet_loss(f_id, batch["targets"], batch["modality"], margin=0.3)
        assert losses["loss_hctri"].item() == pytest.approx(expected.item(), rel=1e-4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = build_optimizer(cfg, model)
    sum(losses.values()).backward()
    optimizer.step()
    assert not torch.equal(model.get_parameter(trained).detach(), before[trained]), trained
    for prefix in ("pae.embedding_i.", "pae.embedding_iii.", "aal.heads.", "identity_neck.", "recognizer."):
        assert any(not torch.equal(p.detach(), before[n]) for n, p in model.named_parameters()
                   if n.startswith(prefix)), prefix
    model.eval()
    with torch.no_grad():
        out = model({**batch, "attribute_source": "predicted"})
    n = len(batch["targets"])
    assert out["FC"].shape == out["POOL"].shape == (n, model.base.feat_dim)
    assert out["attribute_probs"].shape == (n, 5)
    assert model.base.feat_dim == (2048 if depth == 50 else 512)


# ------------------------------------------------------------------ community AGW checkpoints
def _community_names(ours: dict) -> dict:
    """AGWBaseline names → the community embed_net names (the inverse of the loader's mapping, written
    independently here): stems, shared layers, non-local lists; bottleneck/classifier unchanged."""
    out = {}
    for key, value in ours.items():
        m = re.match(r"^backbone\.non_local\.layer(\d)\.(\d+)\.(.+)$", key)
        if m:
            out[f"NL_{m.group(1)}.{m.group(2)}.{m.group(3)}"] = value
            continue
        for mine, theirs in (("backbone.specific.visible.", "visible_module.visible."),
                             ("backbone.specific.infrared.", "thermal_module.thermal."),
                             ("backbone.shared.", "base_resnet.base.")):
            if key.startswith(mine):
                out[theirs + key[len(mine):]] = value
                break
        else:
            assert key.startswith(("bottleneck.", "classifier.")), key
            out[key] = value
    return out


@pytest.fixture(scope="module")
def agw_file(make_cfg, tmp_path_factory):
    """A community-format AGW file {'net': ...} for a ResNet-18 AGW (random values), with one stream
    copy the community model builds but never runs."""
    torch.manual_seed(1)
    model = build_model(make_cfg(AGW, small_opts())).base
    sd = {k: (torch.randn_like(v) if v.is_floating_point() else v.clone()) for k, v in model.state_dict().items()}
    theirs = _community_names(sd)
    never_run = "visible_module.visible.layer1.0.conv1.weight"
    theirs[never_run] = torch.zeros(64, 64, 3, 3)
    path = tmp_path_factory.mktemp("agw_community") / "sysu_agw_p4_n8_lr_0.1_seed_0_best.t"
    torch.save({"net": theirs, "cmc": [0.0], "mAP": 0.0, "mINP": 0.0, "epoch": 80}, path)
    return path, sd, never_run


def test_community_agw_checkpoint_initialises_the_base(make_cfg, agw_file, caplog):
    path, sd, never_run = agw_file
    model = _build(make_cfg, AGW)
    own_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("base.")}
    with caplog.at_level(logging.INFO):
        ReidCheckpointer(model).load(str(path))
    state = model.state_dict()
    assert all(torch.equal(state[f"base.{k}"], v) for k, v in sd.items())
    assert all(torch.equal(state[k], v) for k, v in own_before.items())  # PAENet's own modules start fresh
    assert model.skipped_checkpoint_keys == [never_run]
    report = [r.getMessage() for r in caplog.records if "not in the file" in r.getMessage()]
    assert report and all(m in report[0] for m in ("'aal'", "'identity_neck'", "'pae'", "'recognizer'"))


def test_community_agw_checkpoint_must_cover_the_base(make_cfg, agw_file, tmp_path):
    path, _, _ = agw_file
    ckpt = torch.load(path, weights_only=False)
    del ckpt["net"]["bottleneck.weight"]
    cut = tmp_path / "cut.t"
    torch.save(ckpt, cut)
    with pytest.raises(ValueError, match=r"does not fit PAENet's base AGWBaseline: missing \['bottleneck\.weight'\]"):
        ReidCheckpointer(_build(make_cfg, AGW)).load(str(cut))


def test_community_agw_checkpoint_refused_by_paenet_on_another_base(make_cfg, agw_file):
    path = str(agw_file[0])
    with pytest.raises(ValueError, match=r"community AGW checkpoint.*PAENet on CrossModalBaseline.*"
                                         r"PAENET\.BASE_ARCHITECTURE set to the model that loads it \(MODEL\.META_ARCHITECTURE: AGWBaseline"):
        ReidCheckpointer(_build(make_cfg, HCT)).load(path)
    plain = _build(make_cfg, AGW, extra=["MODEL.BACKBONE.NAME", "TwoStreamResNet"])
    with pytest.raises(ValueError, match="NonLocalTwoStreamResNet; the backbone is TwoStreamResNet"):
        ReidCheckpointer(plain).load(path)


def test_config_naming_a_base_without_the_protocol_is_refused(make_cfg, monkeypatch):
    """Through the config path too: one line naming PAENET.BASE_ARCHITECTURE and the missing members."""
    from torch import nn

    from fastreid_ext.modeling.meta_arch.build import META_ARCH_REGISTRY
    from fastreid_ext.utils.errors import UserError

    class FeatureOnlyBase(nn.Module):
        feat_dim = 8

        @classmethod
        def from_config(cls, cfg):
            return cls()

        def extract(self, images, modality):
            return {}

        def preprocess(self, batch):
            return batch

    monkeypatch.setitem(META_ARCH_REGISTRY._obj_map, "PaenetTestFeatureOnlyBase", FeatureOnlyBase)
    cfg = make_cfg(AGW, small_opts(extra=["PAENET.BASE_ARCHITECTURE", "PaenetTestFeatureOnlyBase"]))
    with pytest.raises(UserError, match=r"^PAENET\.BASE_ARCHITECTURE 'PaenetTestFeatureOnlyBase' lacks "
                                        r"\['pool', 'classifier', 'device', 'losses'\]"):
        build_model(cfg)

