"""Checkpointing: atomic saves, weights_only loading policy, foreign formats, eval-only strictness."""
from .loading import UntrustedCheckpointError, load_checkpoint_file, normalize_checkpoint
from .reid_checkpointer import EvalOnlyWeightsError, ReidCheckpointer, atomic_torch_save, atomic_write_text

__all__ = ["EvalOnlyWeightsError", "ReidCheckpointer", "UntrustedCheckpointError", "atomic_torch_save",
           "atomic_write_text", "load_checkpoint_file", "normalize_checkpoint"]
