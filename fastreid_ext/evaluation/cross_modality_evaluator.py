"""``CrossModalityEvaluator``: the default evaluator of every dataset that declares a registered
protocol (:mod:`.protocol_api`; built in: SYSU-MM01, RegDB).

The features of the query set and of the gallery set are extracted once per ``evaluate()`` (per
test-time input source), then every task of the dataset's protocol is scored from them; trial
galleries are subsets of the gallery set, so no image is extracted twice.
"""
from __future__ import annotations

import logging
import os
from dataclasses import replace

from ..modeling.input_sources import declared_input_sources, leaking_sources
from ..utils import comm
from .attribute_metrics import attribute_figures, attribute_keys, attribute_table
from .build import EVALUATOR_REGISTRY
from .feature_extraction import extract_feature_set
from .faiss_search import resolve_backend
from .postprocess import FlipAveraged
from .protocol_api import EvaluationProtocol, build_protocol
from .protocols import run_tasks
from .result_keys import ATTRIBUTES_TASK, ResultKey
from .camera_breakdown import attribute_breakdown_table, breakdown_table
from .roc import ROC_METRICS
from .results_writer import results_table, write_results_json
from .saved_features import save_features
from .types import CHANCE_KEY, REPORTED_RANKS, FeatureSet, RankingOptions

__all__ = ["CrossModalityEvaluator", "ATTRIBUTE_OUTPUT"]

logger = logging.getLogger(__name__)
ATTRIBUTE_OUTPUT = "attribute_probs"


