"""Shared pieces of the engine tests: the tiny plugin (copied to a temp folder, imported through
IMPORTS-style paths), a fake infinite train loader, a small config, and for the tests that run
tools/train_net.py as a process: its YAML and environment."""
from __future__ import annotations

import os
import shutil

import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from fastreid_ext.config import get_cfg
from fastreid_ext.engine import DefaultTrainer
from fastreid_ext.utils.plugins import import_plugins

PLUGIN_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugin_src", "tinyreid")
TRAIN_NET = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools",
                         "train_net.py")
_IMPORTED: dict[str, str] = {}


def copy_plugin(dest_dir) -> str:
    """Write the tinyreid package into ``dest_dir``; returns the package folder."""
    dst = os.path.join(str(dest_dir), "tinyreid")
    shutil.copytree(PLUGIN_SRC, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def import_tiny_plugin(tmp_root) -> str:
    """Import the plugin once per process (registries refuse a second copy under another module name)."""
    if "path" not in _IMPORTED:
        _IMPORTED["path"] = copy_plugin(tmp_root)
        import_plugins([_IMPORTED["path"]])
    return _IMPORTED["path"]


class FakeSampler:
    """Infinite batch-index stream with the interface of the cross-modality sampler."""

    def __init__(self, iters_per_epoch: int):
        self.iters_per_epoch = iters_per_epoch
        self._start = 0

    def set_start_iter(self, i: int) -> None:
        self._start = i

    def __iter__(self):
        i = self._start
        while True:
            yield [i]
            i += 1


class FakeBatches(Dataset):
    """Batch i is drawn from its own generator, so it does not depend on the global RNG."""

    def __init__(self, num_classes: int = 4, p: int = 2, k: int = 2, seed: int = 0):
        self.num_classes, self.p, self.k, self.seed = num_classes, p, k, seed
        self.attribute_names: list[str] = []

    def __len__(self):
        return 10**9

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * 100003 + i)
        pids = torch.randperm(self.num_classes, generator=g)[: self.p]
        targets = pids.repeat_interleave(self.k).repeat(2)
        n = targets.numel()
        images = torch.randn(n, 3, 8, 4, generator=g) + targets.view(-1, 1, 1, 1).float()
        return {"images": images, "targets": targets, "camids": torch.ones(n, dtype=torch.long),
                "modality": torch.arange(n) // (n // 2)}


def fake_loader(iters_per_epoch: int = 3, seed: int = 0) -> DataLoader:
    return DataLoader(FakeBatches(seed=seed), batch_sampler=FakeSampler(iters_per_epoch), collate_fn=lambda b: b[0])


class FakeLoaderTrainer(DefaultTrainer):
    ITERS_PER_EPOCH = 3

    @classmethod
    def build_train_loader(cls, cfg):
        return fake_loader(cls.ITERS_PER_EPOCH, seed=cfg.SEED)


def train_fake(cfg, resume: bool = False, crash_at: int | None = None) -> FakeLoaderTrainer:
    """Seed, build a FakeLoaderTrainer, resume or load, and train; with ``crash_at`` the run is killed
    (a KeyboardInterrupt, test_trainer's ``_Crash`` hook) after that iteration."""
    from fastreid_ext.utils.env import seed_all_rng  # noqa: PLC0415

    seed_all_rng(cfg.SEED)
    t = FakeLoaderTrainer(cfg)
    t.resume_or_load(resume=resume)
    if crash_at is not None:
        from test_trainer import _Crash  # noqa: PLC0415

        t.register_hooks([_Crash(crash_at)])
        try:
            t.train()
        except KeyboardInterrupt:
            pass
        return t
    t.train()
    return t

def tiny_cfg(tmp_path, **overrides):
    """A config of the tiny plugin; its data are written first (as the data-preparation step would)."""
    from tinyreid.data import write_tiny_data  # noqa: PLC0415 - the plugin is imported by the fixture

    data = tmp_path / "data" / "tinydata"
    if not data.is_dir():
        write_tiny_data(str(data))
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.DATASETS.ROOT = str(tmp_path / "data")
    cfg.DATASETS.NAMES = ["TinyData"]
    cfg.DATASETS.TESTS = ["TinyData"]
    cfg.MODEL.META_ARCHITECTURE = "TinyReIDNet"
    cfg.MODEL.DEVICE = "cpu"
    cfg.SOLVER.BASE_LR = 0.05
    cfg.SOLVER.MAX_EPOCH = 4
    cfg.SOLVER.WARMUP_EPOCHS = 1
    cfg.SOLVER.STEPS = [3]
    cfg.SOLVER.CHECKPOINT_PERIOD = 1
    cfg.SOLVER.LOG_PERIOD = 1
    cfg.TEST.EVAL_PERIOD = 1
    cfg.TEST.EVAL_START_EPOCH = 1
    cfg.TEST.SELECT_ON_TEST = True  # TinyData has no validation split; these runs exercise model_best
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.DATALOADER.IDS_PER_BATCH = 2
    cfg.DATALOADER.NUM_INSTANCES = 2
    cfg.INPUT.SIZE_TRAIN = [16, 8]
    cfg.INPUT.SIZE_TEST = [16, 8]
    cfg.INPUT.PADDING = 0
    for k, v in overrides.items():
        node = cfg
        *parents, leaf = k.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = v
    return cfg


def tiny_cli_yml(tmp_path, plugin: str | None, out: str, name: str = "", **sections) -> str:
    """A tools/train_net.py YAML of the tiny plugin (one epoch, no periodic evaluation; no IMPORTS when
    ``plugin`` is None), written to
    ``tmp_path/name`` (default: ``<basename of out>.yml``). Each of ``sections`` updates the top-level
    key of that name: a dict is merged into that section, any other value replaces it."""
    cfg = {
        "OUTPUT_DIR": out, "SEED": 5, **({"IMPORTS": [plugin]} if plugin else {}),
        "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu"},
        "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"], "ROOT": str(tmp_path / "data"),
                     "SYNTHETIC": {"PRESET": "default"}},  # the CLI writes TinyData first
        "DATALOADER": {"NUM_WORKERS": 0, "IDS_PER_BATCH": 2, "NUM_INSTANCES": 2},
        "INPUT": {"SIZE_TRAIN": [16, 8], "SIZE_TEST": [16, 8], "PADDING": 0},
        "SOLVER": {"BASE_LR": 0.05, "MAX_EPOCH": 1, "WARMUP_EPOCHS": 1, "STEPS": [2], "CHECKPOINT_PERIOD": 1,
                   "LOG_PERIOD": 1},
        "TEST": {"EVAL_PERIOD": 0, "SELECT_ON_TEST": True},
    }
    for key, value in sections.items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) and isinstance(cfg.get(key), dict) else value
    path = tmp_path / (name or f"{os.path.basename(out)}.yml")
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def cli_env() -> dict:
    """The environment of a train_net.py child: no inherited distributed variables, one thread each."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env
