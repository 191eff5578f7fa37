"""``prepare_datasets``: the one step that writes data, run explicitly before anything is built.

Reading a dataset never writes. A demo config asks for synthetic data with DATASETS.SYNTHETIC.PRESET;
the command line then calls ``prepare_datasets(cfg)`` once, which generates every dataset of
DATASETS.NAMES/TESTS that is missing under DATASETS.ROOT and leaves existing folders alone.
"""
from __future__ import annotations

import logging
import os

from ..utils import comm
from ..utils.errors import UserError
from .datasets import DATASET_REGISTRY
from .datasets.bases import datasets_root

__all__ = ["prepare_datasets", "SYNTHETIC_GENERATORS"]

logger = logging.getLogger(__name__)

# dataset name -> (generator function name in fastreid_ext.data.synthetic, its per-identity image-count argument)
SYNTHETIC_GENERATORS = {"SYSU_MM01": ("generate_sysu", "images_per_camera"), "RegDB": ("generate_regdb", "images_per_id")}


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
    from . import synthetic

    root = datasets_root(cfg)
    written = []
    for name in dict.fromkeys(list(cfg.DATASETS.NAMES) + list(cfg.DATASETS.TESTS)):
        if name not in SYNTHETIC_GENERATORS:
            raise UserError(
                f"DATASETS.SYNTHETIC.PRESET is '{cfg.DATASETS.SYNTHETIC.PRESET}' but there is no synthetic generator "
                f"for dataset '{name}' (generators: {sorted(SYNTHETIC_GENERATORS)}); set PRESET to \"\"."
            )
        func, images_key = SYNTHETIC_GENERATORS[name]
        folder = os.path.join(root, DATASET_REGISTRY.get(name).dataset_dir)
        if os.path.exists(folder):
            continue
        written.append(folder)
        if comm.get_local_rank() == 0:
            logger.info("%s missing at %s: generating synthetic data (DATASETS.SYNTHETIC).", name, folder)
            getattr(synthetic, func)(folder, **synthetic_options(cfg, images_key))
    comm.synchronize()
    return written
