"""Helpers for golden tests of models, in the spirit of ``torch.testing``.

A golden test loads the same weights into our model and into a reference implementation and
compares the outputs. Random initialisation cannot be shared across code bases, so the weights come
from a deterministic fill: every tensor is drawn from a generator seeded with the CRC-32 of its own
name, independent of key order and of the code that builds the model. The golden data under
``tests/assets`` was made with this rule (see ``tests/assets/README.md``); plugin authors can build
golden tests of their own models the same way.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = ["fill_value", "deterministic_fill", "assert_matches_golden"]


def fill_value(name: str, shape: Sequence[int]) -> torch.Tensor:
    """The deterministic value of one state-dict entry, seeded by ``zlib.crc32`` of its name.

    BatchNorm statistics get plausible values (variance near 1) so that activations stay finite;
    matrices are scaled by 1/sqrt(fan_in) so that deep stacks neither vanish nor explode;
    other 1-d weights (BatchNorm scales) sit around 1, other vectors around 0.
    """
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    shape = tuple(shape)
    if name.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if name.endswith("running_var"):
        return 1 + 0.1 * torch.rand(shape, generator=g)
    if name.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) >= 2:
        return torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
    t = 0.1 * torch.randn(shape, generator=g)
    return t + 1 if name.endswith("weight") else t


def deterministic_fill(module_or_state_dict) -> dict[str, torch.Tensor]:
    """A state dict with :func:`fill_value` for every key.

    Takes an ``nn.Module``, a state dict (name → tensor) or a key listing (name → shape), so that a
    checkpoint can be written from a list of names and shapes without building the model.
    """
    if isinstance(module_or_state_dict, torch.nn.Module):
        module_or_state_dict = module_or_state_dict.state_dict()
    if not isinstance(module_or_state_dict, Mapping):
        raise TypeError(f"expected an nn.Module or a mapping of names, got {type(module_or_state_dict).__name__}")
    return {name: fill_value(name, v.shape if isinstance(v, torch.Tensor) else v)
            for name, v in module_or_state_dict.items()}


def assert_matches_golden(ours, ref, name: str, max_abs: float = 2e-6, max_rel_deviation: float = 1e-3) -> None:
    """Assert that L2-normalised features ``ours`` (N×D) match the golden ``ref``.

    Under the deterministic fill all samples point almost the same way (cosine about 0.99999), so a
    loose tolerance would accept nearly any function. Two checks: the maximum absolute difference,
    and the relative error of the deviations from the batch mean (``v - v.mean(0)``), which is what
    tells the samples apart.
    """
    ours = ours.detach().cpu().numpy() if isinstance(ours, torch.Tensor) else np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, f"{name}: shape {ours.shape} != golden {ref.shape}"
    diff = np.abs(ours - ref).max()
    assert diff <= max_abs, f"{name}: max abs diff {diff:.3g} > {max_abs:.3g}"
    dev_o, dev_r = ours - ours.mean(0), ref - ref.mean(0)
    rel = np.linalg.norm(dev_o - dev_r) / np.linalg.norm(dev_r)
    assert rel <= max_rel_deviation, (f"{name}: relative error of the deviations from the batch mean "
                                      f"{rel:.3g} > {max_rel_deviation:.3g}")
