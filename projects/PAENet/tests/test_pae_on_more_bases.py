"""PAE + AAL on the bases with their own heads on the map (PAENetMapBase): DDAG, MPANet and the
published HCT (PCB), by ``configs/PAENet/{ddag,mpanet,hct_pcb}_sysu.yml``. The base keeps its whole
objective and test features (run on the map PAENet re-weighted) and PAENet adds its terms; with PAE,
AAL, the region branch and the recognizer off, PAENet on the base IS the base (same losses, same features)."""
import pytest
import torch

from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.utils.errors import UserError
from fastreid_ext.utils.plugins import import_plugins
from paenet.base_protocol import PAENetMapBase
from paenet_testkit import make_batch, small_opts

PAENET_TERMS = {"loss_attr", "loss_attr_recognizer"}
PAENET_PARTS = {"reference": ("pae.embedding_i.", "pae.embedding_iii.", "aal.heads.", "aal.region.", "input_neck.",
                               "recognizer."),
                 "paper": ("pae.attribute_projection.", "pae.embedding_i.", "pae.embedding_ii.", "pae.embedding_iii.",
                           "aal.heads.", "input_neck.", "recognizer.")}  # the paper's region branch has no parameters
# config, its base's own config, base class, the base's own loss terms, base parts that must get gradients,
# eval outputs → width for a map of C channels, input size (PCB: a map height divisible by 6 stripes)
BASES = {
    "DDAG": ("configs/PAENet/ddag_sysu.yml", "configs/DDAG/sysu.yml",
             {"loss_cls", "loss_triplet", "loss_part", "loss_graph"},
             ("base.backbone.", "base.bottleneck.", "base.wpa.", "base.graph.", "base.classifier."),
             lambda c: {"FC": c, "BN": c, "POOL": c}, (64, 32), ["DDAG.GRAPH.WEIGHT_SCHEDULE", "fixed"]),
    "MPANet": ("configs/PAENet/mpanet_sysu.yml", "configs/MPANet/sysu.yml",
               {"loss_sep", "loss_center_cluster", "loss_cls", "loss_sid", "loss_kl"},
               ("base.backbone.layer4.", "base.backbone.MAM4.", "base.pattern.", "base.classifier.", "base.mutual."),
               lambda c: {"BN": 7 * c, "POOL": 7 * c}, (64, 32), []),
    "HCTPCB": ("configs/PAENet/hct_pcb_sysu.yml", "configs/HCT/sysu_pcb.yml",
               {"loss_cls", "loss_hctri", "loss_hctri_concat"},
               ("base.backbone.", "base.head.reductions.", "base.classifiers."),
               lambda c: {"FC": 6 * 256, "POOL": 6 * c}, (96, 32), []),
}
OFF = ["PAENET.PAE.ENABLED", "False", "PAENET.AAL.ENABLED", "False", "PAENET.REGION_BRANCH", "False",
       "PAENET.RECOGNIZER.ENABLED", "False", "PAENET.TRAIN_ATTRIBUTE_INPUT", "gt",
       "PAENET.DEFAULT_ATTRIBUTE_SOURCE", "zeros", "TEST.ATTRIBUTE_SOURCES", '["zeros"]']


def _cfg(repo_root, config, depth=18, size=(64, 32), extra=()):
    cfg = load_config(str(repo_root / config), ["MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu"]
                      + small_opts(depth=depth, size=size, extra=extra))
    import_plugins(cfg.IMPORTS)
    return cfg


