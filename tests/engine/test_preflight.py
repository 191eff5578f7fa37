"""Start-of-run validation: each test-side key with a typo, a missing test folder and a corrupt gallery
image fail before the first iteration (no step taken, no checkpoint written) with a line naming them."""
import os

import pytest
import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.engine import HookBase
from fastreid_ext.engine.preflight import check_eval_forward, check_metric_key
from fastreid_ext.utils.env import seed_all_rng
from fastreid_ext.utils.errors import UserError


class _Steps(HookBase):
    def __init__(self):
        self.n = 0

    def after_step(self):
        self.n += 1


def _fails_before_training(cfg, match):
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    steps = _Steps()
    trainer.register_hooks([steps])
    with pytest.raises(UserError, match=match) as e:
        trainer.train()
    assert steps.n == 0 and not any(f.endswith(".pth") for f in os.listdir(cfg.OUTPUT_DIR))
    return str(e.value)


@pytest.mark.parametrize("overrides, match", [
    ({"TEST__SELECT_METRIC": "TinyData/all-single/FC/Rank1"},
     r"TEST.SELECT_METRIC 'TinyData/all-single/FC/Rank1' will not be emitted by the evaluation of TinyData; it "
     r"emits: TinyData/all-single/FC/Rank-1, TinyData/all-single/FC/mAP"),
    ({"TEST__EVALUATOR": "NoSuchEvaluator"}, r"No object named 'NoSuchEvaluator' found in the 'EVALUATOR' registry"),
    ({"TEST__EVALUATOR": "CrossModalityEvaluator", "TEST__FEATURES": ["FC", "P00L"]},
     r"TEST.FEATURES \['FC', 'P00L'\]: TinyReIDNet does not return \['P00L'\] in eval mode \(it returns \['FC', 'POOL'\]\)"),
    ({"TEST__ATTRIBUTE_SOURCES": ["gtt"]},
     r"TEST.ATTRIBUTE_SOURCES \['gtt'\]: TinyReIDNet takes no test-time input besides the image; set it to \[\]"),
])
def test_test_side_key_typo_fails_before_the_first_iteration(tiny_plugin, tmp_path, overrides, match):
    _fails_before_training(tiny_cfg(tmp_path, **overrides), match)


def test_missing_test_folder_fails_before_the_first_iteration(tiny_plugin, tmp_path):
    msg = _fails_before_training(tiny_cfg(tmp_path, DATASETS__TESTS=["SYSU_MM01"]), r"DATASETS.TESTS \['SYSU_MM01'\]")
    assert str(tmp_path / "data") in msg


def test_corrupt_gallery_image_fails_before_training_or_is_counted(tiny_plugin, tmp_path, caplog):
    cfg = tiny_cfg(tmp_path)
    bad = tmp_path / "data" / "tinydata" / "0005_c1_0.png"  # a visible (gallery) image of a test id
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _fails_before_training(cfg, rf"1 of 8 test images cannot be decoded, first: .*{bad}")
    skip = tiny_cfg(tmp_path / "skip", INPUT__SKIP_UNREADABLE=True, DATASETS__ROOT=str(tmp_path / "data"),
                    SOLVER__MAX_EPOCH=1, TEST__EVAL_PERIOD=0)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(skip)
    trainer.resume_or_load(resume=False)
    trainer.train()
    assert "1 of 8 test images are unreadable and will be skipped" in caplog.text


DECLARED = {"SYSU_MM01": ["SYSU_MM01/all-single/FC/Rank-1", "SYSU_MM01/all-single/FC/mAP-std",
                          "SYSU_MM01/attributes/gt/mA"], "Plugin": None}


@pytest.mark.parametrize("metric, match", [
    ("", None),
    ("SYSU_MM01/all-single/FC/Rank-1", None),
    ("SYSU_MM01/all-single/FC/mAP-std", None),
    ("SYSU_MM01/attributes/gt/mA", None),
    ("Plugin/all-single/FC/Rank-1", None),  # an evaluator that declares no keys: only the shape is checked
    ("SYSU_MM01/all-single/FC/Rank-30", "will not be emitted"),
    ("SYSU/all-single/FC/Rank-1", "not an evaluated dataset"),
    ("SYSU_MM01/all-single/fc/Rank-1", "will not be emitted"),
    ("Rank-1", "is not a result key"),
    ("SYSU_MM01/all-single/FC/Rank-1/", "is not a result key"),
])
def test_metric_key_membership(metric, match):
    if match is None:
        check_metric_key(metric, DECLARED)
    else:
        with pytest.raises(UserError, match=match):
            check_metric_key(metric, DECLARED)
    with pytest.raises(UserError, match="DATASETS.TESTS is empty"):
        check_metric_key("RegDB/visible2infrared/FC/Rank-1", {})


class _NoPredictedSource(torch.nn.Module):
    """Takes attributes like PAENet; 'predicted' needs attribute heads it does not have."""

    def forward(self, batch):
        if batch.get("attribute_source") == "predicted":
            raise ValueError("attribute_source 'predicted' needs the attribute heads (PAENET.AAL.ENABLED True).")
        return {"FC": batch["images"].flatten(1)}


class _Evaluator:
    features = ["FC"]
    attribute_sources = ["gt", "predicted"]


def test_attribute_source_the_model_does_not_support(tiny_plugin, tmp_path):
    cfg = tiny_cfg(tmp_path)
    (_, ev), = FakeLoaderTrainer.build_evaluators(cfg)
    model = _NoPredictedSource().train()
    with pytest.raises(UserError, match=r"TEST.ATTRIBUTE_SOURCES entry 'predicted': an eval forward of TinyReIDNet "
                                        r"fails: .*PAENET.AAL.ENABLED"):
        check_eval_forward(cfg, model, _Evaluator(), ev.dataset)
    assert model.training  # left as it was
