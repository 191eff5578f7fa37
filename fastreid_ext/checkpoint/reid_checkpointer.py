"""``ReidCheckpointer``: fvcore's Checkpointer with atomic, main-process-only saves, the weights_only
policy, foreign formats, key remapping by the model, and the eval-only strictness check.

Key remapping: a meta-architecture may define ``remap_checkpoint_keys(state_dict) -> state_dict``;
it is called on every loaded state dict (after stripping a DDP ``module.`` prefix), so a model can
accept the parameter names of an official release without the checkpointer knowing them.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
from typing import Any

import torch
from fvcore.common.checkpoint import Checkpointer, _IncompatibleKeys, _strip_prefix_if_present

from ..utils import comm
from ..utils.file_io import PathManager
from ..utils.errors import UserError
from .loading import CheckpointReadError, load_checkpoint_file, normalize_checkpoint
from .formats import foreign_format
from .key_prefix import CheckpointPrefixError, prefix_mismatch_message

__all__ = ["ReidCheckpointer", "EvalOnlyWeightsError", "NonFiniteCheckpointError", "atomic_torch_save",
           "atomic_write_text", "non_finite_tensors", "remove_stale_temp_files", "require_eval_weights"]


class EvalOnlyWeightsError(UserError, RuntimeError):
    """Weights for evaluation are missing, or retrieval parameters are missing / mis-shaped."""


class NonFiniteCheckpointError(FloatingPointError):
    """The model holds NaN/inf (diverged training): nothing was written, the last checkpoint stays the good one."""


_TMP_RE = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")


def _atomic_replace(path: str, write_fn) -> None:
    """Write through ``write_fn(file)`` into a temp file beside ``path``, fsync, then ``os.replace``.

    The temp file is created with mode 0o666 so the result honours the umask like any other file.
    """
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(folder: str) -> list[str]:
    """Delete the temp files that a killed save left in ``folder`` (their writer process is gone)."""
    removed = []
    if not folder or not os.path.isdir(folder):
        return removed
    for name in sorted(os.listdir(folder)):
        m = _TMP_RE.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            path = os.path.join(folder, name)
            try:
                os.remove(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding NaN or inf (one device sync)."""
    items = [(k, v) for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()]
    if not items:
        return []
    flags = torch.stack([torch.isfinite(v).all() for _, v in items]).cpu()
    return [k for (k, _), ok in zip(items, flags.tolist()) if not ok]


def atomic_torch_save(obj: Any, path: str) -> None:
    _atomic_replace(path, lambda f: torch.save(obj, f))


def atomic_write_text(text: str, path: str) -> None:
    _atomic_replace(path, lambda f: f.write(text.encode()))


def require_eval_weights(path: str) -> None:
    """Refuse ``--eval-only`` without a weights file; called before the model is built (and printed)."""
    if not path:
        raise EvalOnlyWeightsError("--eval-only needs trained weights: MODEL.WEIGHTS is empty; add e.g. "
                                   "MODEL.WEIGHTS output/model_final.pth to the command line.")
    if "://" not in path and not os.path.isfile(path):
        raise EvalOnlyWeightsError(f"--eval-only: MODEL.WEIGHTS file '{path}' does not exist.")


