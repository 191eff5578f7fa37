"""The iteration loop with epoch boundaries (``TrainerBase``) and one optimisation step (``SimpleTrainer``).

The schedule is counted in iterations (``max_iter = MAX_EPOCH × iters_per_epoch``);
``trainer.epoch`` is derived from the iteration, so an epoch boundary is ``(iter + 1) % iters_per_epoch == 0``.
The trainer is checkpointable: its state holds the iteration, every stateful hook, the optimizer,
the AMP scaler and the RNG states, so a resumed run continues exactly where the killed one stopped.
"""
from __future__ import annotations

import logging
import time
import weakref
from typing import Any

import torch

from ..utils import comm
from ..utils.env import get_rng_state, set_rng_state
from ..utils.events import EventStorage, get_event_storage

__all__ = ["HookBase", "TrainerBase", "SimpleTrainer"]

logger = logging.getLogger(__name__)


class HookBase:
    """Called by the trainer at fixed points; ``self.trainer`` is a weak proxy set on registration.

    Order per iteration: ``before_step`` → forward/backward → ``after_backward`` (losses in
    ``trainer.loss_dict``, before the optimizer step) → ``after_step``. A hook with state returns it
    from ``state_dict()`` (only ints/floats/str/lists/dicts/tensors, so checkpoints load with
    ``weights_only=True``).
    """

    trainer: Any = None

    def before_train(self) -> None: ...
    def after_train(self) -> None: ...
    def before_step(self) -> None: ...
    def after_backward(self) -> None: ...
    def after_step(self) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...

    @property
    def finished(self) -> bool:
        """True when the loop ran to ``max_iter`` (false after an exception)."""
        return self.trainer.iter >= self.trainer.max_iter


class TrainerBase:
    def __init__(self) -> None:
        self._hooks: list[HookBase] = []
        self.iter = 0
        self.start_iter = 0
        self.max_iter = 0
        self.iters_per_epoch = 1
        self.storage: EventStorage | None = None

    @property
    def epoch(self) -> int:
        return self.iter // max(self.iters_per_epoch, 1)

    def register_hooks(self, hooks: list[HookBase | None]) -> None:
        for h in hooks:
            if h is None:
                continue
            if not isinstance(h, HookBase):
                raise TypeError(f"Hooks must subclass HookBase, got {type(h).__name__}.")
            h.trainer = weakref.proxy(self)  # no reference cycle trainer ↔ hook
            self._hooks.append(h)

    def train(self, start_iter: int, max_iter: int) -> None:
        ipe = max(self.iters_per_epoch, 1)  # 1-based counts, as the metric printer's "iter: i/I"
        if start_iter >= max_iter:
            logger.info("Nothing to train: the run already finished its %d iterations; only the end-of-run steps "
                        "(final evaluation, model_final) run again.", max_iter)
        else:
            logger.info("Starting training at iteration %d/%d (epoch %d/%d)", start_iter + 1, max_iter,
                        start_iter // ipe + 1, -(-max_iter // ipe))
        self.iter = self.start_iter = start_iter
        self.max_iter = max_iter
        with EventStorage(start_iter) as self.storage:
            try:
                self.before_train()
                for self.iter in range(start_iter, max_iter):
                    self.storage.iter = self.iter
                    self.storage.epoch = self.epoch
                    self.before_step()
                    self.run_step()
                    self.after_step()
                # == max_iter: the loop finished (hooks check `finished`); a finished run resumed again keeps
                # its count (model_final's stored iteration is self.iter - 1)
                self.iter = max(start_iter, max_iter)
                self.storage.iter = self.iter
            except Exception:
                logger.exception("Exception during training at iteration %d:", self.iter)
                raise
            finally:
                self.after_train()

    def before_train(self) -> None:
        for h in self._hooks:
            h.before_train()

    def after_train(self) -> None:
        for h in self._hooks:
            h.after_train()

    def before_step(self) -> None:
        for h in self._hooks:
            h.before_step()

    def after_backward(self) -> None:
        for h in self._hooks:
            h.after_backward()

    def after_step(self) -> None:
        for h in self._hooks:
            h.after_step()

    def run_step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        hooks = {}
        for h in self._hooks:
            sd = h.state_dict()
            if sd:
                name = type(h).__qualname__
                if name in hooks:
                    logger.warning("Two hooks of type %s have state; only the first is checkpointed.", name)
                    continue
                hooks[name] = sd
        return {"iteration": self.iter, "hooks": hooks}

    def load_state_dict(self, state: dict) -> None:
        self.iter = int(state["iteration"])
        for key, value in state.get("hooks", {}).items():
            matching = [h for h in self._hooks if type(h).__qualname__ == key]
            if matching:
                matching[0].load_state_dict(value)
            else:
                logger.warning("Checkpoint has state for hook %s, which this trainer does not have.", key)


def _amp_dtype(name: str, device_type: str) -> torch.dtype:
    if name == "auto":
        return torch.float16 if device_type == "cuda" else torch.bfloat16
    dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16}
    if name not in dtypes:
        raise ValueError(f"SOLVER.AMP.DTYPE is '{name}'; expected auto, float16 or bfloat16.")
    return dtypes[name]


