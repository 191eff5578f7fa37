"""``MODEL.COMPILE``: the model's forward through ``torch.compile``, falling back to eager with a warning.

On a GPU a ReID step at small batch sizes is bound by kernel launches; a compiled graph fuses the
element-wise work. Compilation is lazy: it can fail when ``torch.compile`` is called (unsupported
platform or Python) or at the first call of a new graph (no C++ compiler, an unsupported op). Both
fall back to the eager forward with one warning; errors of the model itself are raised as in eager.
The module keeps its identity and parameter names (only its ``forward`` is replaced), so
checkpoints, DDP and hooks see the same model.
"""
from __future__ import annotations

import logging

import torch

from ..utils.errors import UserError

__all__ = ["compile_model", "is_compile_error"]

logger = logging.getLogger(__name__)

_COMPILER_MODULES = ("torch._dynamo", "torch._inductor", "torch._functorch", "triton")
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def is_compile_error(exc: BaseException) -> bool:
    """True for errors raised by the compiler stack (dynamo, inductor, triton), not by the model."""
    return any(type(e).__module__.startswith(_COMPILER_MODULES) for e in (exc, exc.__cause__) if e is not None)


def compile_model(model: torch.nn.Module, enabled: bool, mode: str = "default", backend: str = "inductor") -> bool:
    """Replace ``model.forward`` by a compiled one when ``enabled``; True when compiled. On a compiler
    error (now or at any later call) the eager forward is restored and a warning names the error."""
    if not enabled:
        return False
    if mode not in MODES:
        raise UserError(f"MODEL.COMPILE.MODE is '{mode}'; expected one of {', '.join(MODES)}.")
    eager = model.forward
    try:
        compiled = torch.compile(eager, mode=None if mode == "default" else mode, backend=backend)
    except Exception as e:  # noqa: BLE001 - any failure here means: not available on this setup
        logger.warning("MODEL.COMPILE: torch.compile is unavailable here (%s: %s); running eagerly.", type(e).__name__, e)
        return False

    def forward(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except Exception as e:
            if not is_compile_error(e):
                raise
            logger.warning("MODEL.COMPILE: compiling %s failed (%s: %s); running eagerly from now on.",
                           type(model).__name__, type(e).__name__, " ".join(str(e).split())[:300])
            del model.forward  # the class's forward again
            return eager(*args, **kwargs)

    model.forward = forward
    logger.info("MODEL.COMPILE: %s forward compiled lazily (mode %s, backend %s).", type(model).__name__, mode, backend)
    return True