class ReidCheckpointer(Checkpointer):
    def __init__(self, model: torch.nn.Module, save_dir: str = "", *, save_to_disk: bool | None = None,
                 trusted: bool = False, **checkpointables: Any):
        super().__init__(model, save_dir, save_to_disk=comm.is_main_process() if save_to_disk is None else save_to_disk,
                         **checkpointables)
        self.path_manager = PathManager
        self.trusted = trusted
        self.logger = logging.getLogger(__name__)
        self._source = "MODEL.WEIGHTS"  # names the config key / option of the file being loaded, for errors
        if self.save_to_disk:
            for path in remove_stale_temp_files(self.save_dir):
                self.logger.warning("Removed %s, left by a save that was killed while writing.", path)

    # ------------------------------------------------------------------ saving
    def save(self, name: str, **kwargs: Any) -> None:
        """Every rank calls it (the trainer's state gathers each rank's random states); the main process writes."""
        if not self.save_dir:
            return
        if not self.save_to_disk:
            if comm.get_world_size() > 1:
                for obj in self.checkpointables.values():
                    obj.state_dict()  # take part in the gathers of the main process's save
            return
        data = {"model": self.model.state_dict()}
        states = {key: obj.state_dict() for key, obj in self.checkpointables.items()}
        bad = non_finite_tensors(data["model"])
        if bad:
            last = self.get_checkpoint_file() if self.has_checkpoint() else ""
            raise NonFiniteCheckpointError(
                f"Not saving {name}.pth: the model holds NaN/inf in {len(bad)} tensors ({', '.join(bad[:5])}"
                f"{', ...' if len(bad) > 5 else ''}), so training diverged. Last good checkpoint: "
                f"{last or 'none written yet'}. Lower SOLVER.BASE_LR or check the data.")
        data.update(states)
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        os.makedirs(self.save_dir, exist_ok=True)
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        if self.save_to_disk:
            atomic_write_text(last_filename_basename, os.path.join(self.save_dir, "last_checkpoint"))

    # ----------------------------------------------------------------- loading
    def resume_or_load(self, path: str, *, resume: bool = True) -> dict[str, Any]:
        self._source = "--resume checkpoint (OUTPUT_DIR/last_checkpoint)" if resume and self.has_checkpoint() \
            else "MODEL.WEIGHTS"
        try:
            return super().resume_or_load(path, resume=resume)
        finally:
            self._source = "MODEL.WEIGHTS"

    def load(self, path: str, checkpointables: list[str] | None = None) -> dict[str, Any]:
        if path and "://" not in path and not os.path.isfile(path):
            raise CheckpointReadError(f"{self._source} '{path}' does not exist.")
        return super().load(path, checkpointables)

    def _load_file(self, f: str) -> dict[str, Any]:
        self._file = f
        ckpt = normalize_checkpoint(load_checkpoint_file(f, trusted=self.trusted, key=self._source), f)
        fmt = ckpt.pop("__format__", None)
        if fmt:
            self.logger.info("Loaded %s as %s", f, fmt)
        return ckpt

    def _load_model(self, checkpoint: Any) -> _IncompatibleKeys:
        sd = checkpoint["model"]
        self._convert_ndarray_to_tensor(sd)
        _strip_prefix_if_present(sd, "module.")
        remap = getattr(self.model, "remap_checkpoint_keys", None)
        if callable(remap):
            sd = remap(sd)
        fmt = foreign_format(sd)  # a registered format the model did not map (modeling, plugins)
        if fmt is not None:
            raise ValueError(f"'{getattr(self, '_file', 'the checkpoint')}' is {fmt.description}, but the model is "
                             f"{type(self.model).__name__}; expected {fmt.expected}.")
        mismatch = prefix_mismatch_message(self.model, sd.keys(), getattr(self, "_file", "the checkpoint"))
        if mismatch:  # nothing would load: say why in one line instead of listing every key
            raise CheckpointPrefixError(mismatch)
        checkpoint["model"] = sd
        return super()._load_model(checkpoint)

    def load_for_eval(self, path: str) -> dict[str, Any]:
        """Load weights for ``--eval-only``; refuse unless every non-training-only parameter loads.

        Keys under the model class's ``TRAINING_ONLY_PREFIXES`` (e.g. the classifier, whose class
        count differs between datasets) may be missing or mis-shaped: they are reported and skipped.
        """
        require_eval_weights(path)
        checkpoint = self._load_file(path)
        incompatible = self._load_model(checkpoint)
        prefixes = tuple(getattr(self.model, "TRAINING_ONLY_PREFIXES", ()))  # an instance may extend its class's

        def training_only(key: str) -> bool:
            return bool(prefixes) and key.startswith(prefixes)

        bad_shapes = [s for s in incompatible.incorrect_shapes if not training_only(s[0])]
        missing = [k for k in incompatible.missing_keys if not training_only(k)]
        skipped = [s[0] for s in incompatible.incorrect_shapes if training_only(s[0])] + \
                  [k for k in incompatible.missing_keys if training_only(k)]
        if bad_shapes or missing:
            lines = [f"  missing: {k}" for k in missing[:20]] + [
                f"  wrong shape: {k} is {tuple(c)} in the file, {tuple(m)} in the model" for k, c, m in bad_shapes[:20]]
            raise EvalOnlyWeightsError(
                f"--eval-only refuses to run: '{path}' does not provide every retrieval parameter of "
                f"{type(self.model).__name__} ({len(missing)} missing, {len(bad_shapes)} mis-shaped; training-only "
                f"prefixes allowed to differ: {list(prefixes)}):\n" + "\n".join(lines))
        if skipped:
            self.logger.warning("Eval-only: skipped training-only parameters (missing or another class count): %s",
                                skipped)
        if incompatible.unexpected_keys:
            self.logger.warning("Eval-only: unused keys in %s: %s", path, incompatible.unexpected_keys[:20])
        checkpoint.pop("model", None)
        return checkpoint
