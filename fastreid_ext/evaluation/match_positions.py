"""The positions of every query's true matches in its ranking (and the rank of its identity), for a
block of query rows, by value bucketing: a few cheap passes per distance, no sort of the gallery and
no binary search per distance (the ``searchsorted`` kernel the tests keep as a reference).

The metrics need, for each true match k of a query (sorted by distance, ties by gallery index), its
1-based position: the number of kept gallery items ranked at or before it. Each row's distances are
mapped to B uniform buckets between its first and last match distance by a *monotone* float map
(subtract, multiply, clamp: each step is correctly rounded, so x <= y implies bucket(x) <=
bucket(y), whatever the rounding). So every item in a lower bucket than match k ranks before it and
every item in a higher bucket after it; one histogram per row (a single ``bincount`` over
``row * (B+2) + bucket``) plus its cumulative sum counts them. Only the items sharing a bucket with
some match ("candidates", a few per match) are compared exactly with those matches, with the stable
tie rule (equal distance: smaller original gallery index first). The result is exact.

The de-duplicated (author) CMC needs the rank of the query identity among distinct gallery
identities: an identity counts when one of its items ranks before the first match. Every such item
shares the first match's bucket (bucket 0: the map clamps everything below the first match there),
so it is a candidate already compared exactly; the identities of the candidates ranked before every
match are counted once per row. No per-identity pass over the block is needed, so blocks stay in
gallery order (regrouping the gallery by identity, a copy of the whole gallery, is optional).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..utils.threads import ThreadProbe

__all__ = ["GalleryLayout", "Workspace", "ChunkStats", "bucket_chunk_stats", "stats_from_positions", "default_buckets",
           "COMPACT_LIMIT"]


@dataclass
class GalleryLayout:
    """Gallery identities and the removal rule, and the column order of the distance blocks: the
    gallery's own order by default, or regrouped by identity (``regroup=True``; the searchsorted
    reference kernel of the tests needs each identity's columns contiguous)."""

    perm: torch.Tensor  # block column j is original column perm[j] (arange unless regrouped)
    pid_index: torch.Tensor  # identity index of each ORIGINAL column (0..U-1)
    starts: torch.Tensor  # first entry of each identity in ``members``
    counts: torch.Tensor  # columns per identity
    removed: torch.Tensor | None  # ORIGINAL columns ignored by restricted queries (None: no rule)
    unique_pids: np.ndarray
    # camera of each ORIGINAL column when a query's matches in its own camera are removed (None: no such rule)
    match_cams: torch.Tensor | None = None
    # BLOCK columns grouped by identity (ascending gallery index within one): identity u owns
    # members[starts[u] : starts[u] + counts[u]]
    members: torch.Tensor | None = None
    gallery_order: bool = True  # perm is the identity: a source may serve its columns as they are

    @classmethod
    def build(cls, g_pids, removed=None, device: torch.device | str = "cpu", match_cams=None,
              regroup: bool = False) -> GalleryLayout:
        g_pids = np.asarray(g_pids).reshape(-1)
        uniq, inv = np.unique(g_pids, return_inverse=True)
        inv = torch.as_tensor(inv.reshape(-1), dtype=torch.long, device=device)
        grouped = torch.sort(inv, stable=True).indices
        ident = torch.arange(inv.numel(), device=device)
        perm, members = (grouped, ident) if regroup else (ident, grouped)
        counts = torch.bincount(inv, minlength=len(uniq))
        starts = torch.cumsum(counts, 0) - counts
        if removed is not None:
            removed = torch.as_tensor(np.asarray(removed, dtype=bool), device=device)
            removed = removed if bool(removed.any()) else None
        if match_cams is not None:
            match_cams = torch.as_tensor(np.asarray(match_cams, dtype=np.int64).reshape(-1), device=device)
        return cls(perm, inv, starts, counts, removed, uniq, match_cams, members, not regroup)

    @property
    def num_gallery(self) -> int:
        return int(self.perm.numel())

    def query_index(self, q_pids) -> torch.Tensor:
        """Identity index of each query pid, -1 when the identity is absent from the gallery."""
        q = np.asarray(q_pids).reshape(-1)
        pos = np.clip(np.searchsorted(self.unique_pids, q), 0, max(len(self.unique_pids) - 1, 0))
        found = (self.unique_pids[pos] == q) if len(self.unique_pids) else np.zeros(len(q), bool)
        return torch.as_tensor(np.where(found, pos, -1), dtype=torch.long, device=self.perm.device)


