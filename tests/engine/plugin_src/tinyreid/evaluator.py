import json
import os

import torch

from fastreid_ext.evaluation import EVALUATOR_REGISTRY, ResultKey


@EVALUATOR_REGISTRY.register()
class TinyEvaluator:
    """A deterministic score from the weights (not a real protocol): enough to drive the hooks."""

    def __init__(self, dataset, output_dir: str):
        self.dataset = dataset
        self.output_dir = output_dir
        self.calls = []

    @classmethod
    def from_config(cls, cfg, dataset, output_dir):
        return cls(dataset, output_dir)

    def result_keys(self, quick=False):
        """The keys ``evaluate`` returns, declared before training (the start-of-run check reads them)."""
        return [ResultKey(self.dataset.name, "all-single", "FC", m, statistic=s)
                for m, s in (("Rank-1", "mean"), ("Rank-1", "std"), ("mAP", "mean"))]

    def evaluate(self, model, quick=False):
        self.calls.append(bool(quick))
        w = model.backbone[0].weight.detach().float()
        score = float(torch.sigmoid(w.sum() * 10)) * 100
        res = {f"{self.dataset.name}/all-single": {"FC/Rank-1": score, "FC/Rank-1-std": 0.0, "FC/mAP": score / 2}}
        if self.output_dir and not quick:
            os.makedirs(self.output_dir, exist_ok=True)
            with open(os.path.join(self.output_dir, "results.json"), "w") as f:
                json.dump(res, f)
        return res
