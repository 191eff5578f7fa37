"""Start-of-run validation: everything the evaluations will need, checked before the first iteration.

Without it a typo in a test-side key (TEST.SELECT_METRIC, TEST.FEATURES, TEST.ATTRIBUTE_SOURCES,
DATASETS.TESTS, TEST.EVALUATOR) or a corrupt gallery image only shows up at the first evaluation,
possibly hours into training. Each problem raises a :class:`~fastreid_ext.utils.errors.UserError`
naming the key, the value and what was expected.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

import torch

from ..config.config import resolve_aliases
from ..utils.env import get_rng_state, set_rng_state
from ..utils.errors import UserError

__all__ = ["build_test_side", "check_test_side", "check_metric_key", "check_test_images", "check_eval_forward",
           "check_distance_alias",
           "KNOWN_ATTRIBUTE_SOURCES"]

logger = logging.getLogger(__name__)

KNOWN_ATTRIBUTE_SOURCES = ("gt", "predicted", "zeros")
_METRIC_RE = re.compile(r"^(Rank-(\d+)|mAP|mINP)(-std)?$")
_METRIC_SHAPE = "'<dataset>/<protocol>/[<attribute source>/]<feature>/<metric>', e.g. 'SYSU_MM01/all-single/FC/Rank-1'"


def build_test_side(cfg, build_evaluators: Callable[[Any], list]) -> list:
    """The (name, evaluator) pairs, built now: unknown evaluators/datasets and missing test folders fail here."""
    try:
        return build_evaluators(cfg)
    except UserError as e:  # already names its file or key: add which setting asked for it
        raise type(e)(f"DATASETS.TESTS {list(cfg.DATASETS.TESTS)}: {e}") from e
    except (OSError, KeyError, ValueError) as e:
        msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        raise UserError(f"DATASETS.TESTS {list(cfg.DATASETS.TESTS)} (TEST.EVALUATOR '{cfg.TEST.EVALUATOR}'): the test "
                        f"side cannot be built before training: {type(e).__name__}: {msg}") from e


def check_metric_key(metric: str, dataset_names: list[str], features: list[str] | None, max_rank: int,
                     attribute_sources: list[str]) -> None:
    """TEST.SELECT_METRIC must be able to name a flattened result key (see ``_METRIC_SHAPE``)."""
    if not metric:
        return
    if not dataset_names:
        raise UserError(f"TEST.SELECT_METRIC is '{metric}' but DATASETS.TESTS is empty: no evaluation will report it.")
    parts = metric.split("/")
    where = f"TEST.SELECT_METRIC '{metric}'"
    if len(parts) < 4 or any(not p for p in parts):
        raise UserError(f"{where} does not have the shape of a result key; expected {_METRIC_SHAPE}.")
    if parts[0] not in dataset_names:
        raise UserError(f"{where} starts with '{parts[0]}', which is not a test dataset {dataset_names} "
                        f"(DATASETS.TESTS); expected {_METRIC_SHAPE}.")
    if parts[1] == "attributes":  # attribute-recognition figures: free-form names
        return
    m = _METRIC_RE.match(parts[-1])
    if not m:
        raise UserError(f"{where} ends with '{parts[-1]}'; expected Rank-k (k <= TEST.MAX_RANK), mAP or mINP, "
                        f"optionally with '-std'.")
    if m.group(2) and not 1 <= int(m.group(2)) <= max_rank:
        raise UserError(f"{where} asks for {parts[-1]} but TEST.MAX_RANK is {max_rank}.")
    if features is not None and parts[-2] not in features:
        raise UserError(f"{where} names the feature '{parts[-2]}', which is not in TEST.FEATURES {features}.")
    if len(parts) == 5 and parts[2] not in attribute_sources:
        raise UserError(f"{where} names the attribute source '{parts[2]}', which is not in TEST.ATTRIBUTE_SOURCES "
                        f"{attribute_sources}.")
    if len(parts) > 5 or (len(parts) == 4 and attribute_sources):
        raise UserError(f"{where} has {len(parts)} parts; with TEST.ATTRIBUTE_SOURCES {attribute_sources} expected "
                        f"{_METRIC_SHAPE}.")


def check_test_images(cfg, datasets: list) -> None:
    """Check every query/gallery image once (shared between ranks; header-level, see ``data.image_check``).
    Unreadable ones fail the run now, unless INPUT.SKIP_UNREADABLE drops them, which is then reported
    with a count."""
    from ..data.image_check import check_images

    paths = [r.img_path for ds in datasets for r in [*getattr(ds, "query", []), *getattr(ds, "gallery", [])]]
    check_images(cfg, paths, "test")


def _probe_batch(cfg, dataset) -> dict | None:
    """Two test images (one query, one gallery: both modalities) as a batch, without a DataLoader."""
    from ..data.build import build_test_loader
    from ..data.common import collate_batch

    records = [*getattr(dataset, "query", [])[:1], *getattr(dataset, "gallery", [])[:1]]
    if not records:
        return None
    ds = build_test_loader(cfg, records, getattr(dataset, "attribute_names", ())).dataset
    return collate_batch([ds[i] for i in range(len(ds))]) if len(ds) else None


def check_eval_forward(cfg, model: torch.nn.Module, evaluator, dataset) -> None:
    """One eval-mode forward per attribute source: the model must return every TEST.FEATURES entry and
    accept every TEST.ATTRIBUTE_SOURCES entry. Runs only for evaluators that use those keys."""
    features = getattr(evaluator, "features", None)
    sources = list(getattr(evaluator, "attribute_sources", []) or [])
    if features is None or dataset is None:
        return
    batch = _probe_batch(cfg, dataset)
    if batch is None:
        return
    arch = cfg.MODEL.META_ARCHITECTURE
    was_training = model.training
    model.eval()
    try:
        for source in sources or [None]:
            b = batch if source is None else dict(batch, attribute_source=source)
            try:
                with torch.no_grad():
                    out = model(b)
            except ValueError as e:
                key = f"TEST.ATTRIBUTE_SOURCES entry '{source}'" if source else "the test data"
                raise UserError(f"{key}: an eval forward of {arch} fails: {e}") from e
            returned = sorted(out) if isinstance(out, dict) else []
            missing = [f for f in features if f not in returned]
            if missing:
                raise UserError(f"TEST.FEATURES {list(features)}: {arch} does not return {missing} in eval mode "
                                f"(it returns {returned}).")
    finally:
        model.train(was_training)


def check_distance_alias(cfg) -> None:
    """fast-reid's ``TEST.METRIC`` (the distance) must agree with ``TEST.RANKING.DISTANCE``; load_config
    copies it over, a config built in code may not have (same one-line errors as loading)."""
    if not cfg.TEST.METRIC:
        return
    resolved = resolve_aliases(_mutable(cfg))
    if resolved.TEST.RANKING.DISTANCE != cfg.TEST.RANKING.DISTANCE:
        raise UserError(f"TEST.METRIC '{cfg.TEST.METRIC}' but TEST.RANKING.DISTANCE '{cfg.TEST.RANKING.DISTANCE}': both "
                        f"name the ranking distance; load the config with load_config or set TEST.RANKING.DISTANCE.")


def _mutable(cfg):
    c = cfg.clone()
    c.defrost()
    return c


def check_test_side(cfg, model: torch.nn.Module, evaluators: list) -> None:
    """Every check above, in order of cost; the global RNG is left as it was."""
    sources = list(cfg.TEST.ATTRIBUTE_SOURCES)
    unknown = [s for s in sources if s not in KNOWN_ATTRIBUTE_SOURCES]
    if unknown:
        raise UserError(f"TEST.ATTRIBUTE_SOURCES {sources}: {unknown} not in {list(KNOWN_ATTRIBUTE_SOURCES)}.")
    datasets = [getattr(ev, "dataset", None) for _, ev in evaluators]
    names = sorted({n for (_, ev), ds in zip(evaluators, datasets) for n in (getattr(ds, "name", None),) if n}
                   | {name for name, _ in evaluators})
    declared = [getattr(ev, "features", None) for _, ev in evaluators]
    features = None if any(f is None for f in declared) else sorted({f for fs in declared for f in fs})
    check_metric_key(cfg.TEST.SELECT_METRIC, names, features, int(cfg.TEST.MAX_RANK), sources)
    check_distance_alias(cfg)
    check_test_images(cfg, [ds for ds in datasets if ds is not None])
    rng = get_rng_state()
    try:
        for (_, ev), ds in zip(evaluators, datasets):
            check_eval_forward(cfg, model, ev, ds)
    finally:
        set_rng_state(rng)
