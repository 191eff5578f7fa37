"""``build_train_loader`` / ``build_test_loader``: datasets from the registry → CommDataset →
sampler → DataLoader. Nothing is moved to a device here; memory is pinned only for a GPU run."""
from __future__ import annotations

import logging
import random

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader

from ..utils.device import resolve_device
from ..utils.errors import UserError
from .common import CommDataset, collate_batch
from .datasets import get_dataset
from .image_check import check_images
from .samplers import CrossModalityIdentitySampler, InferenceSampler
from .transforms import build_transforms

__all__ = ["build_train_loader", "build_test_loader", "worker_init_fn"]

logger = logging.getLogger(__name__)


def worker_init_fn(worker_id: int) -> None:
    """Seed numpy and ``random`` from torch's per-worker seed (torch is already seeded by the
    DataLoader); sample transforms are seeded per sample anyway."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _loader_kwargs(cfg, shuffle_seed: int) -> dict:
    workers = int(cfg.DATALOADER.NUM_WORKERS)
    g = torch.Generator()
    g.manual_seed(shuffle_seed)
    return {
        "num_workers": workers,
        "pin_memory": resolve_device(cfg.MODEL.DEVICE).type == "cuda",
        "worker_init_fn": worker_init_fn if workers > 0 else None,
        "collate_fn": collate_batch,
        "generator": g,
    }


def _transforms(cfg, is_train: bool) -> dict:
    return {m: build_transforms(cfg, is_train, m) for m in ("visible", "infrared")}


def build_train_loader(cfg, datasets=None) -> DataLoader:
    """Training loader over the ``train`` splits of ``DATASETS.NAMES`` (labels contiguous over all);
    ``datasets``: the run's :class:`~.datasets.DatasetCache` (read once), if any."""
    names = list(cfg.DATASETS.NAMES)
    if not names:
        raise ValueError("DATASETS.NAMES is empty: name at least one registered training dataset.")
    records, keys, attr_names = [], [], None
    for i, name in enumerate(names):
        ds = get_dataset(cfg, name, datasets)
        if attr_names is not None and list(ds.attribute_names) != attr_names:
            raise ValueError(
                f"DATASETS.NAMES: {name} has attributes {ds.attribute_names}, {names[0]} has {attr_names}; "
                "training datasets must share one attribute list."
            )
        attr_names = list(ds.attribute_names)
        records += ds.train
        keys += [(i, r.pid) for r in ds.train]
    label_of = {k: j for j, k in enumerate(sorted(set(keys)))}
    # every training image looked at now, not when the sampler first draws it (one line, or skipped)
    skipped = set(check_images(cfg, [r.img_path for r in records], "training"))
    if skipped:
        keys = [k for k, r in zip(keys, records) if r.img_path not in skipped]
        records = [r for r in records if r.img_path not in skipped]
    dataset = CommDataset(records, _transforms(cfg, True), labels=[label_of[k] for k in keys], attribute_names=attr_names)
    dataset.skipped = sorted(skipped)
    if dataset.skipped:
        _check_both_modalities(dataset, {j: (names[i], pid) for (i, pid), j in label_of.items()})
    sampler = CrossModalityIdentitySampler(
        dataset.labels, [r.modality_index for r in dataset.records], cfg.DATALOADER.IDS_PER_BATCH,
        cfg.DATALOADER.NUM_INSTANCES, seed=max(int(cfg.SEED), 0), iters_per_epoch=cfg.DATALOADER.ITERS_PER_EPOCH,
    )
    kwargs = _loader_kwargs(cfg, max(int(cfg.SEED), 0))
    kwargs["persistent_workers"] = bool(cfg.DATALOADER.PERSISTENT_WORKERS) and kwargs["num_workers"] > 0
    prefetch = int(cfg.DATALOADER.PREFETCH_FACTOR)
    if prefetch < 0:
        raise UserError(f"DATALOADER.PREFETCH_FACTOR is {prefetch}; expected 0 (torch's default) or a positive count.")
    if prefetch and kwargs["num_workers"] > 0:
        kwargs["prefetch_factor"] = prefetch
    logger.info(
        "Train loader: %d images, %d classes, P=%d K=%d (batch %d), %d iterations per epoch, %d workers.",
        len(dataset), dataset.num_classes, sampler.P, sampler.K, sampler.batch_size, sampler.iters_per_epoch,
        kwargs["num_workers"],
    )
    return DataLoader(dataset, batch_sampler=sampler, **kwargs)


def _check_both_modalities(dataset, key_of: dict) -> None:
    """After INPUT.SKIP_UNREADABLE: every training identity must keep both modalities (named by its
    dataset and person id, not the internal label)."""
    seen: dict[int, set] = {}
    for rec, label in zip(dataset.records, dataset.labels):
        seen.setdefault(label, set()).add(rec.modality)
    for label, mods in sorted(seen.items()):
        if len(mods) < 2:
            name, pid = key_of[label]
            missing = "infrared" if "visible" in mods else "visible"
            raise UserError(
                f"{name}: person id {pid} has no readable {missing} image left after INPUT.SKIP_UNREADABLE skipped "
                f"{len(dataset.skipped)} files (first: {dataset.skipped[0]}); cross-modality training needs both "
                "modalities of every identity: replace the unreadable files or remove the id from the training split."
            )


def build_test_loader(cfg, records, attribute_names=()) -> DataLoader:
    """Ordered loader over ``records`` (batches of ``TEST.IMS_PER_BATCH``; ``targets`` = dataset pids).

    With INPUT.SKIP_UNREADABLE unreadable files are dropped, so read pids/camids/paths from the batches.
    """
    dataset = CommDataset(records, _transforms(cfg, False), attribute_names=attribute_names,
                          skip_unreadable=cfg.INPUT.SKIP_UNREADABLE)
    batch_sampler = BatchSampler(InferenceSampler(len(dataset)), int(cfg.TEST.IMS_PER_BATCH), drop_last=False)
    return DataLoader(dataset, batch_sampler=batch_sampler, **_loader_kwargs(cfg, 0))
