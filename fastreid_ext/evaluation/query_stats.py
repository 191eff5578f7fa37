"""Per-query retrieval statistics for a chunk of queries, fully vectorised (no per-query loop).

What the metrics need from a ranking is small: the 1-based positions of the true matches (AP, INP,
standard CMC) and the rank of the query identity among the distinct gallery identities (the
"author" CMC of SYSU papers). Two exact ways to get them:

* **fast path** (distance blocks): sort only each query's true-match distances, then
  ``searchsorted`` every gallery distance into them and count per bin; the cumulative counts are the
  match positions. It needs no full sort of the gallery, which is what makes large galleries cheap.
  Items whose distance equals a match distance (ties, common in float32 with 10^5 gallery items) are
  detected and moved to their place in the stable order (ties broken by gallery index, the ranking
  order of this package, documented in docs/architecture.md).
* **sort path**: metrics from full rankings (e.g. from FAISS).

The gallery columns of the fast path are regrouped by identity (:class:`GalleryLayout`), so a
query's true matches are one contiguous slice and distinct identities are contiguous segments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["GalleryLayout", "ChunkStats", "fast_chunk_stats", "sorted_chunk_stats"]


@dataclass
class GalleryLayout:
    """Gallery identities and the removal rule, in original and identity-regrouped column order."""

    perm: torch.Tensor  # regrouped column j is original column perm[j]
    pid_index: torch.Tensor  # identity index of each ORIGINAL column (0..U-1)
    starts: torch.Tensor  # first regrouped column of each identity
    counts: torch.Tensor  # columns per identity
    removed: torch.Tensor | None  # ORIGINAL columns ignored by restricted queries (None: no rule)
    unique_pids: np.ndarray

    @classmethod
    def build(cls, g_pids, removed=None, device: torch.device | str = "cpu") -> "GalleryLayout":
        g_pids = np.asarray(g_pids).reshape(-1)
        uniq, inv = np.unique(g_pids, return_inverse=True)
        inv = torch.as_tensor(inv.reshape(-1), dtype=torch.long, device=device)
        perm = torch.sort(inv, stable=True).indices
        counts = torch.bincount(inv, minlength=len(uniq))
        starts = torch.cumsum(counts, 0) - counts
        if removed is not None:
            removed = torch.as_tensor(np.asarray(removed, dtype=bool), device=device)
            removed = removed if bool(removed.any()) else None
        return cls(perm, inv, starts, counts, removed, uniq)

    @property
    def num_gallery(self) -> int:
        return int(self.perm.numel())

    def query_index(self, q_pids) -> torch.Tensor:
        """Identity index of each query pid, -1 when the identity is absent from the gallery."""
        q = np.asarray(q_pids).reshape(-1)
        pos = np.clip(np.searchsorted(self.unique_pids, q), 0, max(len(self.unique_pids) - 1, 0))
        found = (self.unique_pids[pos] == q) if len(self.unique_pids) else np.zeros(len(q), bool)
        return torch.as_tensor(np.where(found, pos, -1), dtype=torch.long, device=self.perm.device)


@dataclass
class ChunkStats:
    """Per query of a chunk: number of kept true matches (0 = invalid query), AP, INP, 1-based
    position of the first match, and 1-based rank of the query id among distinct gallery ids."""

    num_matches: torch.Tensor
    ap: torch.Tensor
    inp: torch.Tensor
    first_pos: torch.Tensor
    id_rank: torch.Tensor | None


def _from_positions(pos: torch.Tensor, num_matches: torch.Tensor, first_pos, id_rank) -> ChunkStats:
    """AP and INP from the (c, Rmax) positions of the sorted matches (entries >= num_matches unused)."""
    r = num_matches
    k = torch.arange(1, pos.shape[1] + 1, device=pos.device, dtype=torch.float64)
    used = k.unsqueeze(0) <= r.unsqueeze(1)
    prec = torch.where(used, k.unsqueeze(0) / pos.clamp(min=1).double(), torch.zeros((), dtype=torch.float64, device=pos.device))
    denom = r.clamp(min=1).double()
    ap = prec.sum(1) / denom
    last = pos.gather(1, (r - 1).clamp(min=0).unsqueeze(1)).squeeze(1).clamp(min=1).double()
    inp = r.double() / last
    return ChunkStats(r, ap, inp, first_pos, id_rank)


def _tie_corrections(bins, d, hit, tie_rows, md, midx, perm, max_pairs: int = 1 << 22) -> None:
    """Exact stable order for rows with ties: an item whose distance equals some true-match
    distances goes after those of them with a smaller original gallery index (in place on bins)."""
    rows = tie_rows.nonzero().squeeze(1)
    rr, cc = hit[rows].nonzero(as_tuple=True)
    rr = rows[rr]
    step = max(1, max_pairs // max(1, md.shape[1]))
    for i in range(0, rr.numel(), step):
        r, c = rr[i : i + step], cc[i : i + step]
        v, o = d[r, c], perm[c]
        corr = ((md[r] == v.unsqueeze(1)) & (midx[r] < o.unsqueeze(1))).sum(1)
        bins[r, c] += corr.to(bins.dtype)


def fast_chunk_stats(
    d: torch.Tensor, q_index: torch.Tensor, q_restricted: torch.Tensor | None, layout: GalleryLayout, with_id_rank: bool
) -> ChunkStats:
    """Stats for a (c, ng) distance block in REGROUPED column order (exact, stable ties)."""
    c, ng = d.shape
    dev = d.device
    has = q_index >= 0
    n = torch.where(has, layout.counts[q_index.clamp(min=0)], torch.zeros_like(q_index))
    rmax = max(int(n.max()) if c else 0, 1)
    ar = torch.arange(rmax, device=dev)
    cols = (layout.starts[q_index.clamp(min=0)].unsqueeze(1) + ar).clamp(max=ng - 1)
    mvalid = ar.unsqueeze(0) < n.unsqueeze(1)
    removed = None  # (restricted rows, removed regrouped columns): only that sub-block is touched
    if layout.removed is not None and q_restricted is not None and bool(q_restricted.any()):
        removed_rg = layout.removed[layout.perm]
        mvalid &= ~(q_restricted.unsqueeze(1) & removed_rg[cols])
        removed = (q_restricted.nonzero().squeeze(1).unsqueeze(1), removed_rg.nonzero().squeeze(1).unsqueeze(0))
    md = d.gather(1, cols).masked_fill_(~mvalid, float("inf"))
    if not bool(torch.isfinite(md[mvalid]).all()):
        raise ValueError("Distances must be finite (a true match has a NaN or infinite distance).")
    md, order = torch.sort(md, dim=1, stable=True)  # within an identity, columns are in index order
    midx = layout.perm[cols].gather(1, order)
    r = mvalid.sum(1)
    # bins[i] = number of true matches ranked before item i; the true matches' own bins are their
    # indices in ``md``. Removed items go to the last bin, which no position counts.
    bins = torch.searchsorted(md, d)
    hit = torch.cat([md, md.new_full((c, 1), float("inf"))], 1).gather(1, bins) == d
    if removed is not None:
        bins[removed] = rmax
        hit[removed] = False
    # a row is tie-free when the only equalities are the matches themselves, all distinct
    tie_rows = (hit.sum(1) != r) & (r > 0)
    if rmax > 1:
        tie_rows |= ((md[:, 1:] == md[:, :-1]) & (ar[1:].unsqueeze(0) < r.unsqueeze(1))).any(1)  # sorted: valid first
    if bool(tie_rows.any()):
        _tie_corrections(bins, d, hit, tie_rows, md, midx, layout.perm)
    id_rank = None
    if with_id_rank:
        # bin 0: the items ranked before the first match, and that match (its own id counts once)
        before = (bins == 0).cumsum(1, dtype=torch.int32 if ng < 2**31 else torch.int64)
        ends = layout.starts + layout.counts - 1
        seg = before[:, ends] - torch.where(layout.starts > 0, before[:, (layout.starts - 1).clamp(min=0)], 0)
        id_rank = (seg > 0).sum(1)
    offs = torch.arange(c, device=dev).unsqueeze(1) * (rmax + 1)
    counts = torch.bincount(bins.add_(offs).view(-1), minlength=c * (rmax + 1)).view(c, rmax + 1)
    pos = torch.cumsum(counts[:, :rmax], 1)
    return _from_positions(pos, r, pos[:, 0], id_rank)


def sorted_chunk_stats(
    order: torch.Tensor,
    q_index: torch.Tensor,
    q_restricted: torch.Tensor | None,
    layout: GalleryLayout,
    with_id_rank: bool,
) -> ChunkStats:
    """Stats from full rankings ``order`` (c, ng) of ORIGINAL gallery indices, best first."""
    c = order.shape[0]
    dev = order.device
    pid_s = layout.pid_index[order]
    valid = torch.ones_like(order, dtype=torch.bool)
    if layout.removed is not None and q_restricted is not None:
        valid = ~(q_restricted.unsqueeze(1) & layout.removed[order])
    match = (pid_s == q_index.unsqueeze(1)) & valid
    pos = torch.cumsum(valid, 1)
    r = match.sum(1)
    big = torch.iinfo(torch.long).max
    first_pos = torch.where(match, pos, big).min(1).values
    rmax = max(int(r.max()) if c else 0, 1)
    # positions of the matches, in ranking order, padded with 0
    key = torch.where(match, pos, big)
    mpos = torch.sort(key, dim=1).values[:, :rmax]
    mpos = torch.where(mpos == big, torch.zeros_like(mpos), mpos)
    id_rank = None
    if with_id_rank:
        before = valid & (pos < first_pos.unsqueeze(1))
        seen = torch.zeros(c, len(layout.unique_pids), dtype=torch.int32, device=dev)
        seen.scatter_add_(1, pid_s, before.int())
        id_rank = (seen > 0).sum(1) + 1
    return _from_positions(mpos, r, torch.where(r > 0, first_pos, torch.zeros_like(first_pos)), id_rank)
