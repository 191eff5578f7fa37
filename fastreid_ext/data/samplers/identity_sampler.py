"""Cross-modality identity sampler (docs/protocols.md#sampling) as an infinite, resumable batch sampler.

Each batch: P distinct identities (without replacement), K visible and K infrared indices per
identity (with replacement, as the reference), ordered ``[vis id1×K … vis idP×K, ir id1×K … ir idP×K]``.
Batch b of rank r is drawn from ``np.random.default_rng([seed, rank, b])`` alone, so
``set_start_iter(i)`` restores the stream in O(1) and ranks get different streams. Every item is an
``(index, sample_seed)`` pair; the dataset seeds that sample's random transforms with it, so the
images do not depend on the number of workers or on resuming.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from torch.utils.data import Sampler

from ...utils import comm
from ...utils.errors import UserError

__all__ = ["CrossModalityIdentitySampler"]


class CrossModalityIdentitySampler(Sampler):
    def __init__(self, labels, modalities, num_ids: int, num_instances: int, seed: int = 0,
                 iters_per_epoch: int = 0, rank: int | None = None, world_size: int | None = None):
        """``labels``: training label per dataset index; ``modalities``: 0 visible / 1 infrared per index.

        ``iters_per_epoch`` 0 → floor(max(#vis, #ir) / (P·K·world)) + 1 (reference formula; each rank
        draws full batches, so the epoch is split over the ranks).
        """
        labels = np.asarray(labels)
        modalities = np.asarray(modalities)
        if labels.shape != modalities.shape:
            raise ValueError(f"labels ({labels.shape}) and modalities ({modalities.shape}) must have the same length.")
        if num_ids < 1 or num_instances < 1:
            raise UserError(f"DATALOADER.IDS_PER_BATCH ({num_ids}) and NUM_INSTANCES ({num_instances}) must be >= 1.")
        pos = {0: defaultdict(list), 1: defaultdict(list)}
        for i, (lab, mod) in enumerate(zip(labels.tolist(), modalities.tolist())):
            if mod not in (0, 1):
                raise ValueError(f"modality of index {i} is {mod}, expected 0 (visible) or 1 (infrared).")
            pos[mod][lab].append(i)
        ids = sorted(set(pos[0]) | set(pos[1]))
        lacking = [(lab, "visible" if not pos[0].get(lab) else "infrared") for lab in ids if not (pos[0].get(lab) and pos[1].get(lab))]
        if lacking:
            raise ValueError(
                f"Cross-modality sampling needs every identity in both modalities; {len(lacking)} lack one "
                f"(label, missing modality): {lacking[:10]}."
            )
        if num_ids > len(ids):
            raise UserError(
                f"DATALOADER.IDS_PER_BATCH (P={num_ids}) exceeds the number of training identities ({len(ids)})."
            )
        self.ids = np.array(ids)
        self.vis = {lab: np.array(v) for lab, v in pos[0].items()}
        self.ir = {lab: np.array(v) for lab, v in pos[1].items()}
        self.P, self.K = int(num_ids), int(num_instances)
        self.seed = int(seed)
        self.rank = comm.get_rank() if rank is None else int(rank)
        self.world_size = comm.get_world_size() if world_size is None else int(world_size)
        n = max(int((modalities == 0).sum()), int((modalities == 1).sum()))
        self.iters_per_epoch = int(iters_per_epoch) or n // (self.P * self.K * self.world_size) + 1
        self.batch_size = 2 * self.P * self.K
        self._start = 0

    def set_start_iter(self, start_iter: int) -> None:
        """The next ``iter()`` starts at batch ``start_iter`` (resume)."""
        self._start = int(start_iter)

    def state_dict(self) -> dict:
        """What fixes the stream besides the batch number (the trainer's iteration): seed, rank, world size."""
        return {"seed": self.seed, "rank": self.rank, "world_size": self.world_size, "P": self.P, "K": self.K}

    def load_state_dict(self, state: dict) -> None:
        """Resume check: a checkpoint of another seed, rank layout or batch shape would draw other batches."""
        mine = self.state_dict()
        differ = {k: (state[k], mine[k]) for k in mine if k in state and state[k] != mine[k]}
        if differ:
            import logging

            logging.getLogger(__name__).warning(
                "Resuming with another sampler than the checkpoint's (checkpoint, now): %s; the batches differ from "
                "an uninterrupted run.", differ)

    def batch(self, b: int) -> list[tuple[int, int]]:
        """Batch number ``b`` of this rank: 2PK ``(index, sample_seed)`` pairs."""
        rng = np.random.default_rng([self.seed, self.rank, b])
        chosen = rng.choice(self.ids, self.P, replace=False)
        vis = np.concatenate([rng.choice(self.vis[lab], self.K, replace=True) for lab in chosen])
        ir = np.concatenate([rng.choice(self.ir[lab], self.K, replace=True) for lab in chosen])
        seeds = rng.integers(0, 2**63 - 1, size=self.batch_size)
        return [(int(i), int(s)) for i, s in zip(np.concatenate([vis, ir]), seeds)]

    def __iter__(self):
        b = self._start
        while True:
            yield self.batch(b)
            b += 1
