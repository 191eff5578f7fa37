"""FreezeSchedule on a bare model and torch optimizers: frozen tensors (parameters and BN buffers)
stay bit-identical through the window even with momentum / Adam moments and weight decay built up
before it, the others keep moving, and the window is released on time."""
import pytest
import torch
from torch import nn

from fastreid_ext.solver.freeze import FreezeSchedule
from fastreid_ext.utils.errors import UserError


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.aal = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5))
        self.aal2 = nn.Linear(5, 5)  # shares the prefix's letters, not its module path
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(torch.relu(self.aal2(self.aal(x))))


_OPTIMIZERS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=5e-4),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=1e-2),
}


def _snapshot(model, prefix):
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


def _run(opt_name, *, naive=False, epochs=4, iters=3):
    """Train with 'aal' frozen in epochs 1 and 2; snapshots of 'aal.' and 'aal2.' at every epoch start."""
    torch.manual_seed(0)
    model = _Net().train()
    opt = _OPTIMIZERS[opt_name](model.parameters())
    sched = FreezeSchedule(["aal"], from_epoch=1, until_epoch=3)
    snaps = []
    g = torch.Generator().manual_seed(1)
    for epoch in range(epochs):
        snaps.append((_snapshot(model, "aal."), _snapshot(model, "aal2."), _snapshot(model, "head.")))
        for _ in range(iters):
            if naive:  # the usual mistake: only zero the gradients of the frozen tensors
                for _, p in sched.parameters(model):
                    p.requires_grad_(True)
            else:
                sched.apply(model, epoch)
            x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            if naive and sched.active(epoch):
                for _, p in sched.parameters(model):
                    p.grad.zero_()
            else:
                sched.drop_grads(model)
            opt.step()
    snaps.append((_snapshot(model, "aal."), _snapshot(model, "aal2."), _snapshot(model, "head.")))
    return snaps


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("opt_name", sorted(_OPTIMIZERS))
def test_frozen_tensors_bit_unchanged_others_move(opt_name):
    snaps = _run(opt_name)
    aal = [s[0] for s in snaps]
    assert not _same(aal[0], aal[1])  # epoch 0 trains
    assert _same(aal[1], aal[2]) and _same(aal[2], aal[3])  # epochs 1-2 frozen: weights, bias, BN stats
    assert "aal.1.running_mean" in aal[1] and "aal.1.num_batches_tracked" in aal[1]
    assert not _same(aal[3], aal[4])  # released at epoch 3
    for i in range(4):  # the rest trains throughout (aal2 is not under the prefix 'aal')
        assert not _same(snaps[i][1], snaps[i + 1][1]) and not _same(snaps[i][2], snaps[i + 1][2])


@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_zeroed_gradients_alone_would_drift(opt_name):
    """The test above can fail: zeroing the gradient still lets momentum / weight decay move the tensors."""
    aal = [s[0] for s in _run(opt_name, naive=True)]
    assert not _same(aal[1], aal[2])


def test_window_and_requires_grad():
    model = _Net()
    s = FreezeSchedule(["aal", "head.bias"], from_epoch=2)
    assert [s.active(e) for e in range(4)] == [False, False, True, True]
    assert s.apply(model, 5) and not model.aal[0].weight.requires_grad and not model.head.bias.requires_grad
    assert model.head.weight.requires_grad and model.aal2.weight.requires_grad
    model.train()
    s.apply(model, 5)
    assert not model.aal[1].training and model.head.training
    assert not FreezeSchedule(["aal"], 0, 2).active(2)
    assert not FreezeSchedule([]).enabled and FreezeSchedule([]).state_dict() == {}


def test_parameters_fixed_before_the_schedule_stay_fixed():
    model = _Net()
    model.aal[1].bias.requires_grad_(False)  # e.g. a BNNeck's zero bias
    s = FreezeSchedule(["aal"], from_epoch=1, until_epoch=2)
    s.parameters(model)
    s.apply(model, 1)
    assert not model.aal[0].weight.requires_grad
    s.apply(model, 2)
    assert model.aal[0].weight.requires_grad and not model.aal[1].bias.requires_grad
    s.apply(model, 1)
    s.release(model)
    assert model.aal[1].weight.requires_grad and not model.aal[1].bias.requires_grad


def test_unknown_prefix_names_it_and_existing_modules():
    with pytest.raises(UserError, match=r"'pae' matches no parameter of _Net; its modules include \['aal', 'aal2', "
                                        r"'head'\]"):
        FreezeSchedule(["aal", "pae"]).parameters(_Net())
    with pytest.raises(UserError, match="FROM_EPOCH 3 / UNTIL_EPOCH 2"):
        FreezeSchedule(["aal"], 3, 2)


def test_state_round_trip_checkpoint_wins():
    saved = FreezeSchedule(["aal"], 1, 3)
    saved.frozen = True
    fresh = FreezeSchedule([])
    fresh.load_state_dict(saved.state_dict())
    assert (fresh.prefixes, fresh.from_epoch, fresh.until_epoch, fresh.frozen) == (["aal"], 1, 3, True)
