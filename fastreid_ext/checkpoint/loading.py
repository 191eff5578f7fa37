"""Reading checkpoint files safely and normalising foreign formats to ``{"model": state_dict, ...}``.

Policy: ``torch.load(weights_only=True)`` unless the user marks the file trusted
(``MODEL.WEIGHTS_TRUSTED``). Numpy arrays/scalars (the official PAENet ``.t`` files hold
``cmc``/``mAP`` as numpy) are allowed through torch's safe-globals list; anything else that needs
full unpickling is refused with an error naming the file and the key to set.
"""
from __future__ import annotations

import os
import pickle
import re
from typing import Any

import numpy as np
import torch

from ..utils.errors import UserError

__all__ = ["UntrustedCheckpointError", "CheckpointReadError", "load_checkpoint_file", "normalize_checkpoint",
           "numpy_safe_globals"]


class UntrustedCheckpointError(pickle.UnpicklingError, UserError):
    """The file needs full unpickling (arbitrary code) and was not marked trusted."""


class CheckpointReadError(UserError):
    """The file is missing, empty, truncated or not a torch checkpoint at all."""


_REFUSED = re.compile(r"unsupported (global|class)|is blocked|not an allowed global", re.IGNORECASE)


def numpy_safe_globals() -> list:
    """The numpy reconstructors a pickled ndarray / numpy scalar needs (numpy 1 and 2 layouts)."""
    core = getattr(np, "_core", None) or np.core
    out = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return out


def _unreadable(path: str, key: str, err: BaseException) -> CheckpointReadError:
    size = os.path.getsize(path) if os.path.isfile(path) else -1
    expected = "expected a file written by torch.save (e.g. OUTPUT_DIR/model_final.pth)"
    if size == 0:
        return CheckpointReadError(f"{key} '{path}' is empty (0 bytes); {expected}.")
    detail = " ".join(str(err).split())[:200]
    return CheckpointReadError(f"{key} '{path}' is not a complete torch checkpoint ({size} bytes; truncated or "
                               f"another format: {type(err).__name__}{': ' + detail if detail else ''}); {expected}.")


def load_checkpoint_file(path: str, trusted: bool = False, key: str = "Checkpoint") -> Any:
    """The unpickled object of ``path`` on cpu, under the weights_only policy above.

    ``key`` names where the path came from (``MODEL.WEIGHTS``...) in the error for a missing, empty,
    truncated or foreign file.
    """
    if not os.path.isfile(path):
        raise CheckpointReadError(f"{key} '{path}' does not exist.")
    try:
        if trusted:
            return torch.load(path, map_location="cpu", weights_only=False)
        with torch.serialization.safe_globals(numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        # torch's weights_only unpickler refusing a global ("Unsupported global: ...", "unsupported GLOBAL
        # posix.system whose module posix is blocked") is a security refusal, not a damaged file
        why = next((ln.strip() for ln in text.splitlines() if _REFUSED.search(ln)), None)
        if not trusted and (why or "Weights only load failed" in text):
            raise UntrustedCheckpointError(
                f"{key} '{path}' was refused for security: torch.load(weights_only=True) will not unpickle what it "
                f"holds beyond tensors, containers and numpy arrays ({(why or text.splitlines()[0])[:300]}); "
                f"full unpickling can run arbitrary code. Only if you trust this file, set MODEL.WEIGHTS_TRUSTED True."
            ) from None
        raise _unreadable(path, key, e) from None
    except (EOFError, KeyError, RuntimeError, ValueError, UnicodeDecodeError) as e:
        raise _unreadable(path, key, e) from None


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, (torch.Tensor, np.ndarray)) for k, v in obj.items())


def normalize_checkpoint(obj: Any, path: str) -> dict[str, Any]:
    """Our / fvcore files (``model`` key), the community ``.t`` files (``net`` key: AGW, DDAG, official
    PAENet), a ``state_dict`` key or a raw state dict → ours. Which code base's names they hold is
    the model's business (``remap_checkpoint_keys``, :mod:`.formats`)."""
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        return obj
    if isinstance(obj, dict) and "net" in obj and isinstance(obj["net"], dict):
        legacy = {k: v for k, v in obj.items() if k != "net"}
        return {"model": obj["net"], "legacy_info": legacy, "__format__": "net_key"}
    if isinstance(obj, dict) and "state_dict" in obj and _is_state_dict(obj["state_dict"]):
        return {"model": obj["state_dict"], "__format__": "state_dict_key"}
    if _is_state_dict(obj):
        return {"model": dict(obj), "__format__": "raw_state_dict"}
    what = f"dict with keys {sorted(map(str, obj))[:10]}" if isinstance(obj, dict) else type(obj).__name__
    raise UserError(
        f"Checkpoint '{path}' has an unknown layout ({what}); expected a dict with 'model' (this toolkit), "
        f"'net' (a community .t file: AGW, DDAG, official PAENet), 'state_dict', or a raw name → tensor state dict."
    )
