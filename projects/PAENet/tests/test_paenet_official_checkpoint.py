"""Official checkpoints: the reference variant, loaded from an official-format ``.t`` file through the
real loading path (build_model + ReidCheckpointer), maps the names, skips the dead keys and
reproduces the official model's outputs (the golden outputs of the official model on the deterministic
fill of fastreid_ext.utils.testing, whose tolerances are those of tests/assets/README.md)."""
import json

import pytest
import torch
import torch.nn.functional as F

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.modeling import build_model
from fastreid_ext.utils.testing import assert_matches_golden

DEAD = ("attrfea.", "classifier.", "ASENet.conv1.", "ASENet.conv2.", "ASENet.mask_fc1.")


@pytest.fixture(scope="module")
def loaded(make_cfg, official_checkpoint):
    path, _ = official_checkpoint
    cfg = make_cfg(opts=["MODEL.HEADS.NUM_CLASSES", "395", "MODEL.WEIGHTS", str(path)])
    model = build_model(cfg)
    ReidCheckpointer(model).load_for_eval(cfg.MODEL.WEIGHTS)  # refuses on any missing/mis-shaped key
    return model.eval()


def test_fill_reproduces_the_probes_of_the_golden_run(official_checkpoint, shared_data_dir):
    """The fill rule is the one the official golden outputs were made with (first values recorded then)."""
    _, official = official_checkpoint
    probes = json.loads((shared_data_dir / "paenet_official_golden" / "fill_probes.json").read_text())
    assert len(probes) >= 5
    for name, first in probes.items():
        assert official[name].flatten()[:4].tolist() == first, name


def test_reference_reproduces_official_golden(loaded, golden):
    images = torch.from_numpy(golden["images"])
    attributes = torch.from_numpy(golden["attributes"])
    outs = {}
    with torch.no_grad():
        for modality, prefix in ((0, "visible"), (1, "infrared")):  # official modal 1 / 2
            batch = {"images": images, "modality": torch.full((len(images),), modality, dtype=torch.long),
                     "attributes": attributes, "attribute_source": "gt"}  # the official protocol, named
            out = loaded(batch)
            outs[f"{prefix}_pool"] = F.normalize(out["POOL"], dim=1)
            outs[f"{prefix}_bn"] = F.normalize(out["FC"], dim=1)
            assert out["attribute_probs"].shape == (len(images), 8)
    for name, ours in outs.items():
        assert_matches_golden(ours, golden[name], name)


def test_official_keys_mapped_and_dead_keys_listed(loaded, official_checkpoint, official_keys_file):
    _, official = official_checkpoint
    keys = json.loads(official_keys_file.read_text())["state_dict"]
    expected_dead = sorted(k for k in keys if k.startswith(DEAD))
    assert sorted(loaded.skipped_checkpoint_keys) == expected_dead
    assert "attrfea.fc1.weight" in expected_dead and "classifier.weight" in expected_dead
    ours = loaded.state_dict()
    # every model key came from the file (load_for_eval refuses otherwise); spot-check the renames
    assert torch.equal(ours["aal.heads.weight"], torch.cat([official[f"class_{i}.classifier.0.weight"] for i in range(8)]))
    assert torch.equal(ours["base.classifier.weight"], official["class_8.classifier.0.weight"])
    assert torch.equal(ours["base.backbone.specific.infrared.layer2.3.conv3.weight"],
                       official["thermal_module.thermal.layer2.3.conv3.weight"])
    assert torch.equal(ours["pae.embedding_i.attn.to_kv.weight"], official["cross_transformer1.attn.to_kv.weight"])
    assert torch.equal(ours["identity_neck.running_var"], official["region.bottleneck.running_var"])
    n_params = {k for k in keys if not k.startswith(DEAD)}
    assert len(ours) == len(n_params) - 9 + 2  # the 8 + 1 class_* heads become 2 tensors


def test_own_checkpoints_pass_through_and_paper_refuses_official(build_small, official_checkpoint):
    model = build_small(variant="reference")
    sd = model.state_dict()
    assert model.remap_checkpoint_keys(sd) is sd
    paper = build_small(variant="paper")
    with pytest.raises(ValueError, match="reference"):
        paper.remap_checkpoint_keys(official_checkpoint[1])
