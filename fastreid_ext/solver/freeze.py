"""``FreezeSchedule``: which parameters are frozen at a given epoch (``SOLVER.FREEZE``).

Named after fast-reid's ``MODEL.FREEZE_LAYERS`` / ``SOLVER.FREEZE_ITERS``, but counted in epochs and
with a window: the parameters whose names start with one of ``prefixes`` (a dotted module path, so
``aal`` matches ``aal.region.w`` but not ``aal2.w``) are frozen while
``from_epoch <= epoch < until_epoch`` (``until_epoch < 0``: to the end of training).

Frozen means bit-unchanged: ``requires_grad`` is switched off (no gradient is computed) and any
gradient left on a frozen parameter is dropped before the optimizer step. torch's SGD, Adam and AdamW
skip parameters whose ``grad`` is None, so neither weight decay nor a momentum / Adam moment built up
before the freeze moves them. With ``bn_eval`` the modules under a prefix are kept in eval mode, so
their BatchNorm running statistics (buffers) stay unchanged too and dropout is off.
"""
from __future__ import annotations

import logging
from typing import Any

from torch import nn

from ..utils.errors import UserError

__all__ = ["FreezeSchedule"]

logger = logging.getLogger(__name__)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _unwrap(model: nn.Module) -> nn.Module:
    """Names are those of the bare model (no DistributedDataParallel ``module.``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class FreezeSchedule:
    """A freeze window over parameter-name prefixes; ``apply(model, epoch)`` makes the model match it."""

    def __init__(self, prefixes=(), from_epoch: int = 0, until_epoch: int = -1, bn_eval: bool = True):
        self.prefixes = [str(p).strip().rstrip(".") for p in prefixes]
        if any(not p for p in self.prefixes):
            raise UserError(f"SOLVER.FREEZE.PREFIXES {list(prefixes)!r} holds an empty prefix; expected module "
                            "paths such as 'aal' or 'base.backbone.layer4'.")
        self.from_epoch = int(from_epoch)
        self.until_epoch = int(until_epoch)
        if self.from_epoch < 0 or 0 <= self.until_epoch <= self.from_epoch:
            raise UserError(f"SOLVER.FREEZE: FROM_EPOCH {self.from_epoch} / UNTIL_EPOCH {self.until_epoch}; expected "
                            "0 <= FROM_EPOCH < UNTIL_EPOCH, or UNTIL_EPOCH -1 (to the end).")
        self.bn_eval = bool(bn_eval)
        self.frozen = False  # whether the window was applied at the last ``apply``
        # names under the prefixes that were already not trainable (e.g. a BNNeck's fixed bias): never released
        self._fixed: set[str] | None = None

    @classmethod
    def from_config(cls, cfg) -> "FreezeSchedule":
        f = cfg.SOLVER.FREEZE
        return cls(f.PREFIXES, f.FROM_EPOCH, f.UNTIL_EPOCH, f.BN_EVAL)

    @property
    def enabled(self) -> bool:
        return bool(self.prefixes)

    def active(self, epoch: int) -> bool:
        return self.enabled and self.from_epoch <= epoch and (self.until_epoch < 0 or epoch < self.until_epoch)

    def describe(self) -> str:
        until = "the end" if self.until_epoch < 0 else f"epoch {self.until_epoch}"
        return f"{self.prefixes} frozen from epoch {self.from_epoch} until {until}"

    def parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """The frozen (name, parameter) pairs; a prefix matching nothing is a UserError naming it."""
        model = _unwrap(model)
        named = list(model.named_parameters())
        for prefix in self.prefixes:
            if not any(_under(n, prefix) for n, _ in named):
                tops = sorted({n.split(".")[0] for n, _ in named})
                seconds = sorted({".".join(n.split(".")[:2]) for n, _ in named if "." in n})[:8]
                raise UserError(f"SOLVER.FREEZE.PREFIXES: '{prefix}' matches no parameter of {type(model).__name__}; "
                                f"its modules include {tops[:8]} and {seconds}.")
        matched = [(n, p) for n, p in named if any(_under(n, q) for q in self.prefixes)]
        if self._fixed is None:
            self._fixed = {n for n, p in matched if not p.requires_grad}
        return matched

    def modules(self, model: nn.Module) -> list[nn.Module]:
        model = _unwrap(model)
        return [m for n, m in model.named_modules() if n and any(_under(n, q) for q in self.prefixes)]

    def apply(self, model: nn.Module, epoch: int, toggle_requires_grad: bool = True) -> bool:
        """Freeze or release the prefixes for ``epoch``; returns whether they are frozen.

        ``toggle_requires_grad=False`` (DistributedDataParallel, whose reducer expects the same set of
        gradients every step) keeps ``requires_grad`` and relies on :meth:`drop_grads` alone.
        """
        if not self.enabled:
            return False
        frozen = self.active(epoch)
        params = self.parameters(model)
        if frozen != self.frozen:
            logger.info("Epoch %d: %s %d parameter tensors under %s.", epoch, "freezing" if frozen else "releasing",
                        len(params), self.prefixes)
        if toggle_requires_grad:
            self._set_trainable(params, not frozen)
        if self.bn_eval and (frozen or self.frozen):
            for m in self.modules(model):
                m.train(model.training and not frozen)
        self.frozen = frozen
        return frozen

    def release(self, model: nn.Module) -> None:
        """Make the prefixes trainable again (except what was fixed before the schedule touched it)."""
        if self.enabled:
            self._set_trainable(self.parameters(model), True)
        self.frozen = False

    def _set_trainable(self, params, trainable: bool) -> None:
        for n, p in params:
            p.requires_grad_(trainable and n not in (self._fixed or ()))

    def drop_grads(self, model: nn.Module) -> None:
        """Called between backward and the optimizer step: frozen parameters carry no gradient."""
        if self.frozen:
            for _, p in self.parameters(model):
                p.grad = None

    def state_dict(self) -> dict[str, Any]:
        if not self.enabled:
            return {}
        return {"prefixes": list(self.prefixes), "from_epoch": self.from_epoch, "until_epoch": self.until_epoch,
                "bn_eval": self.bn_eval, "frozen": self.frozen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The checkpoint's schedule wins (resume keeps the run's schedule); a differing config is logged."""
        if not state:
            return
        mine = self.state_dict()
        theirs = {k: state[k] for k in ("prefixes", "from_epoch", "until_epoch", "bn_eval")}
        if not mine or {k: mine[k] for k in theirs} != theirs:
            logger.warning("SOLVER.FREEZE of this config (%s) differs from the checkpoint's (%s); resuming keeps the "
                           "checkpoint's.", mine or "none", theirs)
        if list(theirs["prefixes"]) != self.prefixes:
            self._fixed = None  # recomputed for the checkpoint's prefixes before anything is toggled
        self.prefixes = list(theirs["prefixes"])
        self.from_epoch, self.until_epoch = int(theirs["from_epoch"]), int(theirs["until_epoch"])
        self.bn_eval = bool(theirs["bn_eval"])
        self.frozen = bool(state.get("frozen", False))