def _build(repo_root, name, depth=18, extra=(), config=None, seed=0, variant="reference"):
    paenet_config, _, _, _, _, size, base_extra = BASES[name]
    torch.manual_seed(seed)
    opts = list(base_extra) + list(extra)
    return build_model(_cfg(repo_root, config or paenet_config, depth, size, opts + ["PAENET.VARIANT", variant]))


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("name", list(BASES))
def test_one_training_step_keeps_the_base_objective(repo_root, name, variant):
    """Loss dict = every term of the base + PAENet's; finite; gradients reach PAE, AAL, the recognizer
    and the base's backbone and own heads (DDAG's graph with a non-zero weight)."""
    _, _, base_terms, base_parts, _, size, _ = BASES[name]
    model = _build(repo_root, name, variant=variant).train()
    assert type(model.base).__name__ == name and isinstance(model.base, PAENetMapBase) and model.on_map
    assert model.identity_neck is None and model.input_neck is not None
    losses = model(make_batch(num_ids=2, k=2, num_attributes=5, size=size))
    assert set(losses) == base_terms | PAENET_TERMS
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    for prefix in PAENET_PARTS[variant] + base_parts:
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix) and p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), prefix


@pytest.mark.parametrize("name", list(BASES))
def test_eval_outputs_are_the_base_features_with_attributes_embedded(repo_root, name):
    """Eval: the base's test features (those TEST.FEATURES reads) + attribute_probs; PAE's attribute
    input reaches them (gt and zeros give other features); no labels needed; the base's training-only
    parts are training-only for PAENet too."""
    config, _, _, _, widths, size, _ = BASES[name]
    widths = widths(512)
    model = _build(repo_root, name).eval()
    batch = make_batch(num_ids=2, k=2, num_attributes=5, size=size)
    del batch["targets"]
    with torch.no_grad():
        out = model({**batch, "attribute_source": "predicted"})
        gt, zeros = (model({**batch, "attribute_source": s}) for s in ("gt", "zeros"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {**{k: (8, w) for k, w in widths.items()},
                                                          "attribute_probs": (8, 5)}
    assert set(_cfg(repo_root, config, size=size).TEST.FEATURES) <= set(out)
    assert all(not torch.allclose(gt[k], zeros[k]) for k in widths)
    base_only = {p for p in type(model.base).TRAINING_ONLY_PREFIXES}
    assert {f"base.{p}" for p in base_only} | {"base.classifier."} == set(model.TRAINING_ONLY_PREFIXES)


@pytest.mark.parametrize("name", list(BASES))
def test_with_pae_aal_off_paenet_is_the_base(repo_root, name):
    """PAE, AAL, region branch and recognizer off: the loss dict is the base's own, every term equal to
    the base alone with the same weights (nothing dropped, nothing changed); the eval features too."""
    _, base_config, base_terms, _, widths, size, base_extra = BASES[name]
    widths = widths(512)
    model = _build(repo_root, name, extra=OFF)
    torch.manual_seed(0)
    base = build_model(_cfg(repo_root, base_config, size=size, extra=base_extra))
    base.load_state_dict(model.base.state_dict())
    batch = make_batch(num_ids=2, k=2, num_attributes=5, size=size)
    outputs = []
    for m in (model, base):
        m.train()
        torch.manual_seed(1)  # DDAG's graph dropout: the same draws
        losses = m(batch)
        m.eval()
        with torch.no_grad():
            outputs.append((losses, m({**batch, "attribute_source": "zeros"})))
    (ours, ours_eval), (theirs, theirs_eval) = outputs
    assert set(ours) == set(theirs) == base_terms
    for k in base_terms:
        torch.testing.assert_close(ours[k], theirs[k], rtol=0, atol=0, msg=k)
    assert set(ours_eval) == set(theirs_eval) == set(widths)
    for k in widths:
        torch.testing.assert_close(ours_eval[k], theirs_eval[k], rtol=0, atol=0, msg=k)


def test_training_forward_without_labels_names_the_base(repo_root):
    """DDAG's graph builds its adjacency from the batch labels: a training forward without them stops
    with one line naming the base; eval (what the evaluator and the predictor run) needs none."""
    model = _build(repo_root, "DDAG").train()
    batch = make_batch(num_ids=2, k=2, num_attributes=5)
    del batch["targets"]
    with pytest.raises(UserError, match=r"^PAENet on DDAG \(PAENET\.BASE_ARCHITECTURE\): the training forward needs "
                                        r"the batch labels \('targets'\)"):
        model(batch)
    with torch.no_grad():
        assert model.eval()({**batch, "attribute_source": "predicted"})["FC"].shape == (8, 512)


@pytest.mark.parametrize("name", list(BASES))
def test_resnet50_eval_shapes(repo_root, name):
    """ResNet-50 (C = 2048), batch 2, eval only."""
    _, _, _, _, widths, size, _ = BASES[name]
    model = _build(repo_root, name, depth=50).eval()
    batch = make_batch(num_ids=1, k=1, num_attributes=5, size=size)
    with torch.no_grad():
        out = model({**batch, "attribute_source": "gt"})
    assert model.base.map_channels == 2048
    assert {k: tuple(v.shape) for k, v in out.items()} == {**{k: (2, w) for k, w in widths(2048).items()},
                                                          "attribute_probs": (2, 5)}


def _flat(cfg, prefix=""):
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


ATTACH_KEYS = ("IMPORTS", "MODEL.META_ARCHITECTURE", "MODEL.NUM_ATTRIBUTES", "PAENET.", "SOLVER.LR_MULTIPLIERS",
               "OUTPUT_DIR", "DATASETS.ATTRIBUTES.", "TEST.ATTRIBUTE_SOURCES")


@pytest.mark.parametrize("config,base_config", [
    ("ddag_sysu", "DDAG/sysu"), ("ddag_regdb", "DDAG/regdb"), ("mpanet_sysu", "MPANet/sysu"),
    ("mpanet_regdb", "MPANet/regdb"), ("hct_pcb_sysu", "HCT/sysu_pcb"), ("hct_pcb_regdb", "HCT/regdb_pcb")])
def test_attach_configs_keep_the_base_recipe(repo_root, config, base_config):
    """Every key outside PAENet's own equals the base's config (recipe, losses, test features); the base's
    lr multipliers are kept under PAENet's ``base.`` names; the label-free setup."""
    ours = load_config(str(repo_root / f"configs/PAENet/{config}.yml"))
    theirs = load_config(str(repo_root / f"configs/{base_config}.yml"))
    a, b = _flat(ours), _flat(theirs)
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and not k.startswith(ATTACH_KEYS))
    assert not differ, [(k, a.get(k), b.get(k)) for k in differ]
    assert ours.MODEL.META_ARCHITECTURE == "PAENet" and ours.PAENET.BASE_ARCHITECTURE == theirs.MODEL.META_ARCHITECTURE
    assert set(theirs.IMPORTS) | {"paenet"} == set(ours.IMPORTS)
    base_lrs = {p.replace("^", "^base\\.", 1): f for p, f in theirs.SOLVER.LR_MULTIPLIERS}
    assert base_lrs.items() <= {p: f for p, f in ours.SOLVER.LR_MULTIPLIERS}.items()
    assert ours.PAENET.RECOGNIZER.ENABLED and ours.PAENET.DEFAULT_ATTRIBUTE_SOURCE == "predicted"


@pytest.mark.parametrize("name", list(BASES))
def test_eval_only_weights_skip_the_base_training_parts(repo_root, name, tmp_path):
    """A checkpoint trained with another class count loads for --eval-only: the base's classifiers (DDAG's
    graph, MPANet's mutual classifiers, the PCB classifiers) are training-only, every retrieval parameter
    loads, and the features are the trained model's."""
    from fastreid_ext.checkpoint import ReidCheckpointer

    size = BASES[name][5]
    trained = _build(repo_root, name, extra=["MODEL.HEADS.NUM_CLASSES", "4"]).eval()
    path = tmp_path / "model.pth"
    torch.save({"model": trained.state_dict()}, path)
    model = _build(repo_root, name, seed=1).eval()  # 3 classes, other weights
    ReidCheckpointer(model).load_for_eval(str(path))
    batch = {**make_batch(num_ids=2, k=2, num_attributes=5, size=size), "attribute_source": "predicted"}
    with torch.no_grad():
        ours, theirs = model(batch), trained(batch)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
