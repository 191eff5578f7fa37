"""Honest model selection: no checkpoint chosen on test data unless asked, a SYSU-MM01 validation split
held out of training, and a BestCheckpointer that reads the evaluation results from the event storage."""
import json
import os
from types import SimpleNamespace

import pytest

from engine_testkit import FakeLoaderTrainer, tiny_cfg
from fastreid_ext.config import get_cfg
from fastreid_ext.data.datasets import build_dataset
from fastreid_ext.data.datasets.sysu_mm01 import read_id_file
from fastreid_ext.engine import BestCheckpointer
from fastreid_ext.engine.defaults import model_selection, resolve_dataset_keys
from fastreid_ext.utils.env import seed_all_rng
from fastreid_ext.utils.events import EventStorage


def _run(cfg):
    seed_all_rng(cfg.SEED)
    trainer = FakeLoaderTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    out = cfg.OUTPUT_DIR
    return trainer, json.load(open(os.path.join(out, "results.json")))["model_selection"]


def test_no_model_best_on_test_data_by_default(tiny_plugin, tmp_path):
    trainer, selection = _run(tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=2, TEST__SELECT_ON_TEST=False))
    assert "BestCheckpointer" not in [type(h).__name__ for h in trainer._hooks]
    assert not os.path.exists(os.path.join(trainer.cfg.OUTPUT_DIR, "model_best.pth"))
    assert os.path.isfile(os.path.join(trainer.cfg.OUTPUT_DIR, "model_final.pth"))
    assert selection["data"] == "none" and "last checkpoint" in selection["note"] and selection["best_iter"] is None


@pytest.mark.parametrize("ask", [{"TEST__SELECT_ON_TEST": True},
                                 {"TEST__SELECT_ON_TEST": False, "TEST__SELECT_METRIC": "TinyData/all-single/FC/mAP"}])
def test_selection_on_test_data_only_when_asked_and_said(tiny_plugin, tmp_path, caplog, ask):
    trainer, selection = _run(tiny_cfg(tmp_path, SOLVER__MAX_EPOCH=2, **ask))
    assert os.path.isfile(os.path.join(trainer.cfg.OUTPUT_DIR, "model_best.pth"))
    assert selection["data"] == "test" and "selected on test data" in selection["note"]
    assert selection["metric"] == (ask.get("TEST__SELECT_METRIC") or "TinyData/all-single/FC/Rank-1")
    assert selection["best_iter"] is not None
    assert any("selected on test data" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_model_selection_policy():
    cfg = get_cfg()
    cfg.DATASETS.TESTS = ["SYSU_MM01"]
    assert model_selection(cfg)["data"] == "none"
    cfg.DATASETS.VAL = ["SYSU_MM01_val"]
    assert model_selection(cfg) == {"data": "validation", "datasets": ["SYSU_MM01_val"], "metric": "",
                                    "note": "selected on validation data ['SYSU_MM01_val']"}
    cfg.TEST.SELECT_METRIC = "SYSU_MM01/all-single/gt/FC/Rank-1"  # naming a test task is asking for it
    assert model_selection(cfg)["data"] == "test"
    cfg.TEST.SELECT_METRIC = "SYSU_MM01_val/all-single/predicted/FC/mAP"
    assert model_selection(cfg)["data"] == "validation"


class _Saves:
    def __init__(self):
        self.saved = []

    def save(self, name, iteration):
        self.saved.append((name, iteration))


def test_best_checkpointer_reads_the_event_storage():
    ckpt = _Saves()
    hook = BestCheckpointer(ckpt, "", datasets=["SYSU_MM01_val"], excluded_sources=["gt"])  # as the model declares
    storage = EventStorage(0)
    hook.trainer = SimpleNamespace(storage=storage, max_iter=10)  # no trainer.last_* attributes anywhere

    def evaluate(it, val_pred, val_gt=99.0, test=50.0):
        storage.iter = it
        storage.put_scalars(smoothing_hint=False, **{
            "SYSU_MM01_val/all-single/gt/FC/Rank-1": val_gt, "SYSU_MM01_val/all-single/predicted/FC/Rank-1": val_pred,
            "SYSU_MM01/all-single/predicted/FC/Rank-1": test})
        hook.after_step()
        hook.after_step()  # the same evaluation seen twice is one decision

    storage.put_scalar("loss_cls", 1.0)
    hook.after_step()
    assert ckpt.saved == []
    evaluate(3, 20.0)
    evaluate(5, 10.0, val_gt=100.0, test=90.0)  # better gt and test figures do not count
    evaluate(10, 30.0)  # the final evaluation is put after the loop: it belongs to the last iteration
    assert hook.resolved_metric == "SYSU_MM01_val/all-single/predicted/FC/Rank-1"
    assert ckpt.saved == [("model_best", 3), ("model_best", 9)] and (hook.best_metric, hook.best_iter) == (30.0, 9)


def _sysu_cfg(root, **kv):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.merge_from_list([x for pair in kv.items() for x in pair])
    return cfg


def test_sysu_validation_split_is_held_out_only_when_asked(sysu_root):
    exp = sysu_root / "SYSU-MM01" / "exp"
    train_ids, val_ids = set(read_id_file(str(exp / "train_id.txt"))), set(read_id_file(str(exp / "val_id.txt")))
    official = {r.pid for r in build_dataset(_sysu_cfg(sysu_root), "SYSU_MM01").train}
    assert official == train_ids | val_ids  # the official recipe trains on train + val ids
    held = build_dataset(_sysu_cfg(sysu_root, **{"DATASETS.SYSU.HOLD_OUT_VAL": True}), "SYSU_MM01")
    assert {r.pid for r in held.train} == train_ids
    val = build_dataset(_sysu_cfg(sysu_root), "SYSU_MM01_val")
    assert {r.pid for r in val.query} == {r.pid for r in val.gallery} == val_ids
    assert {r.modality for r in val.query} == {"infrared"} and {r.modality for r in val.gallery} == {"visible"}
    assert val.name == "SYSU_MM01_val" and {r.pid for r in val.train} == train_ids


def test_validation_ids_in_training_is_an_error(sysu_root):
    cfg = _sysu_cfg(sysu_root, **{"DATASETS.VAL": ["SYSU_MM01_val"]})
    with pytest.raises(ValueError, match="DATASETS.VAL: SYSU_MM01_val shares .* images with the training set.*"
                                         "DATASETS.SYSU.HOLD_OUT_VAL True"):
        resolve_dataset_keys(cfg)
    cfg = _sysu_cfg(sysu_root, **{"DATASETS.VAL": ["SYSU_MM01_val"], "DATASETS.SYSU.HOLD_OUT_VAL": True})
    assert resolve_dataset_keys(cfg) == {"MODEL.HEADS.NUM_CLASSES": 9}  # 12 train+val ids minus 3 val ids
