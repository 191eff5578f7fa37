"""``prepare_datasets``: the one step that writes data, run explicitly before anything is built.

Reading a dataset never writes. A demo config asks for synthetic data with DATASETS.SYNTHETIC.PRESET;
the command line then calls ``prepare_datasets(cfg)`` once, which generates every dataset of
DATASETS.NAMES/TESTS that is missing under DATASETS.ROOT and leaves existing folders alone.

Generation is atomic and locked (``generation.install_generated``): the data are written beside the
target (``<folder>.generating``) under ``<folder>.lock`` and renamed into place once complete, with ``SYNTHETIC.json`` (the generator and its options) inside, so a run
killed while generating leaves no half-written dataset to be read later. A generated folder whose
``SYNTHETIC.json`` disagrees with the options the config asks for is an error, not a silent reuse of
other data (a folder without it is real data, or older, and is left alone).
"""
from __future__ import annotations

import json
import logging
import os

from ..utils import comm
from ..utils.errors import UserError
from .datasets import DATASET_REGISTRY
from .datasets.bases import datasets_root
from .generation import install_generated

__all__ = ["prepare_datasets", "MANIFEST"]

logger = logging.getLogger(__name__)

MANIFEST = "SYNTHETIC.json"  # written into a generated folder: {"generator": ..., "options": {...}}


def synthetic_options(cfg, images_key: str) -> dict:
    """Generator keyword arguments from DATASETS.SYNTHETIC (0 = the preset's value)."""
    s = cfg.DATASETS.SYNTHETIC
    opts = {"seed": int(s.SEED)}
    if s.PRESET != "default":
        opts["preset"] = s.PRESET
    if s.NUM_IDS > 0:
        opts["num_ids"] = int(s.NUM_IDS)
    if s.IMAGES_PER_CAMERA > 0:
        opts[images_key] = int(s.IMAGES_PER_CAMERA)
    return opts


def prepare_datasets(cfg) -> list[str]:
    """Generate the missing synthetic datasets the config asks for; returns the folders written.

    Every process must call it: the first process of each machine writes, the others wait.
    """
    if not cfg.DATASETS.SYNTHETIC.PRESET:
        return []
    from .synthetic import SYNTHETIC_REGISTRY  # the registered generators (built-in and plugins')

    root = datasets_root(cfg)
    written = []
    for name in dict.fromkeys(list(cfg.DATASETS.NAMES) + list(cfg.DATASETS.TESTS)):
        DATASET_REGISTRY.get(name)  # an unknown dataset says so first (and points at IMPORTS)
        if name not in SYNTHETIC_REGISTRY.names():
            raise UserError(
                f"DATASETS.SYNTHETIC.PRESET is '{cfg.DATASETS.SYNTHETIC.PRESET}' but there is no synthetic generator "
                f"for dataset '{name}' (generators: {SYNTHETIC_REGISTRY.names()}); set PRESET to \"\"."
            )
        gen = SYNTHETIC_REGISTRY.get(name)
        func, images_key = gen.name, gen.images_key
        folder = os.path.join(root, DATASET_REGISTRY.get(name).dataset_dir)
        wanted = {"generator": func, "options": synthetic_options(cfg, images_key)}
        if os.path.exists(folder):
            _check_manifest(folder, wanted)
            continue
        if comm.get_local_rank() != 0:
            written.append(folder)
        elif _generate_atomically(folder, wanted, gen.generate,
                                  f"{name} missing at {folder}: generating synthetic data (DATASETS.SYNTHETIC)."):
            written.append(folder)
    comm.synchronize()
    return written


def _generate_atomically(folder: str, manifest: dict, generate, note: str) -> bool:
    """Under the folder's generation lock (see ``generation.install_generated``); False when another
    process generated it meanwhile (its manifest is then checked like any existing folder's)."""
    return install_generated(folder, manifest, generate, note=note,
                             check_existing=lambda f: _check_manifest(f, manifest))


def _check_manifest(folder: str, wanted: dict) -> None:
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return
    with open(path) as f:
        stored = json.load(f)
    if stored != wanted:
        raise UserError(
            f"{folder} holds synthetic data generated with {stored['options']} ({path}), but DATASETS.SYNTHETIC asks "
            f"for {wanted['options']}: delete the folder to regenerate it, or point DATASETS.ROOT elsewhere."
        )
