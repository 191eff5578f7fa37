"""Helpers of the tool tests: a loader for the scripts under tools/ and a tiny real training run
(a depth-18 baseline, two short epochs on the synthetic data). A module of its own, not the
conftest, so test files import it by a unique name."""
import importlib.util

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
