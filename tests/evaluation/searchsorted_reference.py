"""The searchsorted kernel: the evaluation's earlier exact per-query statistics, kept as the tests'
independent reference for the bucketing kernel (``fastreid_ext.evaluation.match_positions``).

Sort only each query's true-match distances, ``searchsorted`` every gallery distance into them and
count per bin; the cumulative counts are the match positions. Items whose distance equals a match
distance are moved to their place in the stable order (ties broken by gallery index).
"""
import torch

from fastreid_ext.evaluation.match_positions import ChunkStats, GalleryLayout, stats_from_positions


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
    return stats_from_positions(pos, r, pos[:, 0], id_rank)
