"""DDAG: eval features and training loss terms equal a reference forward of the public model
(public_ddag_reference.py) on the CRC-32 weight fill, loaded as a public checkpoint through the
real loading path; the label adjacency; the adaptive graph-loss weight across epochs and resume;
one training step on ResNet-18 at 64x32; the recipe; bad input."""
import copy

import pytest
import torch
import torch.nn.functional as F

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_optimizer
from fastreid_ext.utils.errors import UserError
from fastreid_ext.utils.events import EventStorage
from fastreid_ext.utils.testing import assert_matches_golden, deterministic_fill
from public_ddag_reference import PublicDDAG

from ddag.graph_attention import label_adjacency
from ddag.graph_weight import AdaptiveGraphWeight

CLASSES, SIZE = 4, (64, 32)  # a 4 x 2 final map: 3 overlapping parts


def _cfg(repo_root, depth=50, size=SIZE, extra=(), config="configs/DDAG/sysu.yml"):
    return load_config(str(repo_root / config), ["MODEL.BACKBONE.PRETRAIN", False, "MODEL.DEVICE", "cpu",
                                                 "MODEL.BACKBONE.DEPTH", depth, "MODEL.HEADS.NUM_CLASSES", CLASSES,
                                                 "INPUT.SIZE_TRAIN", list(size), "INPUT.SIZE_TEST", list(size), *extra])


@pytest.fixture(scope="module")
def reference():
    ref = PublicDDAG(512, CLASSES, drop=0.0)
    ref.load_state_dict(deterministic_fill(ref))
    return ref