@EVALUATOR_REGISTRY.register()
class CrossModalityEvaluator:
    """``evaluate(model, quick=False) -> {task: {metric: percent}}`` (see docs/architecture.md).

    Under torch.distributed every rank must call ``evaluate``: each extracts its shard, the main
    process gathers them, scores and writes ``results.json``, and returns the results; the other
    ranks return ``{}`` (the caller broadcasts)."""

    def __init__(self, dataset, output_dir: str, loader_fn, *, protocol: EvaluationProtocol, features=("FC", "POOL"),
                 attribute_sources=(), ranking=None, save_features=False, progress=True, roc=False, breakdown=False):
        if not features:
            raise ValueError("TEST.FEATURES is empty: name at least one model output to evaluate (e.g. FC).")
        self.dataset, self.output_dir, self.loader_fn, self.protocol = dataset, output_dir, loader_fn, protocol
        self.features, self.attribute_sources = list(features), list(attribute_sources)
        self.ranking = ranking or RankingOptions()
        self.save, self.progress, self.roc, self.breakdown = bool(save_features), progress, bool(roc), bool(breakdown)
        self.attribute_names = getattr(dataset, "attribute_names", None)

    @classmethod
    def from_config(cls, cfg, dataset, output_dir: str):
        from ..data.build import build_test_loader  # noqa: PLC0415 - the data package is only needed at run time

        t = cfg.TEST
        ranking = RankingOptions.from_config(cfg)
        return cls(
            dataset, output_dir, lambda records: build_test_loader(cfg, records, getattr(dataset, "attribute_names", ())),
            protocol=build_protocol(cfg, dataset), features=t.FEATURES, attribute_sources=t.ATTRIBUTE_SOURCES,
            ranking=ranking, save_features=t.SAVE_FEATURES, roc=t.ROC.ENABLED,
            breakdown=t.CAMERA_BREAKDOWN.ENABLED,
        )

    # -- what it will emit ---------------------------------------------------------------------
    def result_keys(self, quick: bool = False) -> list[ResultKey]:
        """Every key ``evaluate(model, quick)`` can return, known from the config before any data:
        protocol tasks × input sources × features (with their test-time label) × metrics × mean/std,
        the first trial's TPR@FPR (mean only) with ``TEST.ROC.ENABLED``, and the attribute-recognition
        figures when the dataset has attributes."""
        name, label = self.dataset.name, self.ranking.test_time.label
        metrics = [f"Rank-{r}" for r in REPORTED_RANKS if r <= self.ranking.max_rank] + ["mAP", "mINP", CHANCE_KEY]
        keys = []
        for source in self.attribute_sources or [""]:
            for task in self.protocol.task_names(quick):
                for feature in self.features:
                    for metric in metrics:
                        base = ResultKey(name, task, feature + label, metric, source)
                        keys += [base, base.with_statistic("std")]
                    keys += [ResultKey(name, task, feature + label, m, source) for m in (ROC_METRICS if self.roc else ())]
            keys += [ResultKey(name, ATTRIBUTES_TASK, "", m, source) for m in attribute_keys(self.attribute_names)]
        return keys

    # -- extraction ---------------------------------------------------------------------------
    def extract_feature_sets(self, model, source: str | None = None) -> tuple[FeatureSet, FeatureSet]:
        """(query set, gallery set) features of the dataset on the main process, ``(None, None)`` on the
        other ranks (every rank must call it: each extracts its shard). Also for rank-list visualisation.
        With ``TEST.FLIP.ENABLED`` the outputs are averaged with those of the flipped images."""
        names = [*self.features, ATTRIBUTE_OUTPUT]
        model = FlipAveraged(model) if self.ranking.test_time.flip else model
        query, gallery = (
            extract_feature_set(model, self.loader_fn(records), records, names, source, role,
                                f"{self.dataset.name} {role}" + (f" [{source}]" if source else ""), self.progress)
            for role, records in (("query", self.dataset.query), ("gallery", self.dataset.gallery))
        )
        return query, gallery

    def evaluate(self, model, quick: bool = False) -> dict[str, dict[str, float]]:
        name = self.dataset.name
        options = replace(self.ranking, backend=resolve_backend(self.ranking.backend))  # once per run
        leaking = set(leaking_sources(model))
        declared = declared_input_sources(model)
        runs, attributes, feature_names = [], {}, []
        for source in self.attribute_sources or [None]:
            query, gallery = self.extract_feature_sets(model, source)
            if not comm.is_main_process():
                continue  # the main process holds the gathered features and scores them
            feature_names = [n for n in self.features if n in query.features]
            if not feature_names:
                raise KeyError(f"The model returns none of TEST.FEATURES {self.features} in eval mode "
                               f"(it returned {sorted(query.features)}).")
            if self.save:
                path = os.path.join(self.output_dir, f"features{'-' + source if source else ''}.npz")
                save_features(path, query, gallery, feature_names, name, self.protocol.name, source)
            tasks = self.protocol.tasks(query, gallery, quick, name)
            for run in run_tasks(tasks, feature_names, options, source or "", roc=self.roc,
                                 breakdown=self.breakdown,  # the attribute groups in full evaluations only (cost)
                                 attribute_names=(self.attribute_names or ()) if not quick else ()):
                run.info = {**run.info, "attribute_source": source, "test_time": self.ranking.test_time.as_dict()}
                if source in declared:
                    run.info["leaks_labels"] = source in leaking
                run.feature += self.ranking.test_time.label  # e.g. FC+flip+rerank: results name their options
                runs.append(run)
            if ATTRIBUTE_OUTPUT in query.features:
                prefix = f"{source}/" if source else ""
                attributes.update(attribute_figures(query, gallery, ATTRIBUTE_OUTPUT, self.attribute_names, prefix))
        if not comm.is_main_process():
            return {}
        results: dict[str, dict[str, float]] = {}
        for run in runs:
            results.setdefault(f"{name}/{run.task}", {}).update(run.summary())
        if attributes:
            results[f"{name}/{ATTRIBUTES_TASK}"] = attributes
            logger.info("Attribute recognition on %s (percent: accuracy per attribute, mA, mean accuracy):\n%s",
                        name, attribute_table(attributes, leaking))
        # full evaluations end the run with the CLI's summary table: their detailed table goes to log.txt only
        logger.log(logging.INFO if quick else logging.DEBUG, "Evaluation on %s%s:\n%s", name, " (quick)" if quick else "",
                   results_table(runs))
        breakdown = {}
        for run in runs:
            if run.camera_pairs:
                breakdown.setdefault(f"{name}/{run.task}", {})[run.prefix] = run.camera_pairs
        if breakdown:
            logger.log(logging.DEBUG if quick else logging.INFO, "Rank-1 / mAP per camera pair on %s (first trial; percent):\n%s",
                       name, breakdown_table(runs))
        by_attribute = {}
        for run in runs:
            if run.attribute_groups:
                by_attribute.setdefault(f"{name}/{run.task}", {})[run.prefix] = run.attribute_groups
        if by_attribute:
            logger.log(logging.DEBUG if quick else logging.INFO, "Rank-1 / mAP of the queries per attribute value on %s "
                       "(first trial; percent):\n%s", name, attribute_breakdown_table(runs))
        if self.output_dir:
            payload = {
                "dataset": name, "protocol": self.protocol.name, "quick": quick, "features": feature_names,
                "attribute_sources": self.attribute_sources, "distance": self.ranking.distance,
                "backend": self.ranking.backend, "max_rank": self.ranking.max_rank,
                "test_time": self.ranking.test_time.as_dict(), "results": results,
                "runs": [{"task": f"{name}/{r.task}", "feature": r.prefix, **r.info, "per_trial": r.trials,
                          "cmc_per_trial": r.cmc_curves} for r in runs],
            }
            if breakdown:
                payload["breakdown"] = breakdown
            if by_attribute:
                payload["attribute_breakdown"] = by_attribute
            if leaking:
                payload["leaking_sources"] = sorted(leaking)
            write_results_json(os.path.join(self.output_dir, "results.json"), payload)
        return results
