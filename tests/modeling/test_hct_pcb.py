"""The published HCT (PCB) model, ``HCTPCB``: its features equal a reference forward of the public
``model_mine.py`` (tests/assets/hct_pcb_reference/) on a deterministic weight fill loaded through
the real checkpoint path, published names map, one training step and the eval shapes on ResNet-18
and ResNet-50, the loss composition and the recipe, and bad input."""
import types

import pytest
import torch
import torch.nn.functional as F

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.modeling.losses import hetero_center_triplet_loss
from fastreid_ext.solver import build_optimizer
from fastreid_ext.utils.errors import UserError
from fastreid_ext.utils.testing import assert_matches_golden, deterministic_fill

SIZE = [192, 64]  # a 12 x 4 map at last stride 1: 6 stripes of 2 rows
CLASSES = 5


def _cfg(repo_root, config="configs/HCT/sysu_pcb.yml", depth=50, size=SIZE, extra=()):
    return load_config(str(repo_root / config), ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.DEVICE", "cpu",
                                                 "MODEL.BACKBONE.DEPTH", depth, "MODEL.HEADS.NUM_CLASSES", CLASSES,
                                                 "INPUT.SIZE_TRAIN", list(size), "INPUT.SIZE_TEST", list(size),
                                                 *extra])


@pytest.fixture(scope="module")
def reference(repo_root):
    path = repo_root / "tests/assets/hct_pcb_reference/public_hct_pcb.py"
    module = types.ModuleType("public_hct_pcb")  # executed from source: no bytecode cache under tests/assets
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    ref = module.PublicHCTPCB(CLASSES, share_net=2, gem_p=10.0).eval()
    ref.load_state_dict(deterministic_fill(ref))
    return ref


@pytest.fixture(scope="module")
def published_file(reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("hct") / "sysu_c_tri_pcb_on_w_tri_1.0_s6_f256_share_net2_best.t"
    torch.save({"net": reference.state_dict(), "cmc": [0.0], "mAP": 0.0, "mINP": 0.0, "epoch": 60}, path)
    return path


@pytest.fixture(scope="module")
def loaded(repo_root, published_file):
    model = build_model(_cfg(repo_root, extra=["MODEL.PCB.GEM_P", 10.0]))  # p of the public code's PCB path
    ReidCheckpointer(model).load_for_eval(str(published_file))  # refuses on any missing / mis-shaped key
    return model.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, *SIZE, generator=torch.Generator().manual_seed(0))


def _eval(model, images, modality):
    with torch.no_grad():
        return model({"images": images, "modality": torch.full((len(images),), modality, dtype=torch.long)})


def test_features_equal_the_public_forward(loaded, reference, images):
    for modality, modal in ((0, 1), (1, 2)):  # public modal 1 = visible, 2 = thermal
        out = _eval(loaded, images, modality)
        with torch.no_grad():
            ref_raw, ref_l2 = reference.features(images, modal), reference(images, modal)
        assert out["FC"].shape == (3, 6 * 256) and out["POOL"].shape == (3, 6 * 2048)
        rel = float((out["FC"] - ref_raw).norm() / ref_raw.norm())
        assert rel <= 1e-5, f"modal {modal}: relative error {rel:.3g}"
        assert_matches_golden(F.normalize(out["FC"], dim=1), ref_l2, f"modal {modal}")
    vis, ir = _eval(loaded, images, 0)["FC"], _eval(loaded, images, 1)["FC"]
    assert not torch.allclose(vis, ir, rtol=0.1)  # the two stems differ


def test_the_comparison_sees_the_stripe_pooling(repo_root, published_file, reference, images):
    """GeM p = 3 (our SYSU config) instead of the code's 10 gives other features: the test can fail."""
    model = build_model(_cfg(repo_root))
    ReidCheckpointer(model).load_for_eval(str(published_file))
    out = _eval(model.eval(), images, 0)["FC"]
    with torch.no_grad():
        ref = reference.features(images, 1)
    assert float((out - ref).norm() / ref.norm()) > 1e-2


def test_published_names_map_one_to_one(loaded, reference):
    theirs, ours = reference.state_dict(), loaded.state_dict()
    assert loaded.skipped_checkpoint_keys == [] and len(ours) == len(theirs)
    for their_key, our_key in (("visible_module.visible.conv1.weight", "backbone.specific.visible.conv1.weight"),
                               ("thermal_module.thermal.layer1.2.bn3.running_var",
                                "backbone.specific.infrared.layer1.2.bn3.running_var"),
                               ("base_resnet.base.layer4.0.downsample.0.weight",
                                "backbone.shared.layer4.0.downsample.0.weight"),
                               ("local_conv_list.5.0.bias", "head.reductions.5.0.bias"),
                               ("local_conv_list.2.1.running_mean", "head.reductions.2.1.running_mean"),
                               ("fc_list.3.weight", "classifiers.3.weight")):
        assert torch.equal(ours[our_key], theirs[their_key]), our_key


