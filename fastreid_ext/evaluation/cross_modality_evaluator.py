"""``CrossModalityEvaluator``: the default evaluator of the SYSU-MM01 and RegDB datasets.

The features of the query set and of the gallery set are extracted once per ``evaluate()`` (per
attribute source), then every configured protocol is scored from them; SYSU trial galleries are
subsets of the gallery set (:mod:`.protocols`), so no image is extracted twice.
"""
from __future__ import annotations

import logging
import os
from dataclasses import replace

from ..utils import comm
from .attribute_metrics import attribute_figures, attribute_table
from .build import EVALUATOR_REGISTRY
from .feature_extraction import extract_feature_set
from .faiss_search import resolve_backend
from .postprocess import FlipAveraged
from .protocols import protocol_tasks, run_tasks
from .results_writer import results_table, write_results_json
from .saved_features import save_features
from .types import FeatureSet, RankingOptions, TestTimeOptions

__all__ = ["CrossModalityEvaluator"]

logger = logging.getLogger(__name__)
ATTRIBUTE_OUTPUT = "attribute_probs"


@EVALUATOR_REGISTRY.register()
class CrossModalityEvaluator:
    """``evaluate(model, quick=False) -> {task: {metric: percent}}`` (see docs/architecture.md).

    Under torch.distributed every rank must call ``evaluate``: each extracts its shard, the main
    process gathers them, scores and writes ``results.json``, and returns the results; the other
    ranks return ``{}`` (the caller broadcasts)."""

    def __init__(
        self, dataset, output_dir: str, loader_fn, *, features=("FC", "POOL"), attribute_sources=(), ranking=None,
        sysu_modes=("all", "indoor"), sysu_shots=("single", "multi"), num_trials=10, train_eval_trials=1,
        multi_shot_images=10, regdb_directions=("visible2infrared", "infrared2visible"), regdb_trial=1,
        save_features=False, progress=True,
    ):
        if getattr(dataset, "protocol", "") not in ("sysu", "regdb"):
            raise ValueError(f"CrossModalityEvaluator supports datasets with protocol 'sysu' or 'regdb', "
                             f"got '{getattr(dataset, 'protocol', '')}' ({type(dataset).__name__}).")
        if not features:
            raise ValueError("TEST.FEATURES is empty: name at least one model output to evaluate (e.g. FC).")
        self.dataset, self.output_dir, self.loader_fn = dataset, output_dir, loader_fn
        self.features, self.attribute_sources = list(features), list(attribute_sources)
        self.ranking = ranking or RankingOptions()
        self.sysu_modes, self.sysu_shots = list(sysu_modes), list(sysu_shots)
        self.num_trials, self.train_eval_trials = int(num_trials), int(train_eval_trials)
        self.multi_shot_images = int(multi_shot_images)
        self.regdb_directions, self.regdb_trial = list(regdb_directions), int(regdb_trial)
        self.save, self.progress = bool(save_features), progress
        self.attribute_names = getattr(dataset, "attribute_names", None)

    @classmethod
    def from_config(cls, cfg, dataset, output_dir: str):
        from ..data.build import build_test_loader  # noqa: PLC0415 - the data package is only needed at run time

        t = cfg.TEST
        ranking = RankingOptions(t.RANKING.BACKEND, t.RANKING.DISTANCE, t.MAX_RANK, t.RANKING.QUERY_CHUNK, t.SYSU.CMC,
                                 TestTimeOptions.from_config(cfg))
        return cls(
            dataset, output_dir, lambda records: build_test_loader(cfg, records, getattr(dataset, "attribute_names", ())), features=t.FEATURES,
            attribute_sources=t.ATTRIBUTE_SOURCES, ranking=ranking, sysu_modes=t.SYSU.MODES, sysu_shots=t.SYSU.SHOTS,
            num_trials=t.SYSU.NUM_TRIALS, train_eval_trials=t.SYSU.TRAIN_EVAL_TRIALS,
            multi_shot_images=t.SYSU.MULTI_SHOT_IMAGES, regdb_directions=t.REGDB.DIRECTIONS,
            regdb_trial=cfg.DATASETS.REGDB.TRIAL, save_features=t.SAVE_FEATURES,
        )

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

    # -- protocols ----------------------------------------------------------------------------
    def protocol_settings(self, quick: bool) -> dict:
        """Keyword arguments of :func:`.protocols.protocol_tasks` for a full or a quick evaluation."""
        if self.dataset.protocol == "sysu":
            trials = self.train_eval_trials if quick and self.train_eval_trials > 0 else self.num_trials
            modes, shots = (["all"], ["single"]) if quick else (self.sysu_modes, self.sysu_shots)
            return {"modes": modes, "shots": shots, "num_trials": trials, "num_shots": self.multi_shot_images,
                    "cmc": self.ranking.sysu_cmc}
        return {"directions": self.regdb_directions[:1] if quick else self.regdb_directions, "trial": self.regdb_trial}

    def evaluate(self, model, quick: bool = False) -> dict[str, dict[str, float]]:
        name, protocol = self.dataset.name, self.dataset.protocol
        options = replace(self.ranking, backend=resolve_backend(self.ranking.backend))  # once per run
        settings = self.protocol_settings(quick)
        runs, attributes, feature_names = [], {}, []
        for source in self.attribute_sources or [None]:
            prefix = f"{source}/" if source else ""
            query, gallery = self.extract_feature_sets(model, source)
            if not comm.is_main_process():
                continue  # the main process holds the gathered features and scores them
            feature_names = [n for n in self.features if n in query.features]
            if not feature_names:
                raise KeyError(f"The model returns none of TEST.FEATURES {self.features} in eval mode "
                               f"(it returned {sorted(query.features)}).")
            if self.save:
                path = os.path.join(self.output_dir, f"features{'-' + source if source else ''}.npz")
                save_features(path, query, gallery, feature_names, name, protocol, source)
            tasks = protocol_tasks(protocol, query, gallery, settings)
            for run in run_tasks(tasks, feature_names, options, prefix):
                run.info = {**run.info, "attribute_source": source, "test_time": self.ranking.test_time.as_dict()}
                run.feature += self.ranking.test_time.label  # e.g. FC+flip+rerank: results name their options
                runs.append(run)
            if ATTRIBUTE_OUTPUT in query.features:
                attributes.update(attribute_figures(query, gallery, ATTRIBUTE_OUTPUT, self.attribute_names, prefix))
        if not comm.is_main_process():
            return {}
        results: dict[str, dict[str, float]] = {}
        for run in runs:
            results.setdefault(f"{name}/{run.task}", {}).update(run.summary())
        if attributes:
            results[f"{name}/attributes"] = attributes
            logger.info("Attribute recognition on %s (percent: accuracy per attribute, mA, mean accuracy):\n%s",
                        name, attribute_table(attributes))
        # full evaluations end the run with the CLI's summary table: their detailed table goes to log.txt only
        logger.log(logging.INFO if quick else logging.DEBUG, "Evaluation on %s%s:\n%s", name, " (quick)" if quick else "",
                   results_table(runs))
        if self.output_dir:
            payload = {
                "dataset": name, "protocol": protocol, "quick": quick, "features": feature_names,
                "attribute_sources": self.attribute_sources, "distance": self.ranking.distance,
                "backend": self.ranking.backend, "max_rank": self.ranking.max_rank,
                "test_time": self.ranking.test_time.as_dict(), "results": results,
                "runs": [{"task": f"{name}/{r.task}", "feature": r.feature, **r.info, "per_trial": r.trials} for r in runs],
            }
            write_results_json(os.path.join(self.output_dir, "results.json"), payload)
        return results
