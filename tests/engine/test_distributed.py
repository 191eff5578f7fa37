"""Distributed training on CPU (GLOO): two ranks end with one model and one set of results, every rank's
hooks see the same metrics, and the launch styles (one machine, two "machines", torchrun) train the
same weights. Tiny runs: ResNet-18 at 64x32 on the synthetic SYSU-MM01, or the tinyreid plugin."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from engine_testkit import TRAIN_NET, cli_env, copy_plugin, tiny_cli_yml
from fastreid_ext.engine import HookBase



class _SeenMetrics(HookBase):
    """What a hook on this rank reads from the event storage: every evaluation scalar, by iteration."""

    def __init__(self):
        self.seen: dict[int, dict[str, float]] = {}

    def _record(self):
        for k, (v, it) in self.trainer.storage.latest().items():
            if "/" in k:
                self.seen.setdefault(it, {})[k] = v

    def after_step(self):
        self._record()

    def after_train(self):
        self._record()


def _train_and_dump(cfg_file: str, opts: list, out: str) -> None:
    """Runs in every spawned rank: setup as the CLI does, train, dump this rank's state."""
    from fastreid_ext.config import load_config
    from fastreid_ext.engine import DefaultTrainer
    from fastreid_ext.engine.defaults import default_setup, resolve_dataset_keys
    from fastreid_ext.utils import comm

    torch.set_num_threads(1)
    cfg = load_config(cfg_file, opts, freeze=False)
    resolve_dataset_keys(cfg)
    cfg.freeze()
    default_setup(cfg, None)
    trainer = DefaultTrainer(cfg)
    seen = _SeenMetrics()
    trainer.register_hooks([seen])  # last: it runs after the evaluation and the best checkpointer
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    best = next(h for h in trainer._hooks if type(h).__name__ == "BestCheckpointer")
    model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
    torch.save({"params": {k: v.detach().clone() for k, v in model.named_parameters()},
                "buffers": {k: v.detach().clone() for k, v in model.named_buffers()},
                "results": results, "seen": seen.seen, "best": (best.resolved_metric, best.best_metric, best.best_iter)},
               os.path.join(out, f"rank{comm.get_rank()}.pt"))


@pytest.mark.slow
def test_two_ranks_end_with_one_model_and_the_same_metrics(repo_root, sysu_root, tmp_path):
    from fastreid_ext.engine.launch import launch

    out = tmp_path / "out"
    opts = [
        "DATASETS.ROOT", str(sysu_root), "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu", "SEED", 0,
        "MODEL.BACKBONE.DEPTH", 18, "MODEL.BACKBONE.PRETRAIN", False, "DATASETS.ATTRIBUTES.ENABLED", False,
        "DATASETS.VAL", ["SYSU_MM01_val"], "DATASETS.SYSU.HOLD_OUT_VAL", True,
        "INPUT.SIZE_TRAIN", [64, 32], "INPUT.SIZE_TEST", [64, 32], "INPUT.PADDING", 4,
        "DATALOADER.NUM_WORKERS", 0, "DATALOADER.IDS_PER_BATCH", 2, "DATALOADER.NUM_INSTANCES", 2,
        "DATALOADER.ITERS_PER_EPOCH", 2, "SOLVER.MAX_EPOCH", 2, "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100],
        "SOLVER.CHECKPOINT_PERIOD", 100, "TEST.EVAL_PERIOD", 1, "TEST.EVAL_START_EPOCH", 0, "TEST.IMS_PER_BATCH", 16,
        "TEST.FEATURES", ["FC"], "TEST.SYSU.MODES", ["all"], "TEST.SYSU.SHOTS", ["single"],
        "TEST.SYSU.NUM_TRIALS", 1,
    ]
    out.mkdir()
    launch(_train_and_dump, 2, args=(str(repo_root / "configs/Baseline/sysu.yml"), opts, str(out)))

    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    for kind in ("params", "buffers"):
        assert r0[kind].keys() == r1[kind].keys() and r0[kind]
        differ = [k for k in r0[kind] if not torch.equal(r0[kind][k], r1[kind][k])]
        assert not differ, f"{kind} differ across ranks: {differ}"
    assert any("running_var" in k for k in r0["buffers"])  # BN statistics are among the compared buffers
    # every rank returns the main process's results and its hooks read the same metrics at the same iterations
    assert r0["results"] and r0["results"] == r1["results"]
    assert r0["seen"] and r0["seen"] == r1["seen"]
    assert r0["best"] == r1["best"] and r0["best"][0] == "SYSU_MM01_val/all-single/FC/Rank-1"
    # periodic evaluation touched only the validation set; the test set was evaluated once, at the end
    test_iters = sorted(it for it, m in r0["seen"].items() if any(k.startswith("SYSU_MM01/") for k in m))
    assert test_iters == [max(r0["seen"])] and len(r0["seen"]) == 2
    assert (out / "model_best.pth").is_file()
    assert json.load(open(out / "results.json"))["model_selection"]["data"] == "validation"


