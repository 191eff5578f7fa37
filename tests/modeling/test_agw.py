"""AGWBaseline and the HCT base: the community AGW function on a golden weight fill (loaded from a
community-format checkpoint through the real loading path), the non-local layout, one training step
per base at two input sizes (ResNet-18 and ResNet-50), the recipes, and bad input."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.config import get_cfg, load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.modeling.backbones import NonLocalTwoStreamResNet, TwoStreamResNet
from fastreid_ext.modeling.layers import NonLocalBlock
from fastreid_ext.modeling.losses import hetero_center_triplet_loss, weighted_regularized_triplet_loss
from fastreid_ext.solver import build_optimizer
from fastreid_ext.utils.testing import assert_matches_golden, fill_value

AGW_CLASS = {"MODEL.META_ARCHITECTURE": "AGWBaseline", "MODEL.BACKBONE.NAME": "NonLocalTwoStreamResNet",
             "MODEL.BACKBONE.SHARED_FROM": "layer1",
             "MODEL.LOSSES.NAME": ["CrossEntropyLoss", "WeightedRegularizedTripletLoss"]}
SMALL = ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", 4, "MODEL.DEVICE", "cpu"]


@pytest.fixture(scope="module")
def golden_dir(repo_root):
    return repo_root / "tests/assets/agw_golden"


@pytest.fixture(scope="module")
def community_checkpoint(golden_dir, tmp_path_factory):
    """A community-format file ``{'net': state_dict, ...}`` with every key of embed_net(no_local='on',
    gm_pool='on'); the stream copies that model never runs hold zeros (stride-0, so the file stays small)."""
    meta = json.loads((golden_dir / "state_dict.json").read_text())
    never_run = ("visible_module.visible.layer", "thermal_module.thermal.layer", "base_resnet.base.conv1.",
                 "base_resnet.base.bn1.")
    sd = {name: (torch.zeros(()).expand(shape) if name.startswith(never_run) else fill_value(name, tuple(shape)))
          for name, shape in meta["state_dict"]}
    path = tmp_path_factory.mktemp("agw_ckpt") / "sysu_agw_p4_n8_lr_0.1_seed_0_best.t"
    torch.save({"net": sd, "cmc": [0.0], "mAP": 0.0, "mINP": 0.0, "epoch": 80}, path)
    return path, sd, meta


@pytest.fixture(scope="module")
def loaded(community_checkpoint):
    path, _, meta = community_checkpoint
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", 50, "MODEL.HEADS.NUM_CLASSES", meta["class_num"],
                         "MODEL.WEIGHTS", str(path)] + [x for kv in AGW_CLASS.items() for x in kv])
    model = build_model(cfg)
    ReidCheckpointer(model).load_for_eval(cfg.MODEL.WEIGHTS)  # refuses on any missing / mis-shaped key
    return model.eval()


def test_reproduces_community_golden_features(loaded, golden_dir):
    golden = np.load(golden_dir / "golden.npz")
    images = torch.from_numpy(golden["images"])
    with torch.no_grad():
        for modality, prefix in ((0, "visible"), (1, "infrared")):  # community modal 1 / 2
            out = loaded({"images": images, "modality": torch.full((len(images),), modality, dtype=torch.long)})
            for ours, key in ((out["POOL"], "pool"), (out["FC"], "bn")):
                ref = golden[f"{prefix}_{key}"]
                rel = np.linalg.norm(ours.numpy() - ref) / np.linalg.norm(ref)
                assert rel <= 1e-5, f"{prefix}_{key}: relative error {rel:.3g}"
                assert_matches_golden(F.normalize(ours, dim=1), golden[f"{prefix}_{key}_l2"], f"{prefix}_{key}_l2")
    assert not np.allclose(golden["visible_pool"], golden["infrared_pool"], rtol=0.1)  # the stems differ


def test_community_names_mapped_and_never_run_copies_skipped(loaded, community_checkpoint):
    _, sd, meta = community_checkpoint
    skipped = set(loaded.skipped_checkpoint_keys)
    assert skipped == {k for k in sd if k.startswith(("visible_module.visible.layer", "thermal_module.thermal.layer",
                                                      "base_resnet.base.conv1.", "base_resnet.base.bn1."))}
    ours = loaded.state_dict()
    assert len(ours) == len(sd) - len(skipped)
    for theirs, mine in (("NL_2.1.theta.weight", "backbone.non_local.layer2.1.theta.weight"),
                         ("NL_3.0.W.1.running_var", "backbone.non_local.layer3.0.W.1.running_var"),
                         ("thermal_module.thermal.conv1.weight", "backbone.specific.infrared.conv1.weight"),
                         ("visible_module.visible.bn1.bias", "backbone.specific.visible.bn1.bias"),
                         ("base_resnet.base.layer3.5.conv2.weight", "backbone.shared.layer3.5.conv2.weight"),
                         ("bottleneck.running_mean", "bottleneck.running_mean"), ("classifier.weight", "classifier.weight")):
        assert torch.equal(ours[mine], sd[theirs]), mine


def test_community_checkpoint_refused_by_other_models(make_cfg, community_checkpoint):
    path = str(community_checkpoint[0])
    baseline = build_model(make_cfg(depth=50))
    with pytest.raises(ValueError, match=r"community AGW checkpoint.*CrossModalBaseline.*AGWBaseline"):
        ReidCheckpointer(baseline).load(path)
    plain = build_model(make_cfg(depth=50, **{**AGW_CLASS, "MODEL.BACKBONE.NAME": "TwoStreamResNet"}))
    with pytest.raises(ValueError, match="NonLocalTwoStreamResNet; the backbone is TwoStreamResNet"):
        ReidCheckpointer(plain).load(path)


def test_own_checkpoints_pass_through(make_cfg, tmp_path):
    model = build_model(make_cfg(**AGW_CLASS))
    sd = model.state_dict()
    assert model.remap_checkpoint_keys(sd) is sd
    ReidCheckpointer(model, str(tmp_path)).save("model_final")
    other = build_model(make_cfg(**AGW_CLASS))
    ReidCheckpointer(other).load_for_eval(str(tmp_path / "model_final.pth"))
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in sd.items())


@pytest.mark.parametrize("depth,counts,after,widths", [
    (50, [0, 2, 3, 0], {"layer2": [2, 3], "layer3": [3, 4, 5]}, {"layer2": 512, "layer3": 1024}),
    (18, [0, 1, 1, 0], {"layer2": [1], "layer3": [1]}, {"layer2": 128, "layer3": 256})])
def test_default_non_local_layout(depth, counts, after, widths):
    bb = NonLocalTwoStreamResNet(depth=depth, shared_from="layer1")
    assert bb.num_blocks == counts and bb.non_local_after == after
    for stage, width in widths.items():
        assert all(b.in_channels == width and b.inter_channels == 1 for b in bb.non_local[stage])
    assert bb.specific_stages == ("conv1", "bn1", "relu", "maxpool")


def test_new_non_local_blocks_are_the_identity_and_trained_ones_are_not():
    torch.manual_seed(0)
    plain = TwoStreamResNet(depth=18, shared_from="layer1").eval()
    nl = NonLocalTwoStreamResNet(depth=18, shared_from="layer1", num_blocks=[1, 2, 2, 1]).eval()
    nl.load_state_dict(plain.state_dict(), strict=False)
    x, modality = torch.randn(3, 3, 64, 32), torch.tensor([0, 1, 0])
    with torch.no_grad():
        assert torch.allclose(nl(x, modality), plain(x, modality), atol=1e-6)
        nl.non_local["layer3"][0].W[1].weight.fill_(1.0)
        assert not torch.allclose(nl(x, modality), plain(x, modality), atol=1e-3)


def test_non_local_block_against_the_formula():
    torch.manual_seed(0)
    block = NonLocalBlock(6, 2).double().eval()
    with torch.no_grad():
        block.W[1].weight.uniform_(0.5, 1.5)
        block.W[1].bias.uniform_(-0.5, 0.5)
        block.W[1].running_mean.uniform_(-0.1, 0.1)
        block.W[1].running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        got = block(x)
        # z_i = x_i + BN(W Σ_j (θ_i·φ_j / N) g_j), written per position
        flat = x.flatten(2)  # B×C×N
        n = flat.shape[-1]
        th = torch.einsum("oc,bcn->bon", block.theta.weight[:, :, 0, 0], flat) + block.theta.bias[None, :, None]
        ph = torch.einsum("oc,bcn->bon", block.phi.weight[:, :, 0, 0], flat) + block.phi.bias[None, :, None]
        gg = torch.einsum("oc,bcn->bon", block.g[0].weight[:, :, 0, 0], flat) + block.g[0].bias[None, :, None]
        y = torch.stack([torch.stack([sum((th[b, :, i] @ ph[b, :, j]) / n * gg[b, :, j] for j in range(n))
                                      for i in range(n)], dim=-1) for b in range(2)])
        wy = torch.einsum("oc,bcn->bon", block.W[0].weight[:, :, 0, 0], y) + block.W[0].bias[None, :, None]
        bn = block.W[1]
        wy = (wy - bn.running_mean[None, :, None]) / torch.sqrt(bn.running_var[None, :, None] + bn.eps) * \
            bn.weight[None, :, None] + bn.bias[None, :, None]
    assert torch.allclose(got, (flat + wy).reshape_as(x), atol=1e-10)


@pytest.mark.parametrize("overrides,match", [
    ({"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS": [0, 5, 0, 0]}, "asks for 5 non-local blocks in layer2, which has 4"),
    ({"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS": [0, 2, 3]}, "expected 4 non-negative integers"),
    ({"MODEL.BACKBONE.NON_LOCAL.NUM_BLOCKS": [0, 2, 3, 0], "MODEL.BACKBONE.SHARED_FROM": "layer3"},
     "puts non-local blocks in layer2, which is modality-specific with MODEL.BACKBONE.SHARED_FROM=layer3"),
    ({"MODEL.BACKBONE.NON_LOCAL.INTER_CHANNELS": 0}, "INTER_CHANNELS is 0"),
    ({"MODEL.LOSSES.NAME": ["CrossEntropyLoss", "TripletLoss_WRT"]}, "MODEL.LOSSES.NAME has \\['TripletLoss_WRT'\\]"),
])
def test_bad_config_values_raise(make_cfg, overrides, match):
    with pytest.raises(ValueError, match=match):
        build_model(make_cfg(depth=50, **{**AGW_CLASS, **overrides}))


def _one_step(cfg, batch, expected_losses):
    model = build_model(cfg).train()
    optimizer = build_optimizer(cfg, model)
    torch.manual_seed(0)
    losses = model(batch)
    assert set(losses) == expected_losses
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sum(losses.values()).backward()
    optimizer.step()
    with torch.no_grad():
        model.eval()
        out = model(batch)
    n = len(batch["targets"])
    assert out["FC"].shape == out["POOL"].shape == (n, model.feat_dim)
    return model, losses, before


# per recipe: its metric loss term and the plain function it must equal on the pooled (pre-BN)
# feature, the (last modality-specific, first shared) backbone stages, and parameters one step must move
RECIPES = {
    "AGW": ("loss_wrt", lambda pooled, batch: weighted_regularized_triplet_loss(pooled, batch["targets"]),
            ("maxpool", "layer1"),
            ("backbone.specific.visible.conv1.weight", "backbone.specific.infrared.conv1.weight",
             "backbone.shared.layer1.0.conv1.weight", "backbone.non_local.layer3.0.theta.weight",
             "backbone.non_local.layer2.0.W.1.weight", "bottleneck.weight", "classifier.weight")),
    "HCT": ("loss_hctri",  # scale 1.0 (w_center)
            lambda pooled, batch: hetero_center_triplet_loss(pooled, batch["targets"], batch["modality"], margin=0.3),
            ("layer1", "layer2"),
            ("backbone.specific.infrared.layer1.0.conv1.weight", "backbone.shared.layer2.0.conv1.weight",
             "classifier.weight")),
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("depth,batch_kw", [(18, dict(p=2, k=2, size=(128, 64))), (18, dict(p=2, k=2, size=(64, 32))),
                                            pytest.param(50, dict(p=2, k=1, size=(64, 32)), marks=pytest.mark.slow)])
def test_recipe_one_training_step(repo_root, make_batch, recipe, depth, batch_kw):
    loss_key, plain_loss, (last_specific, first_shared), trained = RECIPES[recipe]
    cfg = load_config(str(repo_root / f"configs/{recipe}/sysu.yml"), SMALL + ["MODEL.BACKBONE.DEPTH", depth])
    batch = make_batch(**batch_kw)
    model, losses, before = _one_step(cfg, batch, {"loss_cls", loss_key})
    assert model.feat_dim == (2048 if depth == 50 else 512)
    assert model.backbone.specific_stages[-1] == last_specific and model.backbone.shared_stages[0] == first_shared
    for name in trained:
        assert not torch.equal(model.get_parameter(name).detach(), before[name]), name
    if depth == 50:
        return
    # the metric term is the plain function on the pooled (pre-BN) feature of the same training pass
    model.load_state_dict({**model.state_dict(), **before})
    model.train()
    torch.manual_seed(0)
    pooled = model.extract(batch["images"], batch["modality"])["POOL"]
    assert losses[loss_key].item() == pytest.approx(plain_loss(pooled, batch).item(), rel=1e-5)


def test_agw_and_hct_recipes(repo_root):
    cfg = load_config(str(repo_root / "configs/AGW/sysu.yml"), SMALL)
    assert (cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES, cfg.SOLVER.MAX_EPOCH) == (8, 4, 81)
    assert (list(cfg.SOLVER.STEPS), cfg.SOLVER.WARMUP_EPOCHS, cfg.SOLVER.BASE_LR) == ([20, 50], 10, 0.1)
    assert list(cfg.INPUT.SIZE_TRAIN) == [288, 144] and not cfg.INPUT.REA.ENABLED
    assert list(cfg.MODEL.LOSSES.NAME) == ["CrossEntropyLoss", "WeightedRegularizedTripletLoss"]
    assert cfg.MODEL.BACKBONE.DEPTH == 50 and cfg.MODEL.BACKBONE.SHARED_FROM == "layer1"
    # the lr groups do not depend on the depth; ResNet-18 builds faster
    cfg = load_config(str(repo_root / "configs/AGW/sysu.yml"), SMALL + ["MODEL.BACKBONE.DEPTH", 18])
    model = build_model(cfg)
    assert model.backbone.num_blocks == [0, 1, 1, 0]  # ResNet-50: [0, 2, 3, 0] (layout test)
    by_lr = {}
    for g in build_optimizer(cfg, model).param_groups:
        assert g["momentum"] == 0.9 and g["nesterov"] and g["weight_decay"] == 5e-4
        by_lr.setdefault(round(g["lr"], 8), set()).update(id(p) for p in g["params"])
    # community lr groups: everything but the BNNeck and classifier at 0.1x (non-local blocks included)
    head = {id(p) for m in (model.bottleneck, model.classifier) for p in m.parameters() if p.requires_grad}
    assert by_lr[0.1] == head
    assert by_lr[0.01] == {id(p) for p in model.backbone.parameters()}
    assert {id(p) for p in model.backbone.non_local.parameters()} <= by_lr[0.01]
    regdb = load_config(str(repo_root / "configs/AGW/regdb.yml"), SMALL + ["DATASETS.REGDB.TRIAL", 3])
    assert list(regdb.DATASETS.NAMES) == ["RegDB"] and regdb.DATASETS.REGDB.TRIAL == 3
    assert regdb.MODEL.META_ARCHITECTURE == "AGWBaseline" and regdb.SOLVER.MAX_EPOCH == 81
    hct = load_config(str(repo_root / "configs/HCT/sysu.yml"), SMALL)
    assert "MarginMMDLoss" not in hct.MODEL.LOSSES.NAME and hct.MODEL.LOSSES.HCTRI.SCALE == 1.0
    assert (hct.DATALOADER.IDS_PER_BATCH, hct.DATALOADER.NUM_INSTANCES, hct.MODEL.BACKBONE.SHARED_FROM) == (6, 8, "layer2")
    assert math.isclose(hct.MODEL.HEADS.GEM_P, 3.0) and hct.MODEL.HEADS.POOL == "gem"
