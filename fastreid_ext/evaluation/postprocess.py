"""The test-time steps behind :class:`~.types.TestTimeOptions` (fast-reid's key names); the evaluator
applies flip during extraction, and :func:`.distances.distance_sources` hands each trial gallery to
:func:`test_time_source` when AQE or re-ranking is on.

* ``TEST.FLIP.ENABLED``: each image's outputs averaged with those of its horizontal flip
  (:class:`FlipAveraged` wraps the model during extraction);
* ``TEST.AQE.*``: average query expansion (:func:`average_query_expansion`) of the query and gallery
  features before distances;
* ``TEST.RERANK.*``: k-reciprocal re-ranking (:func:`.reranking.k_reciprocal_distance`) instead of
  the plain distance.

Results computed with any of them carry the label (e.g. feature ``FC+flip+rerank``), so numbers with
and without test-time tricks are never mixed up.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.threads import ThreadProbe
from .distances import FeatureSource, MatrixSource, normalize_features
from .reranking import k_reciprocal_distance
from .types import DistanceSource, RankingOptions, TestTimeOptions

__all__ = ["TestTimeOptions", "FlipAveraged", "average_query_expansion", "test_time_source"]


class FlipAveraged(nn.Module):
    """Eval-mode wrapper: every floating-point output averaged over the batch and its horizontal
    flip (``images`` flipped along the width), as fast-reid's flip test."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.train(model.training)

    def forward(self, batch: dict):
        outputs = self.model(batch)
        flipped = self.model(dict(batch, images=torch.flip(batch["images"], dims=[3])))
        return {k: (v + flipped[k]) / 2 if torch.is_tensor(v) and v.is_floating_point() and k in flipped else v
                for k, v in outputs.items()}


def average_query_expansion(query: torch.Tensor, gallery: torch.Tensor, qe_times: int = 1, qe_k: int = 5,
                            alpha: float = 3.0, block_elements: int = 1 << 24):
    """fast-reid's ``aqe``: ``qe_times`` rounds in which every feature (query and gallery together)
    becomes the mean of its ``qe_k`` most cosine-similar features (itself included), each weighted by
    its similarity to the power ``alpha``. Returns (query, gallery) float32, rows blocked so no
    (N+M)² matrix is built."""
    nq = query.shape[0]
    feats = torch.cat([query.float(), gallery.float().to(query.device)])
    k = min(qe_k, feats.shape[0])
    rows = max(1, block_elements // max(feats.shape[0], k * feats.shape[1]))
    for _ in range(qe_times):
        normed = F.normalize(feats, dim=1)
        expanded = torch.empty_like(feats)
        for i0 in range(0, feats.shape[0], rows):
            sims, idx = torch.topk(normed[i0 : i0 + rows] @ normed.t(), k, dim=1)
            expanded[i0 : i0 + rows] = (feats[idx] * sims.pow(alpha).unsqueeze(-1)).mean(1)
        feats = expanded
    return feats[:nq], feats[nq:]


def test_time_source(q: torch.Tensor, g: torch.Tensor, options: RankingOptions,
                     threads: ThreadProbe | None = None) -> DistanceSource:
    """The distance source of one trial gallery with AQE and/or re-ranking (``options.test_time``).
    ``q``, ``g``: from :func:`.distances.prepare_features`. Both steps mix the features of the query
    set and of *this* gallery, so they run per trial gallery (never once on a whole SYSU gallery set);
    the SYSU shared distance matrix is therefore not used with them. Re-ranking runs on ``threads``'
    choice (one probe for a run's trial galleries; TEST.RANKING.KERNEL_THREADS)."""
    tt = options.test_time
    if tt.aqe:
        q, g = average_query_expansion(q, g, tt.aqe_times, tt.aqe_k, tt.aqe_alpha)
    if tt.rerank:
        threads = threads or ThreadProbe(options.kernel_threads)
        with threads.run(q.shape[0] * g.shape[0]) if q.device.type == "cpu" else nullcontext():
            return MatrixSource(k_reciprocal_distance(q, g, tt.rerank_k1, tt.rerank_k2, tt.rerank_lambda,
                                                      distance=options.distance, backend=options.backend))
    # AQE averages normalised features: re-normalise for cosine
    return FeatureSource(normalize_features(q, options.distance), normalize_features(g, options.distance),
                         options.distance, prepared=True)
