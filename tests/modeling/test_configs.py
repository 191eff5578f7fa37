"""The baseline configs reproduce the reference recipe (docs/protocols.md#optimizer-schedule, #total-loss) through the solver."""
import pytest
import torch

from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.solver import build_lr_scheduler, build_optimizer

SMALL = ["MODEL.BACKBONE.DEPTH", 18, "MODEL.BACKBONE.PRETRAIN", False, "MODEL.HEADS.NUM_CLASSES", 5,
         "MODEL.DEVICE", "cpu"]


def _lr_by_epoch(cfg, optimizer):
    sched = build_lr_scheduler(cfg, optimizer, iters_per_epoch=1)
    lrs = []
    for _ in range(cfg.SOLVER.MAX_EPOCH):
        lrs.append(sorted({g["lr"] for g in optimizer.param_groups}))
        optimizer.step()
        sched.step()
    return lrs


def test_sysu_reference_recipe(repo_root):
    cfg = load_config(str(repo_root / "configs/Baseline/sysu.yml"), SMALL)
    assert cfg.MODEL.META_ARCHITECTURE == "CrossModalBaseline" and cfg.MODEL.BACKBONE.SHARED_FROM == "layer3"
    assert (cfg.MODEL.LOSSES.HCTRI.SCALE, cfg.MODEL.LOSSES.MMD.SCALE, cfg.MODEL.LOSSES.MMD.MARGIN) == (2.0, 0.25, 1.40)
    assert (cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES) == (4, 4)
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    assert isinstance(opt, torch.optim.SGD)
    by_lr = {}
    for g in opt.param_groups:
        assert g["momentum"] == 0.9 and g["nesterov"] and g["weight_decay"] == 5e-4
        by_lr.setdefault(round(g["lr"], 8), set()).update(id(p) for p in g["params"])
    backbone = {id(p) for p in model.backbone.parameters()}
    assert by_lr[0.01] == backbone
    assert by_lr[0.1] == {id(p) for n, p in model.named_parameters() if p.requires_grad and id(p) not in backbone}
    lrs = _lr_by_epoch(cfg, opt)
    assert len(lrs) == 61
    for e, expected in [(0, 0.01), (4, 0.05), (9, 0.1), (19, 0.1), (20, 0.01), (49, 0.01), (50, 0.001), (60, 0.001)]:
        assert lrs[e][-1] == pytest.approx(expected), e  # the x1 group
        assert lrs[e][0] == pytest.approx(expected * 0.1), e  # the backbone group


def test_paper_schedule_and_regdb(repo_root):
    cfg = load_config(str(repo_root / "configs/Baseline/sysu_paper_schedule.yml"), SMALL)
    assert (list(cfg.SOLVER.STEPS), cfg.SOLVER.MAX_EPOCH) == ([30, 50], 80)
    lrs = _lr_by_epoch(cfg, build_optimizer(cfg, build_model(cfg)))
    assert [lrs[e][-1] for e in (29, 30, 50, 79)] == pytest.approx([0.1, 0.01, 0.001, 0.001])
    cfg = load_config(str(repo_root / "configs/Baseline/regdb.yml"), ["DATASETS.REGDB.TRIAL", 7])
    assert list(cfg.DATASETS.NAMES) == ["RegDB"] and cfg.DATASETS.REGDB.TRIAL == 7
    assert cfg.SOLVER.MAX_EPOCH == 61
