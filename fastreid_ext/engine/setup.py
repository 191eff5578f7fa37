"""Run setup, before anything is trained: built-in registrations, the config completed from the
training data (``resolve_dataset_keys``, before freezing), the model-selection policy, and
``default_setup`` (output folder, logging, the one ``config.yaml``, seeds)."""
from __future__ import annotations

import logging
import os

import torch

from ..checkpoint import atomic_write_text
from ..config.portable import portable_config
from ..utils import comm
from ..utils.env import collect_env_info, seed_all_rng
from ..utils.errors import UserError
from ..utils.logger import setup_logger
from ..utils.plugins import resolve_plugin_entries
from ..utils.threads import apply_num_threads

__all__ = ["import_builtins", "resolve_dataset_keys", "resolve_dataset_keys_if_readable", "count_updates",
           "model_selection", "save_config", "default_setup"]

logger = logging.getLogger(__name__)


def import_builtins() -> None:
    """Register every built-in now. Not needed before a look-up: each registry imports the package of
    its built-ins on first use (``utils.registry``); kept for code that lists registries eagerly."""
    import fastreid_ext.data  # noqa: F401
    import fastreid_ext.evaluation  # noqa: F401
    import fastreid_ext.modeling  # noqa: F401


def _train_records(cfg, cache=None) -> tuple[list, list]:
    """(datasets of DATASETS.NAMES, their train records): the identities the model is trained on."""
    from ..data.datasets import get_dataset

    datasets = [get_dataset(cfg, name, cache) for name in cfg.DATASETS.NAMES]
    return datasets, [r for ds in datasets for r in ds.train]


def resolve_dataset_keys(cfg, datasets=None) -> dict:
    """Fill ``MODEL.HEADS.NUM_CLASSES`` / ``MODEL.NUM_ATTRIBUTES`` left at 0 from the training datasets
    (read, not loaded) and check that no DATASETS.VAL image is trained on. Call before freezing.
    The one place these counts are resolved; ``datasets``: the run's ``DatasetCache``, so the trainer
    reuses what was read here."""
    need_classes = cfg.MODEL.HEADS.NUM_CLASSES == 0
    need_attrs = cfg.MODEL.NUM_ATTRIBUTES == 0
    if not cfg.DATASETS.NAMES or not (need_classes or need_attrs or cfg.DATASETS.VAL):
        return {}
    cache = datasets
    datasets, records = _train_records(cfg, cache)
    names = next((list(ds.attribute_names) for ds in datasets if getattr(ds, "attribute_names", None)), [])
    updates = count_updates(cfg, len({(i, r.pid) for i, ds in enumerate(datasets) for r in ds.train}), names)
    if cfg.DATASETS.VAL:
        from ..data.datasets import get_dataset

        trained = {os.path.abspath(r.img_path) for r in records}
        for name in cfg.DATASETS.VAL:
            ds = get_dataset(cfg, name, cache)
            shared = sum(os.path.abspath(r.img_path) in trained for r in list(ds.query) + list(ds.gallery))
            if shared:
                raise UserError(f"DATASETS.VAL: {name} shares {shared} images with the training set of "
                                 f"DATASETS.NAMES {list(cfg.DATASETS.NAMES)}; hold its identities out of training "
                                 f"(for SYSU-MM01: DATASETS.SYSU.HOLD_OUT_VAL True).")
    if updates:
        if cfg.is_frozen():
            raise ValueError(f"resolve_dataset_keys: the config is frozen but {sorted(updates)} are 0; call it "
                             "before cfg.freeze() (cli.setup does).")
        cfg.merge_from_list([x for kv in updates.items() for x in kv])
        logger.info("From the training data: %s", updates)
    return updates


def resolve_dataset_keys_if_readable(cfg) -> dict:
    """``resolve_dataset_keys`` for tools that work without data (complexity, export): when the training
    data cannot be read, the config's counts stay and a warning says why."""
    try:
        return resolve_dataset_keys(cfg)
    except Exception as e:  # no data here: the counts stay as given
        logger.warning("Counts not read from the training data (%s); using the config's.", e)
        return {}


