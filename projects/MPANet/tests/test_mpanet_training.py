"""MPANet through the real trainer, loaders and evaluator on the synthetic SYSU-MM01 (ResNet-18, 64x32,
one epoch of 2 steps): every term finite, the teachers saved in the checkpoint and equal to the model's
after resume, both test features evaluated."""
import torch

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.config import load_config
from fastreid_ext.engine import DefaultTrainer, HookBase
from fastreid_ext.modeling import build_model
from fastreid_ext.utils.env import seed_all_rng


class _Losses(HookBase):
    def __init__(self):
        self.steps = []

    def after_backward(self):
        self.steps.append({k: float(v.detach()) for k, v in self.trainer.loss_dict.items()})


def test_one_epoch_teachers_checkpointed_and_both_features(repo_root, sysu_root, tmp_path):
    torch.set_num_threads(2)
    seed_all_rng(0)
    opts = ["DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(tmp_path / "out"), "MODEL.DEVICE", "cpu", "SEED", 0,
            "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18, "DATASETS.ATTRIBUTES.ENABLED", False,
            "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "INPUT.PADDING", 4,
            "DATALOADER.NUM_WORKERS", 0, "DATALOADER.IDS_PER_BATCH", 2, "DATALOADER.NUM_INSTANCES", 2,
            "DATALOADER.ITERS_PER_EPOCH", 2, "SOLVER.MAX_EPOCH", 1, "SOLVER.STEPS", [100],
            "SOLVER.CHECKPOINT_PERIOD", 1, "TEST.EVAL_PERIOD", 0, "TEST.SYSU.MODES", ["all"],
            "TEST.SYSU.SHOTS", ["single"], "TEST.SYSU.NUM_TRIALS", 1]
    cfg = load_config(str(repo_root / "configs/MPANet/sysu.yml"), opts)
    trainer = DefaultTrainer(cfg)
    losses = _Losses()
    trainer.register_hooks([losses])
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    assert len(losses.steps) == 2
    assert all(set(d) == {"loss_sep", "loss_center_cluster", "loss_cls", "loss_sid", "loss_kl"} for d in losses.steps)
    assert all(torch.isfinite(torch.tensor(list(d.values()))).all() for d in losses.steps)
    task = next(iter(results))
    assert {"BN/Rank-1", "BN/mAP", "POOL/Rank-1"} <= set(results[task])
    trained = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
    cfg.defrost()
    cfg.MODEL.HEADS.NUM_CLASSES = trained.classifier.out_features
    fresh = build_model(cfg)
    ReidCheckpointer(fresh, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=True)
    for side in ("visible", "infrared"):
        key = f"mutual.{side}_classifier_.weight"
        assert torch.equal(fresh.state_dict()[key], trained.state_dict()[key]), key
        assert not torch.equal(trained.state_dict()[key], trained.state_dict()[f"mutual.{side}_classifier.weight"])
