"""A baseline checkpoint loaded into PAENet (and the reverse) says which prefix and which model, in one line."""
import pytest
import torch

from fastreid_ext.checkpoint import CheckpointPrefixError, ReidCheckpointer
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from paenet_testkit import paenet_cfg, small_opts

SMALL = ["MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", "18",
         "MODEL.HEADS.NUM_CLASSES", "3", "MODEL.NUM_ATTRIBUTES", "5"]


@pytest.fixture(scope="module")
def models(repo_root):
    baseline = build_model(load_config(str(repo_root / "configs/Baseline/sysu.yml"), SMALL))
    paenet = build_model(paenet_cfg(repo_root, opts=small_opts()))
    return baseline, paenet


def test_baseline_checkpoint_into_paenet(models, tmp_path):
    baseline, paenet = models
    path = tmp_path / "baseline.pth"
    torch.save({"model": baseline.state_dict()}, path)
    with pytest.raises(CheckpointPrefixError) as e:
        ReidCheckpointer(paenet).load_for_eval(str(path))
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400, msg
    assert f"does not fit {type(paenet).__name__}" in msg and "prefix 'base.'" in msg
    assert f"checkpoint of {type(baseline).__name__}, the 'base' part" in msg


def test_paenet_checkpoint_into_the_baseline(models, tmp_path):
    baseline, paenet = models
    path = tmp_path / "paenet.pth"
    torch.save({"model": paenet.state_dict()}, path)
    with pytest.raises(CheckpointPrefixError) as e:
        ReidCheckpointer(baseline).load_for_eval(str(path))
    msg = str(e.value)
    assert "\n" not in msg and "prefix 'base.'" in msg and f"holds a {type(baseline).__name__} as 'base'" in msg