def count_updates(cfg, num_classes: int, attribute_names) -> dict:
    """The config keys still 0 that the training data decide: identity classes and attributes."""
    updates: dict = {}
    if cfg.MODEL.HEADS.NUM_CLASSES == 0 and num_classes:
        updates["MODEL.HEADS.NUM_CLASSES"] = int(num_classes)
    if cfg.MODEL.NUM_ATTRIBUTES == 0 and attribute_names:
        updates["MODEL.NUM_ATTRIBUTES"] = len(attribute_names)
    return updates


def model_selection(cfg) -> dict:
    """How ``model_best.pth`` is chosen: ``{"data": "validation" | "test" | "none", "datasets": [...],
    "metric": key or "" (auto), "note": text for the log and results.json}``."""
    val, tests, metric = list(cfg.DATASETS.VAL), list(cfg.DATASETS.TESTS), cfg.TEST.SELECT_METRIC
    if metric:
        from ..evaluation.result_keys import ResultKey  # noqa: PLC0415

        head = ResultKey.parse(metric, "TEST.SELECT_METRIC").dataset
        if head in val:
            return {"data": "validation", "datasets": [head], "metric": metric, "note": f"selected on validation data ({metric})"}
        return {"data": "test", "datasets": tests, "metric": metric,
                "note": f"selected on test data ({metric}, asked by TEST.SELECT_METRIC)"}
    if val:
        return {"data": "validation", "datasets": val, "metric": "", "note": f"selected on validation data {val}"}
    if cfg.TEST.SELECT_ON_TEST:
        return {"data": "test", "datasets": tests, "metric": "", "note": "selected on test data (TEST.SELECT_ON_TEST)"}
    return {"data": "none", "datasets": [], "metric": "",
            "note": "no model selection (no DATASETS.VAL): the result is the last checkpoint"}


def _portable_imports(cfg, config_file: str | None) -> list[str]:
    """IMPORTS with path entries made absolute, so OUTPUT_DIR/config.yaml replays from anywhere."""
    base_dir = os.path.dirname(os.path.abspath(config_file)) if config_file else None
    return resolve_plugin_entries(cfg.IMPORTS, base_dir)


def save_config(cfg, config_file: str | None = None) -> str | None:
    """Write the full config, made portable (absolute paths, resolved IMPORTS, no data generation),
    to OUTPUT_DIR/config.yaml on the main process."""
    if not comm.is_main_process() or not cfg.OUTPUT_DIR:
        return None
    c = portable_config(cfg, config_file)
    path = os.path.join(cfg.OUTPUT_DIR, "config.yaml")
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    atomic_write_text(c.dump(), path)
    return path


def default_setup(cfg, args=None) -> None:
    """Output folder, logger, environment and config report, config.yaml, intra-op threads, seeds, cudnn flags."""
    out = cfg.OUTPUT_DIR
    rank = comm.get_rank()
    if comm.is_main_process() and out:
        os.makedirs(out, exist_ok=True)
    comm.synchronize()
    setup_logger(out or None, distributed_rank=rank, name="", abbrev_name="fastreid_ext")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    logger.info("Rank of current process: %d. World size: %d", rank, comm.get_world_size())
    logger.info("Environment info:\n%s", collect_env_info())
    config_file = getattr(args, "config_file", None) if args is not None else None
    if args is not None:
        logger.info("Command line arguments: %s", args)
        if config_file and os.path.isfile(config_file):
            with open(config_file) as f:
                logger.info("Contents of config file %s:\n%s", config_file, f.read())
    portable = _portable_imports(cfg, config_file)
    if portable != list(cfg.IMPORTS):  # absolute plugin paths, so later saves of the config replay too
        was_frozen = cfg.is_frozen()
        cfg.defrost()
        cfg.IMPORTS = portable
        if was_frozen:
            cfg.freeze()
    logger.info("Running with full config:\n%s", cfg.dump())
    path = save_config(cfg, config_file)
    if path:
        logger.info("Full config saved to %s", path)
    apply_num_threads(int(cfg.NUM_THREADS))
    seed = seed_all_rng(cfg.SEED + rank if cfg.SEED >= 0 else None)
    logger.info("Seeded python/numpy/torch with %d (SEED %d + rank %d)", seed, cfg.SEED, rank)
    if not (args is not None and getattr(args, "eval_only", False)):
        torch.backends.cudnn.benchmark = bool(cfg.CUDNN_BENCHMARK)
    if cfg.DETERMINISTIC:
        torch.use_deterministic_algorithms(True, warn_only=True)
