"""``CrossModalityEvaluator``: the default evaluator of the SYSU-MM01 and RegDB datasets.

Features of the query pool and of the gallery pool are extracted once per ``evaluate()`` (per
attribute source), then every configured protocol is scored from them; SYSU trial galleries are
subsets of the gallery pool (:mod:`.sysu_protocol`), so no image is extracted twice.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from ..utils import comm
from .attribute_metrics import attribute_recognition
from .build import EVALUATOR_REGISTRY
from .feature_extraction import extract_outputs
from .postprocess import FlipAveraged, TestTimeOptions
from .protocol_runs import Pool, RankingOptions, run_regdb, run_sysu
from .results_writer import results_table, write_results_json
from .saved_features import save_features

__all__ = ["CrossModalityEvaluator"]

logger = logging.getLogger(__name__)
ATTRIBUTE_OUTPUT = "attribute_probs"


@EVALUATOR_REGISTRY.register()
class CrossModalityEvaluator:
    """``evaluate(model, quick=False) -> {task: {metric: percent}}`` (see docs/architecture.md)."""

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
    def _pool(self, model, records, source, role) -> Pool:
        if not records:
            raise ValueError(f"{self.dataset.name}: the {role} pool is empty; nothing to evaluate.")
        outputs, fields = extract_outputs(
            FlipAveraged(model) if self.ranking.test_time.flip else model, self.loader_fn(records), [*self.features, ATTRIBUTE_OUTPUT], source,
            desc=f"{self.dataset.name} {role}" + (f" [{source}]" if source else ""), progress=self.progress,
        )
        n = len(fields["targets"]) if "targets" in fields else len(records)
        for name, value in outputs.items():
            if value.shape[0] != n:
                raise RuntimeError(f"Output '{name}' has {value.shape[0]} rows for {n} {role} images.")
        if n < len(records):
            logger.warning("%s: %d of %d %s images could not be read and are left out.", self.dataset.name,
                           len(records) - n, len(records), role)
        if {"targets", "camids", "img_paths"} <= set(fields):
            pids, camids, paths = fields["targets"].numpy(), fields["camids"].numpy(), list(fields["img_paths"])
        else:
            pids, camids, paths = (np.array([r.pid for r in records]), np.array([r.camid for r in records]),
                                   [r.img_path for r in records])
        if "attributes" in fields and "attribute_mask" in fields:
            attrs, mask = fields["attributes"].numpy(), fields["attribute_mask"].numpy()
        else:
            attrs = np.stack([r.attributes for r in records])
            mask = np.stack([r.attribute_mask for r in records])
        return Pool(outputs, pids, camids, paths, attrs, mask)

    def extract_pools(self, model, source: str | None = None) -> tuple[Pool, Pool]:
        """(query pool, gallery pool) features of the dataset, e.g. for rank-list visualisation."""
        return self._pool(model, self.dataset.query, source, "query"), self._pool(model, self.dataset.gallery, source, "gallery")

    # -- protocols ----------------------------------------------------------------------------
    def _runs(self, query: Pool, gallery: Pool, names, prefix: str, quick: bool):
        if self.dataset.protocol == "sysu":
            trials = self.train_eval_trials if quick and self.train_eval_trials > 0 else self.num_trials
            modes, shots = (["all"], ["single"]) if quick else (self.sysu_modes, self.sysu_shots)
            return run_sysu(query, gallery, names, modes, shots, trials, self.multi_shot_images, self.ranking, prefix)
        directions = self.regdb_directions[:1] if quick else self.regdb_directions
        return run_regdb(query, gallery, names, directions, self.regdb_trial, self.ranking, prefix)

    def _attributes(self, query: Pool, gallery: Pool, prefix: str) -> dict:
        probs = np.concatenate([query.features[ATTRIBUTE_OUTPUT].cpu().numpy(), gallery.features[ATTRIBUTE_OUTPUT].cpu().numpy()])
        targets = np.concatenate([query.attributes, gallery.attributes])
        if targets.shape != probs.shape:
            logger.warning("attribute_probs of shape %s do not match the attributes of the images %s; no attribute figures.",
                           probs.shape, targets.shape)
            return {}
        mask = np.concatenate([query.attribute_mask, gallery.attribute_mask])
        figures = attribute_recognition(probs, targets, mask, getattr(self.dataset, "attribute_names", None))
        return {f"{prefix}{k}": v for k, v in figures.items()}

    def evaluate(self, model, quick: bool = False) -> dict[str, dict[str, float]]:
        name = self.dataset.name
        runs, attributes, feature_names = [], {}, []
        for source in self.attribute_sources or [None]:
            prefix = f"{source}/" if source else ""
            query = self._pool(model, self.dataset.query, source, "query")
            gallery = self._pool(model, self.dataset.gallery, source, "gallery")
            names = [n for n in self.features if n in query.features]
            if not names:
                raise KeyError(f"The model returns none of TEST.FEATURES {self.features} in eval mode "
                               f"(it returned {sorted(query.features)}).")
            feature_names = names
            if self.save and comm.is_main_process():
                path = os.path.join(self.output_dir, f"features{'-' + source if source else ''}.npz")
                save_features(path, query, gallery, names, name, self.dataset.protocol, source)
            for run in self._runs(query, gallery, names, prefix, quick):
                run.info = {**run.info, "attribute_source": source, "test_time": self.ranking.test_time.as_dict()}
                run.feature += self.ranking.test_time.label  # e.g. FC+flip+rerank: results name their options
                runs.append(run)
            if ATTRIBUTE_OUTPUT in query.features:
                attributes.update(self._attributes(query, gallery, prefix))
        results: dict[str, dict[str, float]] = {}
        for run in runs:
            results.setdefault(f"{name}/{run.task}", {}).update(run.summary())
        if attributes:
            results[f"{name}/attributes"] = attributes
        # full evaluations end the run with the summary table: their detailed table goes to log.txt only
        logger.log(logging.INFO if quick else logging.DEBUG, "Evaluation on %s%s:\n%s", name, " (quick)" if quick else "",
                   results_table(runs))
        if attributes:
            logger.info("Attribute recognition on %s: %s", name,
                        ", ".join(f"{k} {v:.2f}" for k, v in attributes.items() if k.endswith("mA")))
        if comm.is_main_process() and self.output_dir:
            payload = {
                "dataset": name, "protocol": self.dataset.protocol, "quick": quick, "features": feature_names,
                "attribute_sources": self.attribute_sources, "distance": self.ranking.distance,
                "backend": self.ranking.backend, "max_rank": self.ranking.max_rank,
                "test_time": self.ranking.test_time.as_dict(), "results": results,
                "runs": [{"task": f"{name}/{r.task}", "feature": r.feature, **r.info, "per_trial": r.trials} for r in runs],
            }
            write_results_json(os.path.join(self.output_dir, "results.json"), payload)
        return results
