"""A tiny real run shared by the tool tests: a depth-18 baseline trained for two short epochs on the
synthetic SYSU-MM01 (metrics.json with loss terms, lr and evaluations; results.json; saved features;
model_final.pth; config.yaml), plus a loader for the scripts under tools/."""
import importlib.util

import pytest
import torch

from fastreid_ext.config import load_config


def load_tool(repo_root, name):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", repo_root / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_opts(root, out, dataset="SYSU_MM01"):
    return [
        "DATASETS.ROOT", str(root), "DATASETS.NAMES", [dataset], "DATASETS.TESTS", [dataset], "OUTPUT_DIR", str(out),
        "MODEL.DEVICE", "cpu", "SEED", 0, "MODEL.BACKBONE.PRETRAIN", False, "MODEL.BACKBONE.DEPTH", 18,
        "DATASETS.ATTRIBUTES.ENABLED", False, "INPUT.SIZE_TRAIN", [32, 16], "INPUT.SIZE_TEST", [32, 16],
        "INPUT.PADDING", 2, "DATALOADER.NUM_WORKERS", 0, "DATALOADER.PERSISTENT_WORKERS", False,
        "DATALOADER.IDS_PER_BATCH", 2, "DATALOADER.NUM_INSTANCES", 2, "DATALOADER.ITERS_PER_EPOCH", 1,
        "SOLVER.OPTIMIZER", "Adam", "SOLVER.BASE_LR", 1e-3, "SOLVER.LR_MULTIPLIERS", [], "SOLVER.MAX_EPOCH", 2,
        "SOLVER.WARMUP_EPOCHS", 0, "SOLVER.STEPS", [100], "SOLVER.LOG_PERIOD", 1, "SOLVER.CHECKPOINT_PERIOD", 100,
        "TEST.EVAL_PERIOD", 1, "TEST.EVAL_START_EPOCH", 0, "TEST.SYSU.MODES", ["all"], "TEST.SYSU.SHOTS", ["single"],
        "TEST.SYSU.NUM_TRIALS", 2, "TEST.SAVE_FEATURES", True, "TEST.IMS_PER_BATCH", 16,
    ]


def train_tiny(repo_root, root, out, dataset="SYSU_MM01", config="configs/Baseline/sysu.yml", extra=()):
    from fastreid_ext.engine import DefaultTrainer
    from fastreid_ext.engine.defaults import default_setup, import_builtins
    from fastreid_ext.utils.env import seed_all_rng

    import_builtins()
    cfg = load_config(str(repo_root / config), tiny_opts(root, out, dataset) + list(extra))
    default_setup(cfg, None)
    seed_all_rng(0)
    trainer = DefaultTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    return out


@pytest.fixture(scope="session")
def tiny_run(repo_root, sysu_root, tmp_path_factory):
    """Folder of a finished tiny SYSU run."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return train_tiny(repo_root, sysu_root, tmp_path_factory.mktemp("tiny_run"))
    finally:
        torch.set_num_threads(old)