def test_published_file_refused_by_other_models(repo_root, published_file):
    model = build_model(_cfg(repo_root, "configs/HCT/sysu.yml"))
    with pytest.raises(ValueError, match=r"published HCT PCB checkpoint.*CrossModalBaseline.*HCTPCB"):
        ReidCheckpointer(model).load(str(published_file))


@pytest.mark.parametrize("depth,channels", [(18, 512), (50, 2048)])
def test_one_training_step_and_eval_shapes(repo_root, make_batch, depth, channels):
    torch.manual_seed(0)
    cfg = _cfg(repo_root, depth=depth, size=[96, 32])
    model = build_model(cfg).train()
    opt = build_optimizer(cfg, model)
    batch = make_batch(p=2, k=2, size=(96, 32))
    losses = model(batch)
    assert sorted(losses) == ["loss_cls", "loss_hctri", "loss_hctri_concat"]
    assert all(torch.isfinite(v) for v in losses.values())
    before = model.head.reductions[0][0].weight.detach().clone()
    sum(losses.values()).backward()
    assert model.backbone.specific["infrared"].conv1.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, model.head.reductions[0][0].weight)
    out = model.eval()(batch)
    assert out["FC"].shape == (8, 1536) and out["POOL"].shape == (8, 6 * channels)


def test_loss_composition(repo_root, make_batch):
    """Σ_i CE_i, w_center · Σ_i HcTri(stripe_i) and HcTri(concat), from the features of the same forward."""
    cfg = _cfg(repo_root, depth=18, size=[96, 32], extra=["MODEL.LOSSES.HCTRI.SCALE", 2.0])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    batch = make_batch(p=2, k=2, size=(96, 32))
    captured = {}
    model.head.register_forward_hook(lambda m, i, o: captured.update(local=o[0]))
    losses = model(batch)
    t, mod = batch["targets"], batch["modality"]
    local = captured["local"]
    ce = sum(F.cross_entropy(fc(f), t) for fc, f in zip(model.classifiers, local))
    tri = sum(hetero_center_triplet_loss(f, t, mod, margin=0.3) for f in local)
    assert torch.allclose(losses["loss_cls"], ce)
    assert torch.allclose(losses["loss_hctri"], 2.0 * tri)
    assert torch.allclose(losses["loss_hctri_concat"], hetero_center_triplet_loss(torch.cat(local, 1), t, mod, 0.3))


def test_recipes(repo_root):
    sysu, regdb = _cfg(repo_root), _cfg(repo_root, "configs/HCT/regdb_pcb.yml")
    assert (sysu.MODEL.BACKBONE.SHARED_FROM, sysu.MODEL.PCB.NUM_STRIPES, sysu.MODEL.PCB.LOCAL_DIM) == ("layer2", 6, 256)
    assert (sysu.MODEL.PCB.GEM_P, sysu.MODEL.LOSSES.HCTRI.SCALE, sysu.DATALOADER.IDS_PER_BATCH,
            sysu.DATALOADER.NUM_INSTANCES) == (3.0, 1.0, 6, 8)
    assert (regdb.MODEL.PCB.GEM_P, regdb.MODEL.LOSSES.HCTRI.SCALE, regdb.DATALOADER.IDS_PER_BATCH,
            regdb.DATALOADER.NUM_INSTANCES, list(regdb.DATASETS.NAMES)) == (10.0, 2.0, 8, 4, ["RegDB"])
    cfg = _cfg(repo_root, depth=18, size=[96, 32])
    model = build_model(cfg)
    lrs = {}
    for g in build_optimizer(cfg, model).param_groups:
        lrs.setdefault(round(g["lr"], 8), set()).update(id(p) for p in g["params"])
    assert lrs[0.01] == {id(p) for p in model.backbone.parameters()}
    assert lrs[0.1] == {id(p) for p in [*model.head.parameters(), *model.classifiers.parameters()]}


def test_bad_input(repo_root):
    with pytest.raises(UserError, match=r"INPUT.SIZE_TRAIN \[64, 32\] gives a feature map 4 rows high.*"
                                        r"MODEL.PCB.NUM_STRIPES 6"):
        build_model(_cfg(repo_root, depth=18, size=[64, 32]))
    with pytest.raises(UserError, match=r"\['MarginMMDLoss'\], unknown to HCTPCB"):
        build_model(_cfg(repo_root, depth=18, size=[96, 32],
                         extra=["MODEL.LOSSES.NAME", ["CrossEntropyLoss", "MarginMMDLoss"]]))
