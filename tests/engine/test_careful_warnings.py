"""Warnings a careful user needs (issue 21, item 8): split-file ids without images, attribute matrices
with fewer columns than ids, and a loss guard whose last good checkpoint is finite but diverged."""
import logging
import os
import shutil

import numpy as np
import pytest
import scipy.io as sio
import torch

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.config import get_cfg
from fastreid_ext.data import DATASET_REGISTRY
from fastreid_ext.data.attributes.sysu_mat import SysuMatAttributes
from fastreid_ext.engine import HookBase
from fastreid_ext.utils.env import seed_all_rng


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_split_file_ids_without_images_are_a_warning(tmp_path, sysu_root, caplog):
    shutil.copytree(sysu_root / "SYSU-MM01", tmp_path / "SYSU-MM01")
    id_file = tmp_path / "SYSU-MM01" / "exp" / "train_id.txt"
    ids = id_file.read_text().strip()
    id_file.write_text(ids + ",977,978\n")  # listed, but no camera folder holds them
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(tmp_path)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    with caplog.at_level(logging.INFO):
        ds = DATASET_REGISTRY.build("SYSU_MM01", cfg)
    assert not {977, 978} & {r.pid for r in ds.train}
    warned = [m for m in _warnings(caplog) if "have no images" in m]
    assert len(warned) == 1 and "2 of the" in warned[0] and "[977, 978]" in warned[0] and str(id_file) in warned[0]


def test_attribute_matrix_with_fewer_columns_than_ids_is_a_warning(tmp_path, caplog):
    m = np.array([[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 0, 0]], np.uint8)  # 3 attributes x 4 ids
    sio.savemat(tmp_path / "cam1_att.mat", {"cam1_att": m})
    sio.savemat(tmp_path / "cam2_att.mat", {"cam2_att": m[:, :2]})  # only ids 1-2 annotated in camera 2
    t = SysuMatAttributes(str(tmp_path), {1: "visible", 2: "infrared"})
    for pid in (1, 3, 4):
        t.lookup(pid, 2)
    with caplog.at_level(logging.INFO):
        t.report()
    warned = _warnings(caplog)
    assert len(warned) == 1, warned
    assert "cam2_att.mat has 2 columns" in warned[0] and "2 identities" in warned[0] and "[3, 4]" in warned[0]


class _BlowUp(HookBase):
    """The weights explode (finite) after iteration 3, so the checkpoint after iteration 5 is finite
    but diverged; the model returns a NaN loss at iteration 7 (TINY.NAN_AT_ITER)."""

    def after_step(self):
        if self.trainer.iter == 3:
            with torch.no_grad():
                self.trainer.checkpointer.model.classifier.weight.mul_(1e5)


def test_loss_guard_warns_when_the_last_good_checkpoint_diverged(tiny_plugin, tmp_path, caplog):
    cfg = tiny_cfg(tmp_path, TINY__NAN_AT_ITER=7, TEST__EVAL_PERIOD=0, SOLVER__BASE_LR=1e-6)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.register_hooks([_BlowUp()])
    with caplog.at_level(logging.INFO), pytest.raises(FloatingPointError) as e:
        trainer.train()
    last = os.path.join(cfg.OUTPUT_DIR, "model_0000005.pth")
    sd = torch.load(last, weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
    largest = float(sd["classifier.weight"].abs().max())  # independently: the exploded layer's largest weight
    assert largest > 1e3
    warned = [m for m in _warnings(caplog) if "diverged" in m]
    assert len(warned) == 1 and last in warned[0], warned
    assert f"classifier.weight = {largest:.3g}" in warned[0]
    assert f"last good checkpoint: {last} (its weights are finite but its largest" in str(e.value)


def test_loss_guard_says_nothing_more_for_a_healthy_checkpoint(tiny_plugin, tmp_path, caplog):
    cfg = tiny_cfg(tmp_path, TINY__NAN_AT_ITER=7, TEST__EVAL_PERIOD=0)
    seed_all_rng(0)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    with caplog.at_level(logging.INFO), pytest.raises(FloatingPointError) as e:
        trainer.train()
    assert not [m for m in _warnings(caplog) if "diverged" in m]
    assert "(its weights are finite" not in str(e.value)