class Workspace:
    """Work buffers of one metric computation, reused across its query chunks (and across the trials
    of one protocol run when the run passes one): a fresh block-sized allocation costs page faults
    comparable to the metrics themselves."""

    def __init__(self) -> None:
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._probes: dict[int, ThreadProbe] = {}
        self._children: list[Workspace] = []

    def children(self, n: int) -> list[Workspace]:
        """``n`` workspaces of their own for row workers (one per worker thread), kept across this
        workspace's calls like its buffers."""
        while len(self._children) < n:
            self._children.append(Workspace())
        return self._children[:n]

    def thread_probe(self, setting: int) -> ThreadProbe:
        """The kernel's thread choice for this workspace's run (TEST.RANKING.KERNEL_THREADS)."""
        if setting not in self._probes:
            self._probes[setting] = ThreadProbe(setting)
        return self._probes[setting]

    def buffer(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = (name, dtype, torch.device(device))
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < numel:
            buf = self._buffers[key] = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel]


@dataclass
class ChunkStats:
    """Per query of a chunk: number of kept true matches (0 = invalid query), AP, INP, 1-based
    position of the first match, and 1-based rank of the query id among distinct gallery ids."""

    num_matches: torch.Tensor
    ap: torch.Tensor
    inp: torch.Tensor
    first_pos: torch.Tensor
    id_rank: torch.Tensor | None

    @classmethod
    def concat(cls, parts: list[ChunkStats]) -> ChunkStats:
        """Per-query stats of consecutive row pieces of one block, joined back."""
        cat = lambda name: None if getattr(parts[0], name) is None else torch.cat([getattr(p, name) for p in parts])  # noqa: E731
        return cls(cat("num_matches"), cat("ap"), cat("inp"), cat("first_pos"), cat("id_rank"))


def stats_from_positions(pos: torch.Tensor, num_matches: torch.Tensor, first_pos, id_rank) -> ChunkStats:
    """AP and INP from the (c, Rmax) 1-based positions of the sorted matches (entries >= num_matches unused)."""
    r = num_matches
    k = torch.arange(1, pos.shape[1] + 1, device=pos.device, dtype=torch.float64)
    used = k.unsqueeze(0) <= r.unsqueeze(1)
    zero = torch.zeros((), dtype=torch.float64, device=pos.device)
    prec = torch.where(used, k.unsqueeze(0) / pos.clamp(min=1).double(), zero)
    ap = prec.sum(1) / r.clamp(min=1).double()
    last = pos.gather(1, (r - 1).clamp(min=0).unsqueeze(1)).squeeze(1).clamp(min=1).double()
    return ChunkStats(r, ap, r.double() / last, first_pos, id_rank)


