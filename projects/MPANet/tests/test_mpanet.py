"""MPANet: eval features and training loss terms equal a reference forward of the public model
(public_mpanet_reference.py, ResNet-50) on the CRC-32 weight fill, loaded as a public checkpoint
through the real loading path; one training step on ResNet-18 at 64x32 (finite losses, parameters
and teachers move, teachers outside the optimizer); eval shapes; the recipe; bad input."""
import copy

import pytest
import torch

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.checkpoint.formats import foreign_format
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_optimizer
from fastreid_ext.utils.errors import UserError
from fastreid_ext.utils.testing import assert_matches_golden, deterministic_fill
from public_mpanet_reference import PublicMPANet

CLASSES, SIZE, K = 3, (64, 32), 2  # 64x32 → a 4 x 2 final map (last stride 1)


def _cfg(repo_root, depth=50, extra=(), config="configs/MPANet/sysu.yml"):
    return load_config(str(repo_root / config), ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.DEVICE", "cpu",
                                                 "MODEL.BACKBONE.DEPTH", depth, "MODEL.HEADS.NUM_CLASSES", CLASSES,
                                                 "INPUT.SIZE_TRAIN", list(SIZE), "INPUT.SIZE_TEST", list(SIZE), *extra])


def _batch(p=CLASSES, k=K, seed=0):
    """The public sampler's layout: p identities x k visible images, then the same identities x k infrared."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(p).repeat_interleave(k)
    n = 2 * p * k
    return {"images": torch.randn(n, 3, *SIZE, generator=g), "targets": torch.cat([ids, ids]),
            "modality": torch.tensor([0] * (p * k) + [1] * (p * k)), "camids": torch.ones(n, dtype=torch.long)}


@pytest.fixture(scope="module")
def reference():
    ref = PublicMPANet(CLASSES, k_size=K)
    ref.load_state_dict(deterministic_fill(ref))
    return ref


@pytest.fixture(scope="module")
def public_file(reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("mpanet") / "model_best.pth"
    torch.save(reference.state_dict(), path)  # its engine saves the bare state dict
    return path


@pytest.fixture(scope="module")
def loaded(repo_root, public_file):
    model = build_model(_cfg(repo_root))
    ReidCheckpointer(model).load(str(public_file))
    return model


def test_eval_features_equal_the_public_forward(loaded, reference):
    images = torch.randn(3, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    loaded.eval()
    reference.eval()
    with torch.no_grad():
        ref = reference.eval_features(images)
        for modality in (0, 1):  # one network for both modalities: the label does not change the feature
            out = loaded({"images": images, "modality": torch.full((3,), modality)})
            assert out["BN"].shape == out["POOL"].shape == (3, 2048 * 7)
            rel = float((out["BN"] - ref).norm() / ref.norm())
            assert rel <= 1e-5, f"modality {modality}: relative error {rel:.3g}"
            assert_matches_golden(torch.nn.functional.normalize(out["BN"], dim=1),
                                  torch.nn.functional.normalize(ref, dim=1), f"modality {modality}")


def test_training_terms_and_teachers_equal_the_public_step(loaded, reference):
    batch = _batch()
    ours, ref = copy.deepcopy(loaded).train(), copy.deepcopy(reference).train()
    with torch.no_grad():
        got = ours(batch)
        want = ref.train_losses(batch["images"], batch["targets"], batch["modality"] == 1)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.allclose(got[k], want[k], rtol=1e-4, atol=1e-6), (k, float(got[k]), float(want[k]))
        assert float(want[k]) > 0, k
    for side in ("visible", "infrared"):
        assert torch.allclose(getattr(ours.mutual, f"{side}_classifier_").weight,
                              getattr(ref, f"{side}_classifier_").weight, atol=1e-7)


def test_public_names_map(loaded, reference, public_file):
    theirs, ours = reference.state_dict(), loaded.state_dict()
    assert foreign_format(theirs).name == "mpanet_public"
    assert foreign_format(ours) is None  # our own names are not mistaken for the public file
    for their_key, our_key in (("spatial_attention.weight", "pattern.spatial_attention.weight"),
                               ("visible_classifier_.weight", "mutual.visible_classifier_.weight"),
                               ("backbone.MAM3.channel_attention.2.weight", "backbone.MAM3.channel_attention.2.weight"),
                               ("bn_neck.running_var", "bn_neck.running_var")):
        assert torch.equal(ours[our_key], theirs[their_key]), our_key
    assert set(ours) - {k for k in ours if k.endswith("num_batches_tracked")} <= {
        "pattern." + k if k.startswith("spatial") else "mutual." + k if "_classifier" in k else k for k in theirs}


@pytest.mark.parametrize("config", ["configs/MPANet/sysu.yml", "configs/MPANet/regdb.yml"])
def test_one_step_resnet18_moves_students_and_teachers(repo_root, config):
    torch.manual_seed(0)
    cfg = _cfg(repo_root, depth=18, config=config)
    model = build_model(cfg).train()
    opt = build_optimizer(cfg, model)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    teachers = [model.mutual.visible_classifier_.weight, model.mutual.infrared_classifier_.weight]
    assert not any(id(t) in in_opt for t in teachers) and "mutual.visible_classifier_.weight" in model.state_dict()
    assert id(model.bn_neck.bias) not in in_opt  # its neck bias is fixed at 0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    teachers_before = [t.clone() for t in teachers]
    losses = model(_batch())
    assert set(losses) == {"loss_sep", "loss_center_cluster", "loss_cls", "loss_sid", "loss_kl"}
    assert all(torch.isfinite(v) for v in losses.values())
    opt.zero_grad()
    sum(losses.values()).backward()
    opt.step()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    for name in ("backbone.conv1.weight", "backbone.MAM3.channel_attention.0.weight", "backbone.MAM4.channel_attention.2.weight",
                 "pattern.spatial_attention.weight", "classifier.weight", "mutual.visible_classifier.weight",
                 "mutual.infrared_classifier.weight", "bn_neck.weight"):
        assert name in moved, name
    assert "bn_neck.bias" not in moved
    assert all(not torch.equal(t, b) for t, b in zip(teachers, teachers_before))  # the EMA step of the forward
    model.eval()
    with torch.no_grad():
        out = model({"images": torch.randn(5, 3, *SIZE), "modality": torch.tensor([0, 1, 0, 1, 1])})
    assert {k: tuple(v.shape) for k, v in out.items()} == {"BN": (5, 512 * 7), "POOL": (5, 512 * 7)}


def test_one_step_under_autocast_gives_float32_finite_terms(repo_root):
    """SOLVER.AMP on a CPU autocasts to bfloat16 (float16 on a GPU): every term comes back float32 and finite."""
    torch.manual_seed(0)
    model = build_model(_cfg(repo_root, depth=18)).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model(_batch())
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_recipe(repo_root):
    sysu, regdb = (load_config(str(repo_root / f"configs/MPANet/{n}.yml")) for n in ("sysu", "regdb"))
    s = sysu.SOLVER
    assert (s.OPTIMIZER, s.BASE_LR, s.MAX_EPOCH, list(s.STEPS), s.WARMUP_EPOCHS) == ("Adam", 0.00035, 140, [80, 120], 0)
    assert (list(sysu.INPUT.SIZE_TRAIN), sysu.DATALOADER.IDS_PER_BATCH, 2 * sysu.DATALOADER.NUM_INSTANCES) == ([384, 128], 16, 8)
    assert (sysu.MPANET.NUM_PARTS, sysu.MPANET.MUTUAL.KL_WEIGHT, sysu.MPANET.CENTER_CLUSTER.MARGIN) == (6, 2.5, 0.7)
    assert (list(regdb.INPUT.SIZE_TRAIN), regdb.DATALOADER.IDS_PER_BATCH, list(regdb.SOLVER.STEPS)) == ([256, 128], 12, [110])


def test_bad_input(repo_root):
    model = build_model(_cfg(repo_root, depth=18)).train()
    batch = _batch()
    with pytest.raises(UserError, match="needs the batch labels"):
        model({k: v for k, v in batch.items() if k != "targets"})
    with pytest.raises(UserError, match="both modalities"):
        model({**batch, "modality": torch.zeros_like(batch["modality"])})
    with pytest.raises(UserError, match="MPANET.MAM_STAGES is 3"):
        build_model(_cfg(repo_root, depth=18, extra=["MPANET.MAM_STAGES", 3]))


def test_teacher_rate_follows_the_public_epoch_schedule(repo_root):
    """Its engine sets update_rate = min(100 / (e + 1), 1) * 0.2 at each 1-based epoch e."""
    from fastreid_ext.utils.events import EventStorage
    mutual = build_model(_cfg(repo_root, depth=18)).mutual
    public = {e: min(100 / (e + 1), 1.0) * 0.2 for e in (1, 99, 100, 140)}
    assert {e: mutual.rate_at(e - 1) for e in public} == pytest.approx(public)
    assert mutual.rate_at(None) == 0.2 and public[140] < public[100] < public[99] == 0.2
    feat, targets, infrared = torch.randn(4, mutual.visible_classifier.in_features), torch.tensor([0, 1, 0, 1]), \
        torch.tensor([False, False, True, True])
    student = mutual.visible_classifier.weight.detach()
    mutual.visible_classifier_.weight.zero_()
    with EventStorage(0) as storage:
        storage.epoch = 139
        mutual.losses(feat, targets, infrared)
    assert torch.allclose(mutual.visible_classifier_.weight, public[140] * student)  # 0 * (1 - r) + r * student


def test_public_file_into_another_architecture_names_the_config(repo_root, public_file):
    """Known once the plugin is imported (a config naming it in IMPORTS, or here directly)."""
    import mpanet  # noqa: F401
    other = build_model(load_config(str(repo_root / "configs/Base-CrossModal.yml"), [
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", 18, "MODEL.HEADS.NUM_CLASSES", 3]))
    with pytest.raises(ValueError, match=r"public MPANet checkpoint .* but the model is CrossModalBaseline; .*IMPORTS: \[mpanet\]"):
        ReidCheckpointer(other).load(str(public_file))
