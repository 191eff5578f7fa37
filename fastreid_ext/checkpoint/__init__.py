"""Checkpointing: atomic saves, weights_only loading policy, foreign formats, eval-only strictness."""
from .formats import CheckpointFormat, foreign_format, register_checkpoint_format
from .key_prefix import CheckpointPrefixError
from .loading import CheckpointReadError, UntrustedCheckpointError, load_checkpoint_file, normalize_checkpoint
from .reid_checkpointer import (EvalOnlyWeightsError, NonFiniteCheckpointError, ReidCheckpointer, atomic_torch_save,
                                atomic_write_text, non_finite_tensors, remove_stale_temp_files)

__all__ = ["CheckpointPrefixError", "CheckpointFormat", "foreign_format", "register_checkpoint_format", "CheckpointReadError",
           "EvalOnlyWeightsError", "NonFiniteCheckpointError", "ReidCheckpointer", "UntrustedCheckpointError", "atomic_torch_save", "atomic_write_text", "load_checkpoint_file",
           "non_finite_tensors", "normalize_checkpoint", "remove_stale_temp_files"]
