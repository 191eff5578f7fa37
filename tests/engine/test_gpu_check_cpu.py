"""bench/gpu_check.py on a machine without CUDA: one 'SKIP <check>: no CUDA device' line per check, exit 0;
``--smoke`` runs the GPU-recipe speed check (bench/gpu_recipe_speed.py) at tiny sizes on the CPU."""
import importlib.util
import os

import pytest
import torch

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench", "gpu_check.py")


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_machine_skips_every_check(capsys, monkeypatch):
    module = _load()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    called = []
    monkeypatch.setattr(module, "CHECKS", [(name, lambda args, n=name: called.append(n)) for name, _ in module.CHECKS])
    assert module.main([]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [name for name, _ in module.CHECKS]
    assert lines == [f"SKIP {name}: no CUDA device" for name in names] and not called
    assert len(names) == 10 and any("faiss" in n for n in names) and any("NCCL" in n for n in names)
    assert module.SPEED_CHECK in names


def test_speed_only_skips_on_a_cpu_machine(capsys, monkeypatch):
    module = _load()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module.main(["--speed-only"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [f"SKIP {module.SPEED_CHECK}: no CUDA device"]


def test_smoke_runs_the_recipe_speed_check_on_cpu(capsys, monkeypatch):
    module = _load()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert module.main(["--smoke"]) == 0
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    steps = ["today: sysu.yml, fp32", "fp32, NCHW", "fp32, channels-last", "bf16 autocast, channels-last",
             "bf16 autocast, channels-last, compiled (eager)"]
    table = [line for line in out.splitlines() if line.startswith("| ")]
    for name in steps:  # each step variant ran and has a number of images/s (a failed row has '-')
        row = next(line for line in table if line.split("|")[1].strip() == name)
        assert float(row.split("|")[4]) > 0, row
    assert "fp16" not in out  # fp16 autocast + GradScaler is a CUDA-only row
    assert any(line.split("|")[1].strip().startswith("loader: 0 workers") for line in table)
    last = out.strip().splitlines()
    assert last[-2].startswith(f"PASS {module.SPEED_CHECK}: fastest: ") and "projected full SYSU recipe" in last[-2]
    assert last[-1].startswith("gpu_check: 1 of 1 checks without failure")


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


def test_faiss_against_torch_check_runs_on_cpu():
    """The faiss-vs-torch check's body on the CPU with faiss-cpu (on a GPU machine it runs with
    faiss-gpu on CUDA tensors): both metrics agree and the line names the backend."""
    pytest.importorskip("faiss")
    module = _load()
    line = module.faiss_vs_torch("cpu", "faiss-cpu", num_query=300, num_gallery=900, dim=64)
    assert line.startswith("300x900x64: Rank-1 ") and "(faiss-cpu / torch), max diff " in line
    rank1 = [float(x) for x in line.split("Rank-1 ")[1].split(", mAP")[0].split(" / ")]
    assert rank1[0] == rank1[1] and 5 < rank1[0] < 100  # a ranking that is neither trivial nor random
