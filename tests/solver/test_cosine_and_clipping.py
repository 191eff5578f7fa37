"""SOLVER.SCHED CosineAnnealingLR against its closed form, and SOLVER.CLIP_GRADIENTS bounding the gradients."""
import math

import pytest
import torch

from fastreid_ext.config import get_cfg
from fastreid_ext.solver import build_lr_scheduler, build_optimizer


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 3)
        self.head = torch.nn.Linear(3, 2)


def _cfg(**solver):
    cfg = get_cfg()
    for k, v in solver.items():
        node, *rest = k.split("__")
        if rest:
            setattr(getattr(cfg.SOLVER, node), rest[0], v)
        else:
            setattr(cfg.SOLVER, k, v)
    return cfg


def _lrs(cfg, ipe, start=0, state=None):
    opt = build_optimizer(cfg, _Net())
    sched = build_lr_scheduler(cfg, opt, ipe)
    if state is not None:
        sched.load_state_dict(state)
    out = []
    for _ in range(start, cfg.SOLVER.MAX_EPOCH * ipe):
        out.append(opt.param_groups[1]["lr"])  # the head group (factor 1)
        opt.step()
        sched.step()
    return out, sched


def _cosine_reference(it, ipe, base, eta_min, warm_epochs, delay_epochs, max_epoch, warm_factor):
    """Warm-up (once per epoch, factor w..1), delay at base, then the cosine of fast-reid's formula."""
    e = it // ipe
    if e < warm_epochs:
        w = warm_factor + (1 - warm_factor) * e / (warm_epochs - 1) if warm_epochs > 1 else warm_factor
        return base * w
    t0, total = (warm_epochs + delay_epochs) * ipe, max_epoch * ipe
    if it < t0:
        return base
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (it - t0) / (total - t0))) / 2


@pytest.mark.parametrize("warm,delay", [(0, 0), (2, 0), (2, 3)])
def test_cosine_matches_closed_form(warm, delay):
    ipe, base, eta = 5, 0.1, 1e-4
    cfg = _cfg(SCHED="CosineAnnealingLR", BASE_LR=base, ETA_MIN_LR=eta, WARMUP_EPOCHS=warm, DELAY_EPOCHS=delay,
               MAX_EPOCH=12, WARMUP_FACTOR=0.1)
    lrs, _ = _lrs(cfg, ipe)
    assert len(lrs) == 60
    for it, lr in enumerate(lrs):
        assert lr == pytest.approx(_cosine_reference(it, ipe, base, eta, warm, delay, 12, 0.1), rel=1e-9, abs=1e-12), it
    assert lrs[-1] < 2 * eta + (base - eta) * 1e-2  # annealed to ETA_MIN_LR at the end


def test_cosine_keeps_group_multipliers_and_resumes():
    ipe = 4
    cfg = _cfg(SCHED="CosineAnnealingLR", WARMUP_EPOCHS=1, MAX_EPOCH=6, ETA_MIN_LR=0.0)
    ref, sched = _lrs(cfg, ipe)
    opt = build_optimizer(cfg, _Net())
    build_lr_scheduler(cfg, opt, ipe)
    assert [g["lr_factor"] for g in opt.param_groups] == [0.1, 1.0]
    # a scheduler restored with the state after iteration 9 gives, once stepped, the uninterrupted values
    resumed, _ = _lrs(cfg, ipe, start=10, state={"base_lrs": list(sched.base_lrs), "last_epoch": 9})
    assert resumed[1:] == pytest.approx(ref[10:-1], rel=1e-12)  # resumed[0]: before the first step


def test_unknown_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="SOLVER.SCHED is 'Poly'"):
        _lrs(_cfg(SCHED="Poly"), 2)


def _one_step(cfg, grad_scale):
    model = _Net()
    opt = build_optimizer(cfg, model)
    params = [p for p in model.parameters()]
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.full_like(p, grad_scale)
    opt.step()
    grads = torch.cat([p.grad.flatten() for p in params])
    return opt, grads, before, params


def test_clip_by_norm_bounds_the_total_norm_and_keeps_the_direction():
    cfg = _cfg(CLIP_GRADIENTS__ENABLED=True, CLIP_GRADIENTS__CLIP_VALUE=0.5, MOMENTUM=0.0, WEIGHT_DECAY=0.0,
               LR_MULTIPLIERS=[])
    opt, grads, before, params = _one_step(cfg, 10.0)
    n = grads.numel()
    assert type(opt).__name__ == "SGDWithGradientClip" and isinstance(opt, torch.optim.SGD)
    assert float(grads.norm()) == pytest.approx(0.5, rel=1e-5)  # was 10 * sqrt(n)
    assert torch.allclose(grads, torch.full_like(grads, 0.5 / math.sqrt(n)))
    for p, b in zip(params, before):  # the step used the clipped gradient
        assert torch.allclose(b - p.detach(), torch.full_like(b, 0.1 * 0.5 / math.sqrt(n)), atol=1e-7)
    # below the bound nothing changes
    _, small, _, _ = _one_step(cfg, 1e-4)
    assert torch.allclose(small, torch.full_like(small, 1e-4))


def test_clip_by_value_and_norm_type():
    cfg = _cfg(CLIP_GRADIENTS__ENABLED=True, CLIP_GRADIENTS__CLIP_TYPE="value", CLIP_GRADIENTS__CLIP_VALUE=0.25)
    _, grads, _, _ = _one_step(cfg, -3.0)
    assert float(grads.abs().max()) == pytest.approx(0.25)
    cfg = _cfg(CLIP_GRADIENTS__ENABLED=True, CLIP_GRADIENTS__CLIP_VALUE=1.0, CLIP_GRADIENTS__NORM_TYPE=float("inf"))
    _, grads, _, _ = _one_step(cfg, 7.0)
    assert float(grads.abs().max()) == pytest.approx(1.0, rel=1e-5)


def test_clipping_off_by_default_and_bad_values_are_clear_errors():
    opt, grads, _, _ = _one_step(_cfg(), 10.0)
    assert type(opt) is torch.optim.SGD and float(grads.abs().min()) == 10.0
    with pytest.raises(ValueError, match="CLIP_TYPE is 'max'"):
        build_optimizer(_cfg(CLIP_GRADIENTS__ENABLED=True, CLIP_GRADIENTS__CLIP_TYPE="max"), _Net())
    with pytest.raises(ValueError, match="CLIP_VALUE must be > 0"):
        build_optimizer(_cfg(CLIP_GRADIENTS__ENABLED=True, CLIP_GRADIENTS__CLIP_VALUE=0.0), _Net())
    state = build_optimizer(_cfg(CLIP_GRADIENTS__ENABLED=True), _Net()).state_dict()
    assert set(state) == {"state", "param_groups"}  # nothing added to checkpoints