def test_syncbn_on_cpu_is_a_clear_error_and_bn_stays(monkeypatch):
    from fastreid_ext.modeling.meta_arch.build import convert_norm
    from fastreid_ext.utils import comm

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    assert convert_norm(model, "SyncBN") is model  # one process: plain BN computes the same
    monkeypatch.setattr(comm, "get_world_size", lambda: 2)
    with pytest.raises(ValueError, match="MODEL.NORM is 'SyncBN' but the model is on cpu.*CUDA"):
        convert_norm(model, "SyncBN")
    assert convert_norm(model, "BN") is model
    with pytest.raises(ValueError, match="MODEL.NORM is 'GN'; expected 'BN' or 'SyncBN'"):
        convert_norm(model, "GN")


# ---------------------------------------------------------------- launch styles through tools/train_net.py
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def _wait(procs, timeout=240):
    outs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, f"rc={p.returncode}\n{stdout[-3000:]}\n{stderr[-3000:]}"
        outs.append(stdout)
    return outs


def _popen(args, cwd):
    return subprocess.Popen([sys.executable, *map(str, args)], cwd=cwd, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _final(out):
    ckpt = torch.load(os.path.join(out, "model_final.pth"), weights_only=True)
    return ckpt["model"], ckpt["iteration"]


@pytest.mark.slow
def test_two_process_gloo_job_and_two_machines_and_torchrun_train_the_same(tmp_path):
    plugin = copy_plugin(tmp_path / "p")
    outs = {k: str(tmp_path / k) for k in ("gpus", "machines", "torchrun")}
    stdout, = _wait([_popen([TRAIN_NET, "--config-file", tiny_cli_yml(tmp_path, plugin, outs["gpus"]), "--num-gpus", 2],
                            tmp_path)])
    # the --num-gpus 2 job itself
    out = outs["gpus"]
    assert "World size: 2" in stdout
    assert open(os.path.join(out, "last_checkpoint")).read() == "model_final.pth"
    # one epoch = one periodic checkpoint (the sampler splits an epoch between the 2 ranks)
    periodic = [f for f in os.listdir(out) if f.startswith("model_0")]
    final = torch.load(os.path.join(out, "model_final.pth"), weights_only=True)
    assert periodic == [f"model_{final['iteration']:07d}.pth"]
    assert os.path.isfile(os.path.join(out, "log.txt.rank1"))
    assert not any(f.startswith("model_") and f.endswith(".pth.rank1") for f in os.listdir(out))
    assert os.path.isfile(os.path.join(out, "model_best.pth"))  # selected on TinyData: asked by SELECT_ON_TEST
    url = f"tcp://127.0.0.1:{_free_port()}"
    yml = tiny_cli_yml(tmp_path, plugin, outs["machines"])
    _wait([_popen([TRAIN_NET, "--config-file", yml, "--num-gpus", 1, "--num-machines", 2, "--machine-rank", r,
                   "--dist-url", url], tmp_path) for r in (0, 1)])
    _wait([_popen(["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", 2, TRAIN_NET,
                   "--config-file", tiny_cli_yml(tmp_path, plugin, outs["torchrun"])], tmp_path)])

    ref, ref_iter = _final(outs["gpus"])
    ref_results = yaml.safe_load(open(os.path.join(outs["gpus"], "results.json")))
    assert ref_results["TinyData/all-single"]["FC/Rank-1"] > 0
    for style in ("machines", "torchrun"):
        assert open(os.path.join(outs[style], "log.txt")).read().count("World size: 2") == 1, style
        assert os.path.isfile(os.path.join(outs[style], "log.txt.rank1")), style
        weights, it = _final(outs[style])
        assert it == ref_iter and weights.keys() == ref.keys()
        assert [k for k in ref if not torch.equal(ref[k], weights[k])] == [], style
        assert yaml.safe_load(open(os.path.join(outs[style], "results.json"))) == ref_results, style
