"""LR schedule values against the reference formula, parameter groups, and scheduler state."""
import pytest
import torch

from fastreid_ext.config import get_cfg
from fastreid_ext.solver import build_lr_scheduler, build_optimizer


def _reference_lr(base: float, epoch: int) -> float:
    """Cross-Modal-Re-ID-baseline / PAENet adjust_learning_rate (non-backbone group)."""
    if epoch < 10:
        return base * (epoch + 1) / 10
    if epoch < 20:
        return base
    if epoch < 50:
        return base * 0.1
    return base * 0.01


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 3)
        self.bottleneck = torch.nn.BatchNorm1d(3)
        self.classifier = torch.nn.Linear(3, 5, bias=False)


def _cfg(**solver):
    cfg = get_cfg()
    for k, v in solver.items():
        setattr(cfg.SOLVER, k, v)
    return cfg


def _run(cfg, ipe):
    model = _Net()
    opt = build_optimizer(cfg, model)
    sched = build_lr_scheduler(cfg, opt, ipe)
    lrs = []
    for _ in range(cfg.SOLVER.MAX_EPOCH * ipe):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return opt, sched, lrs


def test_param_groups_merged_by_multiplier():
    cfg = _cfg()
    opt = build_optimizer(cfg, _Net())
    assert len(opt.param_groups) == 2  # backbone x0.1, the rest x1
    by_factor = {g["lr_factor"]: g for g in opt.param_groups}
    assert len(by_factor[0.1]["params"]) == 2 and len(by_factor[1.0]["params"]) == 3
    assert by_factor[0.1]["lr"] == pytest.approx(0.01)
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.9


def test_bad_multiplier_and_optimizer_name_are_clear_errors():
    with pytest.raises(ValueError, match="LR_MULTIPLIERS"):
        build_optimizer(_cfg(LR_MULTIPLIERS=[["(", 0.1]]), _Net())
    with pytest.raises(ValueError, match="SOLVER.OPTIMIZER"):
        build_optimizer(_cfg(OPTIMIZER="Lion"), _Net())


def test_epoch_warmup_multistep_matches_reference():
    ipe = 3
    cfg = _cfg()  # defaults: 61 epochs, warm-up 10 epochs from 0.1, steps 20/50, gamma 0.1
    _, _, lrs = _run(cfg, ipe)
    for it, (backbone_lr, head_lr) in enumerate(lrs):
        ref = _reference_lr(0.1, it // ipe)
        assert head_lr == pytest.approx(ref, rel=1e-9), it
        assert backbone_lr == pytest.approx(0.1 * ref, rel=1e-9), it


def test_iter_warmup_is_linear_per_iteration():
    ipe = 4
    cfg = _cfg(WARMUP_STEP="iter", WARMUP_EPOCHS=2, MAX_EPOCH=4, STEPS=[3])
    _, _, lrs = _run(cfg, ipe)
    heads = [lr[1] for lr in lrs]
    for it in range(8):
        assert heads[it] == pytest.approx(0.1 * (0.1 + 0.9 * it / 8))
    assert heads[8:12] == pytest.approx([0.1] * 4)
    assert heads[12:] == pytest.approx([0.01] * 4)


def test_scheduler_state_resumes():
    cfg = _cfg(MAX_EPOCH=12)
    opt, sched, lrs = _run(cfg, 2)
    state = sched.state_dict()
    assert set(state) == {"base_lrs", "last_epoch"}
    model = _Net()
    opt2 = build_optimizer(cfg, model)
    sched2 = build_lr_scheduler(cfg, opt2, 2)
    sched2.load_state_dict({"base_lrs": state["base_lrs"], "last_epoch": 13})
    opt2.step()
    sched2.step()  # iteration 14 → epoch 7
    assert opt2.param_groups[1]["lr"] == pytest.approx(_reference_lr(0.1, 7))
