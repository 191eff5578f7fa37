"""Test-time options under fast-reid's key names, and the label that names them in the results.

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

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TestTimeOptions", "FlipAveraged", "average_query_expansion", "postprocessed_metrics"]


@dataclass(frozen=True)
class TestTimeOptions:
    flip: bool = False
    aqe: bool = False
    aqe_times: int = 1
    aqe_k: int = 5
    aqe_alpha: float = 3.0
    rerank: bool = False
    rerank_k1: int = 20
    rerank_k2: int = 6
    rerank_lambda: float = 0.3

    __test__ = False  # not a pytest class

    def __post_init__(self):
        if self.aqe and (self.aqe_times < 1 or self.aqe_k < 1):
            raise ValueError(f"TEST.AQE.QE_TIME and TEST.AQE.QE_K must be >= 1, got {self.aqe_times} and {self.aqe_k}.")
        if self.rerank and (self.rerank_k1 < 1 or self.rerank_k2 < 1 or not 0.0 <= self.rerank_lambda <= 1.0):
            raise ValueError(f"TEST.RERANK needs K1 >= 1, K2 >= 1 and 0 <= LAMBDA <= 1, got K1={self.rerank_k1}, "
                             f"K2={self.rerank_k2}, LAMBDA={self.rerank_lambda}.")

    @classmethod
    def from_config(cls, cfg) -> "TestTimeOptions":
        t = cfg.TEST
        return cls(bool(t.FLIP.ENABLED), bool(t.AQE.ENABLED), int(t.AQE.QE_TIME), int(t.AQE.QE_K), float(t.AQE.ALPHA),
                   bool(t.RERANK.ENABLED), int(t.RERANK.K1), int(t.RERANK.K2), float(t.RERANK.LAMBDA))

    @property
    def label(self) -> str:
        """``""`` or e.g. ``"+flip+aqe+rerank"`` (in the order they are applied)."""
        return "".join(f"+{name}" for name, on in (("flip", self.flip), ("aqe", self.aqe), ("rerank", self.rerank)) if on)

    @property
    def changes_distances(self) -> bool:
        return self.aqe or self.rerank

    def as_dict(self) -> dict:
        """For ``results.json``: only the options that are on, with their parameters."""
        d = asdict(self)
        return {k: v for k, v in d.items() if d[k.split("_")[0]]}


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


def postprocessed_metrics(qf, gf, q_pids, g_pids, q_cams, g_cams, removal, identity_cmc: bool, opts, options: TestTimeOptions):
    """Metrics after AQE and/or re-ranking (``opts``: the protocol's ranking options)."""
    from .metrics import FeatureSource, MatrixSource, compute_metrics  # noqa: PLC0415 - avoids an import cycle
    from .reranking import k_reciprocal_distance  # noqa: PLC0415

    if options.aqe:
        qf, gf = average_query_expansion(qf, gf, options.aqe_times, options.aqe_k, options.aqe_alpha)
    if options.rerank:
        dist = k_reciprocal_distance(qf, gf, options.rerank_k1, options.rerank_k2, options.rerank_lambda,
                                     distance=opts.distance, backend=opts.backend)
        source = MatrixSource(dist)
    else:
        source = FeatureSource(qf, gf, opts.distance)
    return compute_metrics(source, q_pids, g_pids, q_cams, g_cams, removal, opts.max_rank, identity_cmc, opts.max_rows)
