"""bench/gpu_check.py on a machine without CUDA: one 'SKIP <check>: no CUDA device' line per check, exit 0."""
import importlib.util
import os

import pytest
import torch

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench", "gpu_check.py")


def test_cpu_machine_skips_every_check(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    called = []
    monkeypatch.setattr(module, "CHECKS", [(name, lambda args, n=name: called.append(n)) for name, _ in module.CHECKS])
    assert module.main([]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [name for name, _ in module.CHECKS]
    assert lines == [f"SKIP {name}: no CUDA device" for name in names] and not called
    assert len(names) == 9 and any("faiss" in n for n in names) and any("NCCL" in n for n in names)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_engine_amp_step_on_gpu():
    """A GPU-marked test for `pytest -m gpu` (run by bench/gpu_check.py): fp16 AMP with a GradScaler."""
    from fastreid_ext.engine import SimpleTrainer

    model = torch.nn.Sequential(torch.nn.Linear(8, 4)).cuda()

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, batch):
            return {"loss": self.m(batch["x"].cuda()).float().pow(2).mean()}

    batches = [{"x": torch.randn(16, 8)} for _ in range(3)]
    t = SimpleTrainer(Wrap(), batches, torch.optim.SGD(model.parameters(), lr=0.1), amp_enabled=True,
                      amp_dtype="float16", device=torch.device("cuda"))
    t.train(0, 3)
    assert t.grad_scaler is not None and torch.isfinite(model[0].weight).all()
