"""``DefaultTrainer`` (the standard recipe built from the config), ``default_setup`` and ``create_ddp_model``.

Build order: train loader (→ ``MODEL.HEADS.NUM_CLASSES`` / ``MODEL.NUM_ATTRIBUTES`` when 0), model,
optimizer, DDP wrapper, LR scheduler, checkpointer, hooks. Every ``build_*`` is a classmethod a
project can override. Contract functions of the other parts are imported lazily, so importing the
engine stays light.
"""
from __future__ import annotations

import logging
import os
import weakref
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import ReidCheckpointer, atomic_write_text
from ..utils import comm
from ..utils.env import collect_env_info, seed_all_rng
from ..utils.events import CommonMetricPrinter, JSONWriter, TensorboardWriter
from ..utils.logger import setup_logger
from . import hooks as H
from .hook_registry import build_user_hooks
from .train_loop import SimpleTrainer

__all__ = ["DefaultTrainer", "default_setup", "create_ddp_model", "import_builtins", "save_config"]

logger = logging.getLogger(__name__)


def import_builtins() -> None:
    """Register the built-in datasets, models and evaluators (their packages register on import)."""
    import fastreid_ext.data  # noqa: F401
    import fastreid_ext.evaluation  # noqa: F401
    import fastreid_ext.modeling  # noqa: F401


def create_ddp_model(model: torch.nn.Module, **kwargs: Any) -> torch.nn.Module:
    """DistributedDataParallel when the world size is > 1, else the model itself."""
    if comm.get_world_size() == 1:
        return model
    if next(model.parameters()).device.type == "cuda":
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    return DistributedDataParallel(model, **kwargs)


def _portable_imports(cfg, config_file: str | None) -> list[str]:
    """IMPORTS with path entries made absolute, so OUTPUT_DIR/config.yaml replays from anywhere."""
    out = []
    for e in cfg.IMPORTS:
        if (e.endswith(".py") or "/" in e or os.sep in e) and not os.path.isabs(e):
            dirs = [os.getcwd()] + ([os.path.dirname(os.path.abspath(config_file))] if config_file else [])
            e = next((os.path.abspath(os.path.join(d, e)) for d in dirs if os.path.exists(os.path.join(d, e))), e)
        out.append(e)
    return out


def save_config(cfg, config_file: str | None = None) -> str | None:
    """Write the full config (IMPORTS included) to OUTPUT_DIR/config.yaml on the main process."""
    if not comm.is_main_process() or not cfg.OUTPUT_DIR:
        return None
    c = cfg.clone()
    c.defrost()
    c.IMPORTS = _portable_imports(cfg, config_file)
    path = os.path.join(cfg.OUTPUT_DIR, "config.yaml")
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    atomic_write_text(c.dump(), path)
    return path


def default_setup(cfg, args=None) -> None:
    """Output folder, logger, environment and config report, config.yaml, seeds, cudnn flags."""
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
    seed = seed_all_rng(cfg.SEED + rank if cfg.SEED >= 0 else None)
    logger.info("Seeded python/numpy/torch with %d (SEED %d + rank %d)", seed, cfg.SEED, rank)
    if not (args is not None and getattr(args, "eval_only", False)):
        torch.backends.cudnn.benchmark = bool(cfg.CUDNN_BENCHMARK)
    if cfg.DETERMINISTIC:
        torch.use_deterministic_algorithms(True, warn_only=True)


