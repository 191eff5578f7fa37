"""DDAG through the real trainer, loaders and evaluator on the synthetic SYSU-MM01 (ResNet-18, 64x32,
2 epochs): the graph term is 0 in epoch 0 and weighted by 1 / (1 + the epoch-0 mean of the other
terms) in epoch 1, and both test features (FC: IWPA, BN) are evaluated."""
import pytest
import torch

from fastreid_ext.config import load_config
from fastreid_ext.engine import DefaultTrainer, HookBase
from fastreid_ext.utils.env import seed_all_rng


class _Losses(HookBase):
    def __init__(self):
        self.steps = []

    def after_backward(self):
        self.steps.append((self.trainer.epoch, {k: float(v.detach()) for k, v in self.trainer.loss_dict.items()},
                           float(self.trainer.model.graph_weight.weight)))


def test_two_epochs_adaptive_graph_weight_and_both_features(repo_root, sysu_root, tmp_path):
    torch.set_num_threads(2)
    seed_all_rng(0)
    cfg = load_config(str(repo_root / "configs/DDAG/sysu.yml"), [
        "DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(tmp_path / "out"), "MODEL.DEVICE", "cpu", "SEED", 0,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False,
        "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "INPUT.PADDING", 4,
        "DATALOADER.NUM_WORKERS", 0, "DATALOADER.IDS_PER_BATCH", 2, "DATALOADER.NUM_INSTANCES", 2,
        "DATALOADER.ITERS_PER_EPOCH", 2, "SOLVER.MAX_EPOCH", 2, "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100],
        "SOLVER.CHECKPOINT_PERIOD", 100, "TEST.EVAL_PERIOD", 0, "TEST.SYSU.MODES", ["all"],
        "TEST.SYSU.SHOTS", ["single"], "TEST.SYSU.NUM_TRIALS", 1, "DDAG.GRAPH.LOW_DIM", 64,
    ])
    trainer = DefaultTrainer(cfg)
    losses = _Losses()
    trainer.register_hooks([losses])
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    epoch0 = [d for e, d, _ in losses.steps if e == 0]
    epoch1 = [(d, w) for e, d, w in losses.steps if e == 1]
    assert len(epoch0) == len(epoch1) == 2
    assert all(d["loss_graph"] == 0 for d in epoch0)
    mean0 = sum(d["loss_cls"] + d["loss_triplet"] + d["loss_part"] for d in epoch0) / 2
    for d, w in epoch1:
        assert w == pytest.approx(1 / (1 + mean0), rel=1e-6) and d["loss_graph"] > 0
    task = next(iter(results))
    assert {"FC/Rank-1", "BN/Rank-1", "FC/mAP"} <= set(results[task])
