"""A short baseline training run on the synthetic SYSU-MM01 (trainer + loaders + evaluator of the
other parts): the loss goes down and cross-modality retrieval improves over the untrained model
and over chance. Random init and a few hundred images, so the margins are modest by design."""
import json

import torch

from fastreid_ext.config import load_config
from fastreid_ext.engine import DefaultTrainer
from fastreid_ext.utils.env import seed_all_rng


def _cfg(repo_root, sysu_root, out_dir, epochs):
    return load_config(str(repo_root / "configs/Baseline/sysu.yml"), [
        "DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(out_dir), "MODEL.DEVICE", "cpu", "SEED", 0,
        "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False,
        "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "INPUT.PADDING", 4,
        "DATALOADER.NUM_WORKERS", 0, "DATALOADER.IDS_PER_BATCH", 4, "DATALOADER.NUM_INSTANCES", 2,
        # random init on a tiny set: Adam on every layer learns in a few epochs where the ImageNet recipe does not
        "SOLVER.OPTIMIZER", "Adam", "SOLVER.BASE_LR", 1e-3, "SOLVER.LR_MULTIPLIERS", [],
        "SOLVER.MAX_EPOCH", epochs, "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100], "SOLVER.LOG_PERIOD", 1,
        "SOLVER.CHECKPOINT_PERIOD", 100, "TEST.EVAL_PERIOD", 0, "TEST.SYSU.MODES", ["all"],
        "TEST.SYSU.SHOTS", ["single"], "TEST.SYSU.NUM_TRIALS", 2,
    ])


def test_baseline_trains_on_synthetic_sysu(repo_root, sysu_root, tmp_path):
    torch.set_num_threads(2)
    seed_all_rng(0)  # the model's initial weights: the run is deterministic on CPU
    cfg = _cfg(repo_root, sysu_root, tmp_path / "out", epochs=6)
    trainer = DefaultTrainer(cfg)
    trainer.resume_or_load(resume=False)
    before = DefaultTrainer.test(cfg, trainer.model)["SYSU_MM01/all-single"]
    after = trainer.train()["SYSU_MM01/all-single"]

    rows = [json.loads(line) for line in open(tmp_path / "out" / "metrics.json") if "total_loss" in line]
    ipe = trainer.iters_per_epoch
    first = sum(r["total_loss"] for r in rows[:ipe]) / ipe
    last = sum(r["total_loss"] for r in rows[-ipe:]) / ipe
    assert {"loss_cls", "loss_hctri", "loss_mmd"} <= set(rows[-1])
    assert last < 0.8 * first, (first, last)

    chance_rank1 = 100.0 / 8  # 8 test identities in the synthetic set, one of them right
    print("before", before, "after", after)
    assert after["FC/mAP"] > before["FC/mAP"] + 3.0, (before, after)
    assert after["FC/Rank-1"] > 1.5 * chance_rank1, after