class DefaultTrainer(SimpleTrainer):
    """Trainer built from a config. ``train()`` returns the last evaluation results (or None)."""

    def __init__(self, cfg):
        import_builtins()
        data_loader = self.build_train_loader(cfg)
        self._resolve_dataset_keys(cfg, data_loader.dataset)
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        ddp = create_ddp_model(model, broadcast_buffers=False)
        super().__init__(ddp, data_loader, optimizer, amp_enabled=cfg.SOLVER.AMP.ENABLED,
                         amp_dtype=cfg.SOLVER.AMP.DTYPE, device=next(model.parameters()).device)
        self.cfg = cfg
        self.iters_per_epoch = self._iters_per_epoch(cfg, data_loader)
        self.max_iter = cfg.SOLVER.MAX_EPOCH * self.iters_per_epoch
        self.scheduler = self.build_lr_scheduler(cfg, optimizer, self.iters_per_epoch)
        self.checkpointer = ReidCheckpointer(model, cfg.OUTPUT_DIR, trusted=cfg.MODEL.WEIGHTS_TRUSTED,
                                             trainer=weakref.proxy(self))
        self.last_results: dict | None = None
        self.last_flat_results: dict | None = None
        self.last_results_iter: int | None = None
        self._evaluators: list | None = None
        self.register_hooks(self.build_hooks())

    # ------------------------------------------------------------------ building
    @staticmethod
    def _iters_per_epoch(cfg, loader) -> int:
        n = getattr(getattr(loader, "batch_sampler", None), "iters_per_epoch", None) or cfg.DATALOADER.ITERS_PER_EPOCH
        if not n:
            raise ValueError("Cannot tell the iterations per epoch: the train loader's batch_sampler has no "
                             "'iters_per_epoch' and DATALOADER.ITERS_PER_EPOCH is 0.")
        return int(n)

    @staticmethod
    def _resolve_dataset_keys(cfg, dataset) -> None:
        updates = {}
        if cfg.MODEL.HEADS.NUM_CLASSES == 0 and getattr(dataset, "num_classes", None):
            updates["MODEL.HEADS.NUM_CLASSES"] = int(dataset.num_classes)
        if cfg.MODEL.NUM_ATTRIBUTES == 0 and getattr(dataset, "attribute_names", None):
            updates["MODEL.NUM_ATTRIBUTES"] = len(dataset.attribute_names)
        if not updates:
            return
        was_frozen = cfg.is_frozen()
        cfg.defrost()
        cfg.merge_from_list([x for kv in updates.items() for x in kv])
        if was_frozen:
            cfg.freeze()
        logger.info("From the training data: %s", updates)
        save_config(cfg)  # config.yaml then replays with the resolved counts

    @classmethod
    def build_train_loader(cls, cfg):
        from ..data.build import build_train_loader

        return build_train_loader(cfg)

    @classmethod
    def build_model(cls, cfg) -> torch.nn.Module:
        import_builtins()
        from ..modeling import build_model

        model = build_model(cfg)
        logger.info("Model:\n%s", model)
        return model

    @classmethod
    def build_optimizer(cls, cfg, model):
        from ..solver import build_optimizer

        return build_optimizer(cfg, model)

    @classmethod
    def build_lr_scheduler(cls, cfg, optimizer, iters_per_epoch: int):
        from ..solver import build_lr_scheduler

        return build_lr_scheduler(cfg, optimizer, iters_per_epoch)

    def build_writers(self) -> list:
        out = self.cfg.OUTPUT_DIR
        writers = [CommonMetricPrinter(self.max_iter, self.iters_per_epoch)]
        if out:
            writers.append(JSONWriter(os.path.join(out, "metrics.json")))
            try:
                writers.append(TensorboardWriter(out))
            except ImportError as e:
                logger.warning("Tensorboard writer disabled: %s", e)
        return writers

    def build_hooks(self) -> list:
        """Order: timer, LR, user hooks (TRAIN.HOOKS), eval, best ckpt, periodic ckpt, loss guard, writers."""
        cfg = self.cfg
        ret = [H.IterationTimer(), H.LRScheduler(self.optimizer, self.scheduler)]
        ret += build_user_hooks(cfg, self)
        ret.append(H.EvalHook(cfg.TEST.EVAL_PERIOD, self._eval_for_hook, start_epoch=cfg.TEST.EVAL_START_EPOCH))
        ret.append(H.BestCheckpointer(self.checkpointer, cfg.TEST.METRIC))
        ret.append(H.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD * self.iters_per_epoch,
                                          max_to_keep=cfg.SOLVER.MAX_TO_KEEP))
        if cfg.SOLVER.CHECK_FINITE_LOSS:
            ret.append(H.NonFiniteLossGuard(self.checkpointer))
        if comm.is_main_process():
            ret.append(H.PeriodicWriter(self.build_writers(), period=cfg.SOLVER.LOG_PERIOD))
        return ret

    # ------------------------------------------------------------------ running
    def resume_or_load(self, resume: bool = True) -> None:
        """``resume`` and a ``last_checkpoint`` in OUTPUT_DIR: continue that run (iteration, optimizer,
        scheduler, hooks, scaler, RNG). Otherwise load only the model weights of MODEL.WEIGHTS (if set)."""
        self.checkpointer.resume_or_load(self.cfg.MODEL.WEIGHTS, resume=resume)
        if resume and self.checkpointer.has_checkpoint():
            self.start_iter = self.iter + 1
            logger.info("Resuming at iteration %d (epoch %d)", self.start_iter, self.start_iter // self.iters_per_epoch)
        else:
            self.start_iter = 0

    def train(self) -> dict | None:  # type: ignore[override]
        super().train(self.start_iter, self.max_iter)
        return self.last_results

    def _eval_for_hook(self, quick: bool) -> dict:
        if self._evaluators is None:
            self._evaluators = self.build_evaluators(self.cfg)
        model = self.model.module if isinstance(self.model, DistributedDataParallel) else self.model
        return self.test(self.cfg, model, quick=quick, evaluators=self._evaluators)

    @classmethod
    def build_evaluators(cls, cfg) -> list[tuple[str, Any]]:
        """One (dataset name, evaluator) per DATASETS.TESTS entry."""
        import_builtins()
        from ..data.datasets import build_dataset
        from ..evaluation import build_evaluator

        names = list(cfg.DATASETS.TESTS)
        out = []
        for name in names:
            out_dir = cfg.OUTPUT_DIR if len(names) == 1 else os.path.join(cfg.OUTPUT_DIR, "inference", name)
            out.append((name, build_evaluator(cfg, build_dataset(cfg, name), out_dir)))
        return out

    @classmethod
    def test(cls, cfg, model: torch.nn.Module, quick: bool = False, evaluators: list | None = None) -> dict:
        """Evaluate on every DATASETS.TESTS entry; merged ``{task: {metric: value}}``."""
        from tabulate import tabulate

        evaluators = evaluators if evaluators is not None else cls.build_evaluators(cfg)
        results: dict = {}
        was_training = model.training
        model.eval()
        try:
            for name, evaluator in evaluators:
                with torch.no_grad():
                    res = evaluator.evaluate(model, quick=quick) or {}
                for task, metrics in res.items():
                    results[task if task not in results else f"{name}/{task}"] = metrics
        finally:
            model.train(was_training)
        if comm.is_main_process() and results:
            flat = H.flatten_results(results)  # evaluators log their own tables; this is the summary
            rows = sorted((k, v) for k, v in flat.items() if k.endswith(("Rank-1", "mAP")))
            # a full evaluation ends the run with the CLI's summary table: this one goes to log.txt only
            logger.log(logging.INFO if quick else logging.DEBUG, "Evaluation summary (%s):\n%s", "quick" if quick else "full",
                       tabulate(rows, headers=["metric", "value"], floatfmt=".2f"))
        return results