def default_buckets(num_gallery: int) -> int:
    """About four items per bucket: few candidates, a histogram a quarter of the block."""
    return int(min(max(num_gallery // 4, 16), 4094))


def _bucket_scale(md: torch.Tensor, r: torch.Tensor, buckets: int):
    """Per-row offset and scale mapping [first match, last match] onto buckets [0, B-1]."""
    has = r > 0
    lo = torch.where(has, md[:, 0], torch.zeros((), dtype=md.dtype, device=md.device))
    hi = torch.where(has, md.gather(1, (r - 1).clamp(min=0).unsqueeze(1)).squeeze(1), lo)
    span = hi - lo
    s = (buckets - 0.5) / span
    fallback = 1.0 / (lo.abs() * 2.0**-20 + 1e-30)  # all matches at one distance: a narrow bucket 0
    s = torch.where(span > 0, s, fallback)
    s = torch.where(torch.isfinite(s) & (s > 0), s, torch.ones_like(s)).clamp_(max=1e30)  # finite in float32
    return lo.unsqueeze(1), s.unsqueeze(1)


def _identity_rank(rows, o, bins, x, q_index, layout, c: int) -> torch.Tensor:
    """1 + number of other identities with an item ranked before the first match. Those items are
    the candidates (rows ``rows``, original columns ``o``, distances ``x``) with no match ranked
    before them (``bins == 0``); NaN distances never count (they rank last, as in a sort)."""
    before = (bins == 0) & (x == x)
    r, pid = rows[before], layout.pid_index[o[before]]
    other = pid != q_index[r]
    u = layout.counts.numel()
    seen = torch.zeros(c * u, dtype=torch.bool, device=rows.device)
    seen[r[other] * u + pid[other]] = True
    return seen.view(c, u).sum(1) + 1


# float32 with an integer in [2^23, 2^24) has ulp 1: its bit pattern minus that of 2^23 is the integer
_BIAS = 2.0**23
_BIAS_BITS = 0x4B000000


def _bucket_ids(d: torch.Tensor, lo: torch.Tensor, s: torch.Tensor, nb: int, workspace: Workspace) -> torch.Tensor:
    """int32 ``row * nb + bucket`` of every item, bucket = monotone map of the distance into
    [0, nb-1] (NaN last). Done in place in a workspace buffer (reused across chunks: a fresh
    block-sized allocation costs about as much as the whole bucketing): clamp, then adding ``2^23 + row * nb``
    rounds to an integer, read back from the float's bits (no float→int conversion pass). Any
    monotone map works (the kernel's result is exact whatever the buckets): the first match's bucket
    must be 0, which d * s - lo * s gives at d = lo (exactly 0, or within rounding of 0 when fused)."""
    c, ng = d.shape
    if c * nb >= 2**23:
        raise ValueError(f"{c} rows x {nb} buckets exceed 2^23; use smaller query chunks.")
    v = workspace.buffer("bucket_ids", c * ng, torch.float32, d.device).view(c, ng)
    if d.dtype == torch.float32:  # (d - lo) * s as d * s - lo * s in one pass: still monotone, 0 at lo
        s32 = s.to(torch.float32)
        torch.addcmul(lo.to(torch.float32).mul(s32).neg_(), d, s32, out=v)
    else:
        v.copy_((d - lo) * s)
    top = float(nb - 1)
    v.nan_to_num_(nan=top, posinf=top, neginf=0.0).clamp_(0.0, top)
    v.add_(_BIAS + torch.arange(c, device=d.device, dtype=torch.float32).unsqueeze(1) * nb)
    return v.view(torch.int32).sub_(_BIAS_BITS)


def _count(ids: torch.Tensor, size: int, name: str, workspace: Workspace) -> torch.Tensor:
    """int32 histogram of ``ids`` (integers in [0, size)) in a workspace buffer: ``index_add_`` of a
    broadcast one, about 1.6x faster than ``bincount`` on CPU (which scans for the min and max first
    and returns int64)."""
    out = workspace.buffer(name, size, torch.int32, ids.device).zero_()
    return out.index_add_(0, ids, torch.ones((), dtype=torch.int32, device=ids.device).expand(ids.numel()))


def _at(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[idx]`` for a 1-D ``x`` and integer ``idx``, by ``index_select``: several times faster on
    CPU than advanced indexing, which dominated the kernel's candidate passes."""
    return x.index_select(0, idx)


# share of a block at or before its rows' last matches up to which only those items are bucketed:
# compacting costs a comparison, a nonzero and gathers, which a share above about a tenth outweighs
COMPACT_LIMIT = 0.1
_SAMPLE_ROWS = 8  # every 8th row estimates the share first (contiguous rows: an eighth of the traffic)


def _kept(d: torch.Tensor, hi: torch.Tensor, limit: float, workspace: Workspace) -> torch.Tensor | None:
    """Flat indices of the items ranked at or before their row's last match (``d <= hi``: NaN, +inf
    and removed items never), or None when they exceed ``limit`` of the block (estimated on every
    8th row first, then counted). The others rank after every match of their row: they change no
    position and no identity rank."""
    if limit <= 0:
        return None
    if limit < 1 and d.shape[0] >= 4 * _SAMPLE_ROWS:
        sample = d[::_SAMPLE_ROWS]
        if int(torch.count_nonzero(sample <= hi[::_SAMPLE_ROWS])) > 1.5 * limit * sample.numel():
            return None
    keep = workspace.buffer("kept", d.numel(), torch.bool, d.device).view(d.shape)
    torch.le(d, hi, out=keep)
    if int(torch.count_nonzero(keep)) > limit * d.numel():
        return None
    return keep.view(-1).nonzero().squeeze(1)


def _all_items(d, md, mcols, r, used, nb: int, workspace: Workspace):
    """Bucket every item of the block (:func:`_bucket_ids`: in place, float bits, int32 ids)."""
    c, ng = d.shape
    lo, s = _bucket_scale(md, r, nb - 2)
    b = _bucket_ids(d, lo, s, nb, workspace)
    b_flat = b.view(-1)
    bt = b.gather(1, mcols)  # bucket of each match: the same map, so the order relation holds
    bt_u = bt[used]  # ascending: rows in order, and within a row the matches by distance
    thr_count = _count(bt_u, c * nb, "thr_count", workspace)
    is_thr = thr_count > 0
    hist = _count(b_flat, c * nb, "hist", workspace).masked_fill_(is_thr, 0)
    flat = is_thr.index_select(0, b_flat).nonzero().squeeze(1)
    rows = flat // ng
    return nb, bt, bt_u, thr_count, hist, rows, _at(d.reshape(-1), flat), flat - rows * ng, _at(b_flat, flat).long()


def _kept_items(d, flat, md, r, used, buckets: int, workspace: Workspace):
    """Bucket only the kept items ``flat`` (about four per bucket per row). Matches and items go
    through the same separate subtract, multiply, floor and clamp (no fused step whose rounding
    could differ between the two), so equal distances share a bucket and the map is monotone."""
    c, ng = d.shape
    nb = buckets or default_buckets(max(flat.numel() // max(c, 1), 1))
    lo, s = _bucket_scale(md, r, nb)

    def bucket(v, lo, s):
        return v.sub(lo).mul_(s).floor_().clamp_(0, nb - 1).long()

    rows = flat // ng
    x = _at(d.reshape(-1), flat)
    offset = torch.arange(c, device=d.device).unsqueeze(1) * nb
    bt = bucket(md, lo, s).add_(offset)  # unused entries (md = inf) land in the last bucket; never read
    bt_u = bt[used]
    bk = bucket(x, _at(lo.squeeze(1), rows), _at(s.squeeze(1), rows)).add_(rows * nb)
    thr_count = _count(bt_u, c * nb, "thr_count", workspace)
    is_thr = thr_count > 0
    hist = _count(bk, c * nb, "hist", workspace).masked_fill_(is_thr, 0)
    cand = _at(is_thr, bk).nonzero().squeeze(1)
    rows_c, flat_c = _at(rows, cand), _at(flat, cand)
    return nb, bt, bt_u, thr_count, hist, rows_c, _at(x, cand), flat_c - rows_c * ng, _at(bk, cand)


def bucket_chunk_stats(
    d: torch.Tensor,
    q_index: torch.Tensor,
    q_restricted: torch.Tensor | None,
    layout: GalleryLayout,
    with_id_rank: bool,
    buckets: int = 0,
    workspace: Workspace | None = None,
    q_cams: torch.Tensor | None = None,
    compact_limit: float = COMPACT_LIMIT,
) -> ChunkStats:
    """Stats for a (c, ng) distance block in the layout's column order (exact, stable ties).
    ``d`` is overwritten (removed items set to +inf): pass a block the caller owns. ``q_cams``
    (with ``layout.match_cams``): a query's true matches in its own camera are removed.
    ``compact_limit``: when at most this share of the block ranks at or before its row's last match
    (a trained model: most of the gallery ranks after it), only those items are bucketed
    (:func:`_kept_items`); else every item is (:func:`_all_items`). Same result either way."""
    workspace = workspace if workspace is not None else Workspace()
    c, ng = d.shape
    nb = (buckets or default_buckets(ng)) + 2
    step = (2**23 - 1) // nb  # row * nb + bucket must stay below 2^23 (see _bucket_ids)
    if c > step:
        parts = [
            bucket_chunk_stats(d[i : i + step], q_index[i : i + step], None if q_restricted is None else q_restricted[i : i + step],
                               layout, with_id_rank, buckets, workspace, None if q_cams is None else q_cams[i : i + step],
                               compact_limit)
            for i in range(0, c, step)
        ]
        return ChunkStats.concat(parts)
    dev = d.device
    inf = float("inf")
    has = q_index >= 0
    qi = q_index.clamp(min=0)
    n = torch.where(has, layout.counts[qi], torch.zeros_like(q_index))
    rmax = max(int(n.max()) if c else 0, 1)
    ar = torch.arange(rmax, device=dev)
    cols = layout.members[(layout.starts[qi].unsqueeze(1) + ar).clamp(max=ng - 1)]  # block columns
    mvalid = ar.unsqueeze(0) < n.unsqueeze(1)
    if layout.removed is not None and q_restricted is not None and bool(q_restricted.any()):
        removed_rg = layout.removed[layout.perm]
        mvalid &= ~(q_restricted.unsqueeze(1) & removed_rg[cols])
        d[q_restricted.nonzero(), removed_rg.nonzero().squeeze(1).unsqueeze(0)] = inf  # ranked after every match
    if layout.match_cams is not None and q_cams is not None:
        drop = mvalid & (layout.match_cams[layout.perm][cols] == q_cams.unsqueeze(1))
        if bool(drop.any()):
            mvalid &= ~drop
            r_idx, j_idx = drop.nonzero(as_tuple=True)
            d[r_idx, cols[r_idx, j_idx]] = inf  # only the query's own identity: other ids keep their places
    md = d.gather(1, cols).masked_fill_(~mvalid, inf)
    if not bool(torch.isfinite(md[mvalid]).all()):
        raise ValueError("Distances must be finite (a true match has a NaN or infinite distance).")
    md, order = torch.sort(md, dim=1, stable=True)  # members are in gallery index order: stable ties
    mcols = cols.gather(1, order)
    midx = mcols if layout.gallery_order else layout.perm[mcols]
    r = mvalid.sum(1)
    used = ar.unsqueeze(0) < r.unsqueeze(1)  # the valid matches come first after the sort
    hi = md.gather(1, (r - 1).clamp(min=0).unsqueeze(1)).masked_fill_((r == 0).unsqueeze(1), -inf)  # last match
    flat = _kept(d, hi, compact_limit, workspace)
    if flat is None:
        nb, bt, bt_u, thr_count, hist, rows, x, o, bx = _all_items(d, md, mcols, r, used, nb, workspace)
    else:
        nb, bt, bt_u, thr_count, hist, rows, x, o, bx = _kept_items(d, flat, md, r, used, buckets, workspace)
    o = o if layout.gallery_order else _at(layout.perm, o)  # block columns -> original ones
    # items outside match buckets in lower buckets of the same row: one flat prefix sum (a per-row
    # cumsum along dim 1 is several times slower on CPU), less the row's value at its first bucket
    below = hist.cumsum(0).sub_(hist).view(c, nb)
    below -= below[:, :1].clone()
    # candidates (rows, x, o, bx): items in a bucket holding a match; bins = matches ranked before the item
    first = torch.searchsorted(bt_u, bx.to(bt_u.dtype))  # index of the bucket's first match in md[used]
    mult = _at(thr_count, bx)
    bins = first - _at(r.cumsum(0) - r, rows)
    md_u, midx_u = md[used], midx[used]
    active = torch.arange(rows.numel(), device=dev)
    m = 0
    while active.numel():
        k = _at(first, active) + m
        mv, mi, xa = _at(md_u, k), _at(midx_u, k), _at(x, active)
        bins.index_add_(0, active, ((mv < xa) | ((mv == xa) & (mi < _at(o, active)))).to(bins.dtype))
        m += 1
        active = active[_at(mult, active) > m]
    cand = torch.bincount(rows * (rmax + 1) + bins, minlength=c * (rmax + 1)).view(c, rmax + 1)
    pos = below.gather(1, (bt - torch.arange(c, device=dev, dtype=bt.dtype).unsqueeze(1) * nb).long())
    pos += cand.cumsum(1)[:, :rmax]
    id_rank = _identity_rank(rows, o, bins, x, q_index, layout, c) if with_id_rank else None
    return stats_from_positions(pos, r, pos[:, 0], id_rank)
