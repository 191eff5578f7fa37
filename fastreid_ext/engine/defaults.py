"""``DefaultTrainer`` (the standard recipe built from the config) and ``create_ddp_model``; the run
setup (``default_setup``, ``resolve_dataset_keys``, ``model_selection``) lives in :mod:`.setup` and is
re-exported here.

Build order: train loader,
model (norm choice), optimizer, DDP wrapper, LR scheduler, checkpointer, hooks. Every ``build_*`` is a classmethod a
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
from ..utils.events import CommonMetricPrinter, JSONWriter, TensorboardWriter
from . import hooks as H
from .compile import compile_model
from .freeze_hook import LayerFreeze
from .hook_registry import build_user_hooks
from .precise_bn import PreciseBN
from .setup import default_setup, import_builtins, model_selection, resolve_dataset_keys, save_config
from .train_loop import SimpleTrainer

__all__ = ["DefaultTrainer", "default_setup", "create_ddp_model", "import_builtins", "save_config",
           "resolve_dataset_keys", "model_selection", "sync_buffers"]

logger = logging.getLogger(__name__)


def create_ddp_model(model: torch.nn.Module, **kwargs: Any) -> torch.nn.Module:
    """DistributedDataParallel when the world size is > 1, else the model itself. Buffers (BN running
    statistics) are broadcast from rank 0 at every forward unless ``broadcast_buffers=False`` is given."""
    if comm.get_world_size() == 1:
        return model
    if next(model.parameters()).device.type == "cuda":
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    kwargs.setdefault("broadcast_buffers", True)
    return DistributedDataParallel(model, **kwargs)


def sync_buffers(model: torch.nn.Module, src: int = 0) -> None:
    """Copy ``src``'s buffers to every rank, so evaluation and the saved state see one model (DDP
    broadcasts buffers before each forward; the last training forward updates each rank's own)."""
    if comm.get_world_size() == 1:
        return
    import torch.distributed as dist

    for b in model.buffers():
        dist.broadcast(b.data, src=src)


# the options that tell runs apart in tensorboard's HPARAMS tab (those a config does not have are left out)
HPARAM_KEYS = ("MODEL.META_ARCHITECTURE", "MODEL.BACKBONE.NAME", "MODEL.BACKBONE.DEPTH", "PAENET.VARIANT",
               "PAENET.BASE_ARCHITECTURE", "DATASETS.NAMES", "INPUT.SIZE_TRAIN", "SOLVER.OPTIMIZER", "SOLVER.BASE_LR",
               "SOLVER.MAX_EPOCH", "DATALOADER.IDS_PER_BATCH", "DATALOADER.NUM_INSTANCES", "SEED",
               "TEST.ATTRIBUTE_SOURCES")


def run_hparams(cfg) -> dict:
    """``{key: value}`` of :data:`HPARAM_KEYS` present in ``cfg`` (lists as text)."""
    out = {}
    for key in HPARAM_KEYS:
        node = cfg
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            out[key] = node if isinstance(node, (int, float, str, bool)) else str(list(node))
    return out


