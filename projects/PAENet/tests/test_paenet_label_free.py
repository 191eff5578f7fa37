"""The label-free path: the recognizer sees only the image, ``predicted`` feeds its output to PAE,
and no ground-truth attribute reaches that path; the bad configurations fail with one clear line."""
import pytest
import torch

from fastreid_ext.utils.errors import UserError
from paenet_testkit import make_batch

N = 5
LABEL_FREE = ["PAENET.RECOGNIZER.ENABLED", "True", "PAENET.TRAIN_ATTRIBUTE_INPUT", "predicted"]


@pytest.fixture(scope="module")
def batch():
    return make_batch(num_ids=2, k=2, num_attributes=N)


def _other_labels(batch):
    return {**batch, "attributes": 1 - batch["attributes"], "attribute_mask": torch.ones_like(batch["attribute_mask"])}


@pytest.mark.parametrize("variant,recognizer", [("reference", "linear"), ("paper", "linear"), ("reference", "conv")])
def test_no_label_reaches_the_predicted_path(build_small, batch, variant, recognizer):
    model = build_small(variant=variant, extra=[*LABEL_FREE, "PAENET.RECOGNIZER.NAME", recognizer]).eval()
    with torch.no_grad():
        model.recognizer.classifier.bias.copy_(torch.linspace(-3, 3, N))  # some attributes predicted present
        a = model({**batch, "attribute_source": "predicted"})
        b = model({**_other_labels(batch), "attribute_source": "predicted"})
        gt = model({**batch, "attribute_source": "gt"})
    assert set(a) == {"FC", "POOL", "attribute_probs"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.allclose(a["FC"], gt["FC"], atol=1e-6)  # the labels would have mattered


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_training_with_predicted_inputs_keeps_labels_out_of_the_identity_terms(build_small, batch, variant):
    model = build_small(variant=variant, extra=LABEL_FREE).train()

    def losses(b):
        torch.manual_seed(0)  # the same dropout masks
        with torch.no_grad():
            return model(b)

    a, b = losses(batch), losses(_other_labels(batch))
    assert set(a) == {"loss_cls", "loss_hctri", "loss_mmd", "loss_attr", "loss_attr_recognizer"}
    for k in ("loss_cls", "loss_hctri", "loss_mmd"):  # PAE was fed the predictions, not the labels
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["loss_attr_recognizer"], b["loss_attr_recognizer"])  # the labels are its targets


@pytest.mark.parametrize("recognizer,reached", [("linear", {"base", "recognizer"}), ("conv", {"recognizer"})])
def test_recognizer_sees_only_the_image(build_small, batch, recognizer, reached):
    """Its gradient from its own loss reaches the backbone (linear head on the pooled feature) or only
    itself (its own CNN on the image), never PAE or AAL."""
    model = build_small(extra=[*LABEL_FREE, "PAENET.RECOGNIZER.NAME", recognizer]).train()
    model(batch)["loss_attr_recognizer"].backward()
    got = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == reached


@pytest.mark.parametrize("size", [(64, 32), (96, 48)])
def test_conv_recognizer_reads_the_image_at_any_size(size):
    """The CNN recognizer maps any H×W to B×n logits, and its logits depend on the image alone."""
    from paenet.attribute_recognition import build_recognizer

    torch.manual_seed(0)
    rec = build_recognizer("conv", feat_dim=7, num_attributes=N, channels=[4, 8]).eval()
    images = torch.randn(3, 3, *size)
    out = rec(images, torch.randn(3, 7))
    assert out.shape == (3, N)
    assert torch.equal(out, rec(images, torch.randn(3, 7)))  # the pooled feature is not read
    assert not torch.allclose(out, rec(images.flip(2), torch.randn(3, 7)))
    assert sum(p.numel() for p in rec.parameters()) == (  # two 3x3 conv-BN per stage, BN1d + linear on avg|max
        (3 * 4 * 9 + 2 * 4) + (4 * 4 * 9 + 2 * 4) + (4 * 8 * 9 + 2 * 8) + (8 * 8 * 9 + 2 * 8) + 2 * 16 + 16 * N + N)


