"""The GPU-path options on CPU: channels-last and NCHW give the same step, bf16 autocast runs a step,
MODEL.COMPILE compiles or falls back to eager (never changing numbers), DATALOADER.PREFETCH_FACTOR,
and nothing changes when the options are off."""
import logging

import pytest
import torch

from fastreid_ext.config import get_cfg
from fastreid_ext.data.build import _loader_kwargs, build_train_loader
from fastreid_ext.engine import SimpleTrainer
from fastreid_ext.engine.compile import compile_model
from fastreid_ext.modeling import build_model
from fastreid_ext.utils.errors import UserError


def _cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", 18, "MODEL.HEADS.NUM_CLASSES", 4,
                         "INPUT.SIZE_TRAIN", [64, 32], *opts])
    return cfg


def _batch(p=2, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(p).repeat_interleave(k)
    n = 2 * p * k
    return {"images": torch.randn(n, 3, 64, 32, generator=g), "targets": torch.cat([ids, ids]),
            "camids": torch.ones(n, dtype=torch.long), "modality": torch.arange(n) // (p * k),
            "img_paths": [f"x{i}.jpg" for i in range(n)]}


def _step(model, batch):
    """(total loss, gradient of every parameter) of one forward/backward."""
    model.train()
    model.zero_grad(set_to_none=True)
    loss = sum(model(batch).values())
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_channels_last_step_equals_nchw():
    torch.manual_seed(0)
    nhwc = build_model(_cfg("MODEL.BACKBONE.CHANNELS_LAST", True))
    nchw = build_model(_cfg("MODEL.BACKBONE.CHANNELS_LAST", False))
    nchw.load_state_dict(nhwc.state_dict())
    conv = next(m for m in nhwc.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    batch = _batch()
    loss_a, grads_a = _step(nhwc, batch)
    loss_b, grads_b = _step(nchw, batch)
    assert loss_a == pytest.approx(loss_b, rel=1e-4, abs=1e-5)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 10
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=1e-3, atol=1e-4, msg=name)


def test_bf16_autocast_step_on_cpu():
    torch.manual_seed(0)
    model = build_model(_cfg())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = SimpleTrainer(model, [_batch()], torch.optim.SGD(model.parameters(), lr=0.01), amp_enabled=True,
                            amp_dtype="auto", device=torch.device("cpu"))
    assert trainer.amp_dtype == torch.bfloat16 and trainer.grad_scaler is None
    trainer.train(0, 1)
    assert trainer.loss_dict and all(torch.isfinite(v.float()) for v in trainer.loss_dict.values())
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert len(changed) > 10 and all(torch.isfinite(p).all() for p in model.parameters())


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        return torch.relu(self.fc(x)) * 2


def _tiny():
    torch.manual_seed(0)
    return _Tiny(), torch.randn(5, 6)


def test_compile_off_leaves_the_model_alone():
    model, x = _tiny()
    assert compile_model(model, False) is False
    assert "forward" not in vars(model)


def test_compile_with_a_real_backend_keeps_outputs_and_names():
    model, x = _tiny()
    want = model(x)
    names = [n for n, _ in model.named_parameters()]
    assert compile_model(model, True, backend="eager") is True
    assert "forward" in vars(model)
    torch.testing.assert_close(model(x), want)
    assert [n for n, _ in model.named_parameters()] == names and set(model.state_dict()) == {"fc.weight", "fc.bias"}


def test_compile_unavailable_falls_back_with_a_warning(monkeypatch, caplog):
    model, x = _tiny()
    want = model(x)

    def unavailable(*a, **k):
        raise RuntimeError("torch.compile is not supported on this platform")

    monkeypatch.setattr(torch, "compile", unavailable)
    with caplog.at_level(logging.WARNING, logger="fastreid_ext.engine.compile"):
        assert compile_model(model, True) is False
    assert "unavailable" in caplog.text and "not supported on this platform" in caplog.text
    assert "forward" not in vars(model)
    torch.testing.assert_close(model(x), want)


def test_compile_failing_at_first_call_falls_back_to_eager(caplog):
    model, x = _tiny()
    want = model(x)

    def broken_backend(gm, example_inputs):
        raise RuntimeError("no C++ compiler found")

    assert compile_model(model, True, backend=broken_backend) is True
    with caplog.at_level(logging.WARNING, logger="fastreid_ext.engine.compile"):
        got = model(x)
    torch.testing.assert_close(got, want)
    assert "running eagerly from now on" in caplog.text and "no C++ compiler found" in caplog.text
    assert "forward" not in vars(model)  # the class's forward again


def test_model_errors_are_not_swallowed(monkeypatch):
    model, x = _tiny()

    def compiled_raising(fn, **kw):
        def run(*a, **k):
            raise ValueError("images must be 4-D")
        return run

    monkeypatch.setattr(torch, "compile", compiled_raising)
    assert compile_model(model, True) is True
    with pytest.raises(ValueError, match="4-D"):
        model(x)
    assert "forward" in vars(model)


def test_unknown_compile_mode_is_a_user_error():
    model, _ = _tiny()
    with pytest.raises(UserError, match="MODEL.COMPILE.MODE"):
        compile_model(model, True, mode="fastest")


def test_loader_options_off_keep_todays_arguments():
    kw = _loader_kwargs(_cfg(), 0)
    assert kw["pin_memory"] is False and "prefetch_factor" not in kw and kw["num_workers"] == 2


def test_prefetch_factor_reaches_the_loader(sysu_root):
    cfg = _cfg("DATASETS.ROOT", str(sysu_root), "DATALOADER.NUM_WORKERS", 1, "DATALOADER.PREFETCH_FACTOR", 4,
               "DATALOADER.PERSISTENT_WORKERS", False, "DATASETS.ATTRIBUTES.ENABLED", False)
    assert build_train_loader(cfg).prefetch_factor == 4
    cfg.DATALOADER.PREFETCH_FACTOR = -1
    with pytest.raises(UserError, match="PREFETCH_FACTOR"):
        build_train_loader(cfg)


def test_gpu_recipe_config(repo_root):
    from fastreid_ext.config import load_config

    cfg = load_config(str(repo_root / "configs/PAENet/sysu_gpu.yml"))
    assert cfg.MODEL.META_ARCHITECTURE == "PAENet" and cfg.PAENET.VARIANT == "reference"
    assert (cfg.DATALOADER.IDS_PER_BATCH, cfg.DATALOADER.NUM_INSTANCES) == (8, 4)  # the paper's 8 x (4 + 4)
    assert cfg.SOLVER.AMP.ENABLED and cfg.SOLVER.AMP.DTYPE == "bfloat16" and cfg.MODEL.BACKBONE.CHANNELS_LAST
    assert cfg.MODEL.DEVICE == "cuda" and tuple(cfg.INPUT.SIZE_TRAIN) == (288, 144)
    assert cfg.DATALOADER.PERSISTENT_WORKERS and cfg.DATALOADER.PREFETCH_FACTOR > 0 and cfg.DATALOADER.NUM_WORKERS >= 4