class SimpleTrainer(TrainerBase):
    """data → ``model(batch)`` (dict of ``loss_*``) → sum → backward → optimizer step.

    AMP: ``torch.amp.autocast`` on the model's device type (bf16 on cpu by default); a GradScaler is
    used only for fp16 on cuda, where gradients can underflow.
    """

    def __init__(self, model: torch.nn.Module, data_loader, optimizer: torch.optim.Optimizer,
                 amp_enabled: bool = False, amp_dtype: str = "auto", device: torch.device | None = None):
        super().__init__()
        self.model = model
        self.data_loader = data_loader
        self.optimizer = optimizer
        self._data_loader_iter = None
        self._pending_rng: dict | None = None
        self.loss_dict: dict[str, torch.Tensor] = {}
        if device is None:
            p = next(model.parameters(), None)
            device = p.device if p is not None else torch.device("cpu")
        self.device_type = torch.device(device).type
        self.amp_enabled = bool(amp_enabled)
        self.amp_dtype = _amp_dtype(amp_dtype, self.device_type)
        use_scaler = self.amp_enabled and self.device_type == "cuda" and self.amp_dtype == torch.float16
        self.grad_scaler = torch.amp.GradScaler("cuda") if use_scaler else None

    def train(self, start_iter: int, max_iter: int) -> None:
        # The sampler resumes at start_iter; RNG states from a checkpoint are applied after the
        # loader iterator exists (creating it draws a base seed), so resumed runs match exactly.
        sampler = getattr(self.data_loader, "batch_sampler", None)
        if start_iter > 0 and hasattr(sampler, "set_start_iter"):
            sampler.set_start_iter(start_iter)
        self._data_loader_iter = iter(self.data_loader)
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
        self.model.train()
        super().train(start_iter, max_iter)

    def run_step(self) -> None:
        assert self.model.training, "SimpleTrainer: the model was left in eval mode."
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast(device_type=self.device_type, dtype=self.amp_dtype, enabled=self.amp_enabled):
            loss_dict = self.model(data)
        if not isinstance(loss_dict, dict) or not loss_dict:
            raise TypeError(f"In training mode the model must return a non-empty dict of losses, got "
                            f"{type(loss_dict).__name__}.")
        losses = sum(v.float() for v in loss_dict.values())
        self.loss_dict = loss_dict
        self.optimizer.zero_grad(set_to_none=True)
        if self.grad_scaler is not None:
            self.grad_scaler.scale(losses).backward()
        else:
            losses.backward()
        self.after_backward()
        self._write_metrics(loss_dict, data_time)
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()

    def _write_metrics(self, loss_dict: dict[str, torch.Tensor], data_time: float) -> None:
        metrics = {k: float(v.detach().float().cpu()) for k, v in loss_dict.items()}
        metrics["data_time"] = data_time
        gathered = comm.gather(metrics)
        if comm.is_main_process():
            storage = get_event_storage()
            storage.put_scalar("data_time", max(m.pop("data_time") for m in gathered))
            mean = {k: sum(m[k] for m in gathered) / len(gathered) for k in gathered[0]}
            storage.put_scalar("total_loss", sum(mean.values()))
            storage.put_scalars(**mean)

    def state_dict(self) -> dict:
        ret = super().state_dict()
        ret["optimizer"] = self.optimizer.state_dict()
        if self.grad_scaler is not None:
            ret["grad_scaler"] = self.grad_scaler.state_dict()
        # every rank's generators (python, numpy, torch cpu/cuda) and sampler, gathered on the main process:
        # ranks draw different dropout masks, so resuming with rank 0's states only is not exact
        # (all ranks call this: the checkpointer makes every rank take part in a save)
        mine = {"rng": get_rng_state(), "sampler": _sampler_state(self.data_loader)}
        per_rank = comm.gather(mine)
        ret["rng"] = mine["rng"]  # rank 0's, as older checkpoints hold it
        if per_rank:
            ret["ranks"] = per_rank
        return ret

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.grad_scaler is not None and "grad_scaler" in state:
            self.grad_scaler.load_state_dict(state["grad_scaler"])
        rank, world = comm.get_rank(), comm.get_world_size()
        ranks = state.get("ranks")
        if ranks is not None and len(ranks) == world:
            self._pending_rng = ranks[rank]["rng"]
            _check_sampler(self.data_loader, ranks[rank].get("sampler"))
        elif "rng" in state:
            if world > 1 or ranks is not None:
                held = f"the random states of {len(ranks)} processes" if ranks is not None else "rank 0's random state only"
                logger.warning("The checkpoint holds %s, this run has %d processes: only rank 0's state is restored, "
                               "so the resumed run will not match an uninterrupted one exactly.", held, world)
            if rank == 0:  # other ranks keep their own (seed + rank) stream
                self._pending_rng = state["rng"]


def _sampler_state(loader) -> dict:
    """The batch sampler's own state (``state_dict()``, e.g. its seed and rank), if it has one."""
    sampler = getattr(loader, "batch_sampler", None)
    fn = getattr(sampler, "state_dict", None)
    return fn() if callable(fn) else {}


def _check_sampler(loader, saved: dict | None) -> None:
    """A resumed sampler must draw the stream it drew before (same seed, rank and world size)."""
    sampler = getattr(loader, "batch_sampler", None)
    fn = getattr(sampler, "load_state_dict", None)
    if saved and callable(fn):
        fn(saved)