class DefaultTrainer(SimpleTrainer):
    """Trainer built from a config. ``train()`` returns the last evaluation results (or None)."""

    def __init__(self, cfg, datasets=None):
        from ..data.datasets import DatasetCache

        # the run's datasets, read once: the command line passes the cache its setup filled
        self.datasets = datasets if datasets is not None else DatasetCache()
        data_loader = self._build_train_loader(cfg)
        cfg = self._resolve_dataset_keys(cfg, data_loader.dataset)
        from ..modeling.meta_arch.build import convert_norm

        model = convert_norm(self.build_model(cfg), cfg.MODEL.NORM)
        c = cfg.MODEL.COMPILE
        compile_model(model, c.ENABLED, c.MODE, c.BACKEND)  # forward only: names and checkpoints unchanged
        optimizer = self.build_optimizer(cfg, model)
        ddp = create_ddp_model(model)
        super().__init__(ddp, data_loader, optimizer, amp_enabled=cfg.SOLVER.AMP.ENABLED,
                         amp_dtype=cfg.SOLVER.AMP.DTYPE, device=next(model.parameters()).device)
        self.cfg = cfg
        self.iters_per_epoch = self._iters_per_epoch(cfg, data_loader)
        self.max_iter = cfg.SOLVER.MAX_EPOCH * self.iters_per_epoch
        self.scheduler = self.build_lr_scheduler(cfg, optimizer, self.iters_per_epoch)
        self.checkpointer = ReidCheckpointer(model, cfg.OUTPUT_DIR, trusted=cfg.MODEL.WEIGHTS_TRUSTED,
                                             trainer=weakref.proxy(self))
        self._last_eval_results: dict | None = None
        self._evaluators: list | None = None
        self.selection = model_selection(cfg)
        self.register_hooks(self.build_hooks())

    # ------------------------------------------------------------------ building
    @staticmethod
    def _iters_per_epoch(cfg, loader) -> int:
        n = getattr(getattr(loader, "batch_sampler", None), "iters_per_epoch", None) or cfg.DATALOADER.ITERS_PER_EPOCH
        if not n:
            raise ValueError("Cannot tell the iterations per epoch: the train loader's batch_sampler has no "
                             "'iters_per_epoch' and DATALOADER.ITERS_PER_EPOCH is 0.")
        return int(n)

    def _build_train_loader(self, cfg):
        """``build_train_loader`` with the run's dataset cache when the (possibly overridden) builder takes it."""
        import inspect

        if "datasets" in inspect.signature(self.build_train_loader).parameters:
            return self.build_train_loader(cfg, datasets=self.datasets)
        return self.build_train_loader(cfg)

    @staticmethod
    def _resolve_dataset_keys(cfg, dataset):
        """Counts still 0 (the caller skipped ``resolve_dataset_keys``): taken from the loader's dataset
        into a copy of the config; the caller's config and its config.yaml are left alone."""
        from .setup import count_updates

        updates = count_updates(cfg, getattr(dataset, "num_classes", 0) or 0, getattr(dataset, "attribute_names", None))
        if not updates:
            return cfg
        logger.warning("From the training loader: %s (resolve_dataset_keys(cfg) before freezing the config puts "
                       "them into config.yaml).", updates)
        cfg = cfg.clone()
        cfg.defrost()
        cfg.merge_from_list([x for kv in updates.items() for x in kv])
        cfg.freeze()
        return cfg

    @classmethod
    def build_train_loader(cls, cfg, datasets=None):
        from ..data.build import build_train_loader

        return build_train_loader(cfg, datasets)

    @classmethod
    def build_model(cls, cfg) -> torch.nn.Module:
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
            os.makedirs(out, exist_ok=True)
            writers.append(JSONWriter(os.path.join(out, "metrics.json")))
            try:
                writers.append(TensorboardWriter(out, val_datasets=self.cfg.DATASETS.VAL,
                                                 test_datasets=self.cfg.DATASETS.TESTS, hparams=run_hparams(self.cfg)))
            except ImportError as e:
                logger.warning("Tensorboard writer disabled: %s", e)
        return writers

    def build_hooks(self) -> list:
        """Order: timer, LR, layer freeze (SOLVER.FREEZE), user hooks (TRAIN.HOOKS), precise BN
        (TEST.PRECISE_BN), eval, best ckpt (only when a model is selected, see ``model_selection``), periodic
        ckpt, loss guard, writers."""
        cfg = self.cfg
        from ..solver.freeze import FreezeSchedule

        ret = [H.IterationTimer(), H.LRScheduler(self.optimizer, self.scheduler),
               LayerFreeze(self.model, FreezeSchedule.from_config(cfg))]
        ret += build_user_hooks(cfg, self)
        evaluation = H.EvalHook(cfg.TEST.EVAL_PERIOD, self._eval_for_hook, start_epoch=cfg.TEST.EVAL_START_EPOCH)
        if cfg.TEST.PRECISE_BN.ENABLED:
            self._check_precise_bn_dataset(cfg.TEST.PRECISE_BN.DATASET)
            ret.append(PreciseBN(self.model, self._precise_bn_loader, cfg.TEST.PRECISE_BN.NUM_ITER, evaluation.is_due))
        ret.append(evaluation)
        sel = self.selection
        log = logger.warning if sel["data"] == "test" else logger.info
        log("Model selection: %s.", sel["note"])
        if sel["data"] != "none":
            from ..modeling.input_sources import leaking_sources  # noqa: PLC0415

            ret.append(H.BestCheckpointer(self.checkpointer, sel["metric"], datasets=sel["datasets"],
                                          excluded_sources=leaking_sources(self.model)))
        ret.append(H.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD * self.iters_per_epoch,
                                          max_to_keep=cfg.SOLVER.MAX_TO_KEEP))
        if cfg.SOLVER.CHECK_FINITE_LOSS:
            ret.append(H.NonFiniteLossGuard(self.checkpointer))
        if comm.is_main_process():
            ret.append(H.PeriodicWriter(self.build_writers(), period=cfg.SOLVER.LOG_PERIOD))
        return ret

    @staticmethod
    def _check_precise_bn_dataset(name: str) -> None:
        """A typo fails now, not at the first evaluation."""
        from ..data.datasets import DATASET_REGISTRY
        from ..utils.errors import UserError

        if name and name not in DATASET_REGISTRY.names():
            raise UserError(f"TEST.PRECISE_BN.DATASET '{name}' is not a registered dataset; expected one of "
                            f"{DATASET_REGISTRY.names()} or '' (the training datasets DATASETS.NAMES).")

    def _precise_bn_loader(self):
        """Training batches for ``PreciseBN``: this trainer's train loader over TEST.PRECISE_BN.DATASET
        (DATASETS.NAMES when empty), a loader of its own so training's stream is untouched."""
        name = self.cfg.TEST.PRECISE_BN.DATASET
        cfg = self.cfg
        if name:
            cfg = cfg.clone()
            cfg.defrost()
            cfg.DATASETS.NAMES = [name]
            cfg.freeze()
        return self.build_train_loader(cfg)

    # ------------------------------------------------------------------ running
    def resume_or_load(self, resume: bool = True) -> None:
        """``resume`` and a ``last_checkpoint`` in OUTPUT_DIR: continue that run (iteration, optimizer,
        scheduler, hooks, scaler, RNG). Otherwise load only the model weights of MODEL.WEIGHTS (if set)."""
        resuming = resume and self.checkpointer.has_checkpoint()
        extra = self.checkpointer.resume_or_load(self.cfg.MODEL.WEIGHTS, resume=resume)
        if resuming:
            # "iteration" is the last finished iteration (model_final: max_iter - 1); the trainer's
            # own counter is one past it in a final checkpoint, so it must not be used here
            self.start_iter = int(extra.get("iteration", self.iter)) + 1
            logger.info("Resuming after %d of %d iterations (%d epochs done)", self.start_iter, self.max_iter,
                        self.start_iter // max(self.iters_per_epoch, 1))
        else:
            self.start_iter = 0
        for h in self._hooks:
            if isinstance(h, H.PeriodicWriter):
                h.start_at(self.start_iter)

    def train(self) -> dict | None:  # type: ignore[override]
        if self.start_iter < self.max_iter:
            self.check_before_training()
        super().train(self.start_iter, self.max_iter)
        sync_buffers(self.model)
        if self.iter >= self.max_iter and comm.is_main_process():
            self._note_model_selection()
        return self._last_eval_results

    def _note_model_selection(self) -> None:
        """Say in every results.json of the test datasets how the model was selected."""
        import json

        best = next((h for h in self._hooks if isinstance(h, H.BestCheckpointer)), None)
        info = {k: self.selection[k] for k in ("data", "datasets", "note")}
        info["metric"] = best.resolved_metric if best is not None else ""
        info["best_iter"] = best.best_iter if best is not None else None
        info["best_metric"] = best.best_metric if best is not None else None
        tests = set(self.cfg.DATASETS.TESTS)
        for name, ev in self._evaluators or []:
            path = os.path.join(getattr(ev, "output_dir", "") or "", "results.json")
            if name not in tests or not os.path.isfile(path):
                continue
            with open(path) as f:
                payload = json.load(f)
            payload["model_selection"] = info
            atomic_write_text(json.dumps(payload, indent=2), path)

    def check_before_training(self) -> None:
        """Build the test side now and validate it (see ``preflight``), so that a typo in a test-side key or
        a corrupt test image fails before the first iteration, not at the first evaluation."""
        from .preflight import build_test_side, check_test_side

        if self._evaluators is None:
            self._evaluators = build_test_side(self.cfg, self._build_evaluators)
        model = self.model.module if isinstance(self.model, DistributedDataParallel) else self.model
        check_test_side(self.cfg, model, self._evaluators)

    def after_train(self) -> None:
        """A finished run writes ``model_final.pth`` before the final evaluation (the periodic
        checkpointer writes it again afterwards, with the final best metric), so an evaluation that
        fails loses no training; its error then says how to re-run only the evaluation."""
        if self.iter < self.max_iter:
            return super().after_train()
        self.checkpointer.save("model_final", iteration=self.iter - 1)
        try:
            super().after_train()
        except Exception as e:
            out = self.cfg.OUTPUT_DIR
            e.add_note(f"Training finished and {os.path.join(out, 'model_final.pth')} is saved; to re-run only the "
                       f"evaluation: tools/train_net.py --config-file {os.path.join(out, 'config.yaml')} --eval-only "
                       f"MODEL.WEIGHTS {os.path.join(out, 'model_final.pth')}")
            raise

    def _eval_for_hook(self, quick: bool) -> dict:
        """Quick (periodic) evaluation: the DATASETS.VAL sets when there are any (test data stays unseen
        while training), else DATASETS.TESTS; the final evaluation: tests then validation sets."""
        if self._evaluators is None:
            self._evaluators = self._build_evaluators(self.cfg)
        evaluators = self._evaluators
        val = set(self.cfg.DATASETS.VAL)
        if quick and val:
            evaluators = [(n, e) for n, e in evaluators if n in val]
        model = self.model.module if isinstance(self.model, DistributedDataParallel) else self.model
        sync_buffers(model)
        self._last_eval_results = self.test(self.cfg, model, quick=quick, evaluators=evaluators)
        return self._last_eval_results

    def _build_evaluators(self, cfg):
        import inspect

        if "datasets" in inspect.signature(self.build_evaluators).parameters:
            return self.build_evaluators(cfg, datasets=self.datasets)
        return self.build_evaluators(cfg)

    @classmethod
    def build_evaluators(cls, cfg, datasets=None) -> list[tuple[str, Any]]:
        """One (dataset name, evaluator) per DATASETS.TESTS entry, then per DATASETS.VAL entry. The
        results of a single test dataset go to OUTPUT_DIR, others to OUTPUT_DIR/inference/<name>.
        ``datasets``: the run's ``DatasetCache`` (a test dataset that is also trained on is read once)."""
        from ..data.datasets import get_dataset
        from ..evaluation import build_evaluator

        tests, val = list(cfg.DATASETS.TESTS), [n for n in cfg.DATASETS.VAL if n not in cfg.DATASETS.TESTS]
        out = []
        for name in tests + val:
            single = len(tests) == 1 and name in tests
            out_dir = cfg.OUTPUT_DIR if single else os.path.join(cfg.OUTPUT_DIR, "inference", name)
            out.append((name, build_evaluator(cfg, get_dataset(cfg, name, datasets), out_dir)))
        return out

    @classmethod
    def test(cls, cfg, model: torch.nn.Module, quick: bool = False, evaluators: list | None = None) -> dict:
        """Evaluate with ``evaluators`` (default: every DATASETS.TESTS and DATASETS.VAL entry); merged
        ``{task: {metric: value}}``, the same on every rank (evaluators may return results on the main
        process only; the main process's results are broadcast)."""
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
        return comm.broadcast(results)