@pytest.fixture(scope="module")
def public_file(reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("ddag") / "sysu_G_P_3_drop_0.2_4_8_lr_0.1_seed_0_best.t"
    torch.save({"net": reference.state_dict(), "cmc": [0.0], "mAP": 0.0, "epoch": 80}, path)
    return path


@pytest.fixture(scope="module")
def loaded(repo_root, public_file):
    model = build_model(_cfg(repo_root, extra=["DDAG.GRAPH.DROPOUT", 0.0]))
    ReidCheckpointer(model).load(str(public_file))
    return model


def _batch(p=2, k=2, size=SIZE, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(p).repeat_interleave(k)
    n = 2 * p * k
    return {"images": torch.randn(n, 3, *size, generator=g), "targets": torch.cat([ids, ids]),
            "modality": torch.tensor([0] * (p * k) + [1] * (p * k)), "camids": torch.ones(n, dtype=torch.long)}


def test_eval_features_equal_the_public_forward(loaded, reference):
    images = torch.randn(3, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    loaded.eval()
    reference.eval()
    with torch.no_grad():
        for modality, modal in ((0, 1), (1, 2)):
            out = loaded({"images": images, "modality": torch.full((3,), modality)})
            feat, feat_att = reference.eval_features(images, modal)
            for ours, ref, name in ((out["BN"], feat, "feat"), (out["FC"], feat_att, "feat_att")):
                rel = float((ours - ref).norm() / ref.norm())
                assert rel <= 1e-5, f"modal {modal} {name}: relative error {rel:.3g}"
                assert_matches_golden(F.normalize(ours, dim=1), F.normalize(ref, dim=1), f"modal {modal} {name}")
            assert not torch.allclose(out["FC"], out["BN"], rtol=0.1)  # the part attention is not a no-op


def test_training_terms_equal_the_public_step(loaded, reference):
    """Train mode, graph dropout 0: each loss term as train_ddag.py computes it, w_G set to 0.7."""
    batch = _batch()
    loaded, reference = copy.deepcopy(loaded).train(), copy.deepcopy(reference).train()  # BN statistics move
    loaded.graph_weight.weight.fill_(0.7)
    loaded.graph_weight.adaptive = False
    with torch.no_grad():
        ours = loaded(batch)
        n = len(batch["targets"]) // 2
        ref = reference.train_losses(batch["images"][:n], batch["images"][n:], batch["targets"], CLASSES, 0.7)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert torch.allclose(ours[k], ref[k], rtol=1e-4, atol=1e-6), (k, float(ours[k]), float(ref[k]))
    assert float(ref["loss_graph"]) > 0


def test_public_names_map_and_unused_ones_are_skipped(loaded, reference):
    theirs, ours = reference.state_dict(), loaded.state_dict()
    skipped = set(loaded.skipped_checkpoint_keys)
    assert {k for k in skipped if not k.startswith(("visible_module", "thermal_module", "base_resnet"))} == {
        k for k in theirs if k.startswith(("classifier1.", "classifier2.", "wpa.W."))}
    assert "base_resnet.base.conv1.weight" in skipped and "visible_module.visible.layer1.0.conv1.weight" in skipped
    for their_key, our_key in (("attention_3.a", "graph.heads.3.a"), ("out_att.W", "graph.out.W"),
                               ("wpa.fc1.0.weight", "wpa.fc1.0.weight"), ("wpa.gate", "wpa.gate"),
                               ("thermal_module.thermal.bn1.running_mean", "backbone.specific.infrared.bn1.running_mean"),
                               ("base_resnet.base.layer1.0.conv1.weight", "backbone.shared.layer1.0.conv1.weight")):
        assert torch.equal(ours[our_key], theirs[their_key]), our_key


def test_adjacency_joins_same_identities_across_modalities():
    adj = label_adjacency(torch.tensor([0, 0, 1, 0, 1, 1]))
    assert adj.tolist() == [[1, 1, 0, 1, 0, 0], [1, 1, 0, 1, 0, 0], [0, 0, 1, 0, 1, 1],
                            [1, 1, 0, 1, 0, 0], [0, 0, 1, 0, 1, 1], [0, 0, 1, 0, 1, 1]]
    public = PublicDDAG.adjacency(torch.tensor([0, 0, 1, 0, 1, 1]), 3)
    assert torch.equal(public > 0, adj > 0)


def test_graph_weight_is_zero_then_set_from_the_previous_epoch_mean():
    w = AdaptiveGraphWeight()
    seen = []
    with EventStorage(0) as storage:
        for epoch, losses in ((0, [1.0, 3.0]), (1, [0.5, 1.5]), (2, [4.0])):
            storage.epoch = epoch
            seen.append([w.step(torch.tensor(v)) for v in losses])
    assert seen == [[0.0, 0.0], [1 / (1 + 2.0)] * 2, [1 / (1 + 1.0)]]
    restored = AdaptiveGraphWeight()
    restored.load_state_dict(w.state_dict())  # checkpointed with the model: resume keeps it
    with EventStorage(0) as storage:
        storage.epoch = 3
        assert restored.step(torch.tensor(0.0)) == pytest.approx(1 / (1 + 4.0))
    assert AdaptiveGraphWeight(adaptive=False, fixed_weight=0.5).step(torch.tensor(9.0)) == 0.5


def test_one_training_step_resnet18(repo_root):
    torch.manual_seed(0)
    cfg = _cfg(repo_root, depth=18, extra=["DDAG.GRAPH.WEIGHT_SCHEDULE", "fixed"])
    model = build_model(cfg).train()
    opt = build_optimizer(cfg, model)
    batch = _batch()
    losses = model(batch)
    assert sorted(losses) == ["loss_cls", "loss_graph", "loss_part", "loss_triplet"]
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.graph.heads[0].W.grad.abs().sum() > 0 and model.wpa.gate.grad is not None
    before = model.wpa.fc2.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, model.wpa.fc2.weight)
    out = model.eval()(batch)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"FC": (8, 512), "BN": (8, 512), "POOL": (8, 512)}


def test_recipe(repo_root):
    cfg = _cfg(repo_root, depth=18)
    assert (cfg.MODEL.BACKBONE.SHARED_FROM, cfg.DDAG.PARTS, cfg.DDAG.GRAPH.HEADS, cfg.DDAG.GRAPH.LOW_DIM) == (
        "layer1", 3, 4, 512)
    assert (cfg.SOLVER.MAX_EPOCH, list(cfg.SOLVER.STEPS), cfg.DATALOADER.IDS_PER_BATCH,
            cfg.DATALOADER.NUM_INSTANCES, cfg.TEST.EVAL_START_EPOCH) == (81, [20, 50], 8, 4, 2)
    model = build_model(cfg)
    lrs = {}
    for g in build_optimizer(cfg, model).param_groups:
        assert g["momentum"] == 0.9 and g["nesterov"] and g["weight_decay"] == 5e-4
        lrs.setdefault(round(g["lr"], 8), set()).update(id(p) for p in g["params"])
    assert lrs[0.01] == {id(p) for p in model.backbone.parameters()}
    heads = [*model.graph.parameters(), *model.wpa.parameters(), *model.bottleneck.parameters(),
             *model.classifier.parameters()]
    assert lrs[0.1] == {id(p) for p in heads if p.requires_grad}  # the BNNecks' zero biases stay fixed
    regdb = _cfg(repo_root, depth=18, config="configs/DDAG/regdb.yml")
    assert list(regdb.DATASETS.NAMES) == ["RegDB"] and regdb.MODEL.META_ARCHITECTURE == "DDAG"


def test_bad_input(repo_root):
    model = build_model(_cfg(repo_root, depth=18)).train()
    batch = _batch()
    del batch["targets"]
    with pytest.raises(UserError, match=r"DDAG's training forward needs the batch labels \('targets'\)"):
        model(batch)
    assert model.eval()(batch)["FC"].shape == (8, 512)  # eval needs no labels
    with pytest.raises(UserError, match="DDAG.GRAPH.WEIGHT_SCHEDULE 'sometimes'"):
        build_model(_cfg(repo_root, depth=18, extra=["DDAG.GRAPH.WEIGHT_SCHEDULE", "sometimes"]))