def test_unknown_recognizer_and_bad_channels_fail_naming_the_key():
    from paenet.attribute_recognition import build_recognizer

    with pytest.raises(ValueError, match=r"PAENET\.RECOGNIZER\.NAME is 'mlp'; expected one of \('linear', 'conv'\)"):
        build_recognizer("mlp", 8, N, [4])
    with pytest.raises(ValueError, match=r"PAENET\.RECOGNIZER\.CHANNELS is \[\]"):
        build_recognizer("conv", 8, N, [])


@pytest.mark.parametrize("mode,fraction", [("gt", 0.0), ("predicted", 1.0), ("mix", 0.5)])
def test_train_attribute_input(build_small, batch, mode, fraction, monkeypatch):
    """gt | predicted | mix: which vector PAE gets in training (recorded at PAE's input)."""
    model = build_small(extra=["PAENET.RECOGNIZER.ENABLED", "True", "PAENET.TRAIN_ATTRIBUTE_INPUT", mode,
                               "PAENET.TRAIN_PREDICTED_PROB", "0.5"]).train()
    with torch.no_grad():
        model.recognizer.classifier.bias.fill_(10.0)  # predicts every attribute present
    seen = []
    pae_forward = model.pae.forward
    monkeypatch.setattr(model.pae, "forward", lambda fmap, f, a: seen.append(a) or pae_forward(fmap, f, a))
    torch.manual_seed(3)
    with torch.no_grad():
        model(batch)
    fed = seen[0]
    is_predicted = (fed == 1).all(1) & ~(batch["attributes"] == 1).all(1)
    is_gt = (fed == batch["attributes"]).all(1)
    assert bool((is_predicted | is_gt).all())
    if fraction in (0.0, 1.0):
        assert is_predicted.float().mean().item() == fraction
    else:
        assert 0 < is_predicted.sum() < len(fed)


def test_label_free_config_without_attributes_names_dataset_and_files(make_cfg):
    from fastreid_ext.modeling import build_model

    cfg = make_cfg("configs/PAENet/sysu_labelfree.yml", ["MODEL.NUM_ATTRIBUTES", "0", "DATASETS.ROOT", "/nowhere"])
    with pytest.raises(UserError, match=r"SYSU_MM01.*/nowhere/SYSU-MM01/sysu_attribute/cam\{k\}_att\.mat"):
        build_model(cfg)


def test_predicted_source_without_recognizer_fails_at_build(make_cfg):
    from fastreid_ext.modeling import build_model

    cfg = make_cfg(opts=["TEST.ATTRIBUTE_SOURCES", '["gt", "predicted"]', "MODEL.BACKBONE.DEPTH", "18"])
    with pytest.raises(UserError, match=r"PAENET\.RECOGNIZER\.ENABLED"):
        build_model(cfg)
    cfg = make_cfg(opts=["PAENET.TRAIN_ATTRIBUTE_INPUT", "mix", "MODEL.BACKBONE.DEPTH", "18"])
    with pytest.raises(UserError, match=r"PAENET\.RECOGNIZER\.ENABLED"):
        build_model(cfg)


def test_label_free_configs_load(make_cfg):
    for name in ("sysu_labelfree", "demo"):
        cfg = make_cfg(f"configs/PAENet/{name}.yml")
        assert cfg.PAENET.RECOGNIZER.ENABLED and cfg.PAENET.TRAIN_ATTRIBUTE_INPUT == "predicted"
        assert cfg.PAENET.RECOGNIZER.NAME == "conv"
        assert "predicted" in cfg.TEST.ATTRIBUTE_SOURCES
    official = make_cfg()
    assert not official.PAENET.RECOGNIZER.ENABLED and official.PAENET.TRAIN_ATTRIBUTE_INPUT == "gt"
