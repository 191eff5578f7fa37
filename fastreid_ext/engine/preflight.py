"""Start-of-run validation: everything the evaluations will need, checked before the first iteration.

Without it a typo in a test-side key (TEST.SELECT_METRIC, TEST.FEATURES, TEST.ATTRIBUTE_SOURCES,
DATASETS.TESTS, TEST.EVALUATOR) or a corrupt gallery image only shows up at the first evaluation,
possibly hours into training. Each problem raises a :class:`~fastreid_ext.utils.errors.UserError`
naming the key, the value and what was expected.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import torch

from ..config.config import resolve_aliases
from ..evaluation.result_keys import KEY_SHAPE, ResultKey
from ..modeling.input_sources import declared_input_sources, default_input_source

from ..utils.env import get_rng_state, set_rng_state
from ..utils.errors import UserError

__all__ = ["build_test_side", "check_test_side", "check_metric_key", "check_test_images", "check_eval_forward",
           "check_distance_alias", "check_input_sources", "declared_result_keys"]

logger = logging.getLogger(__name__)


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


def declared_result_keys(evaluators: list) -> dict[str, list[str] | None]:
    """Dataset name → the keys its evaluator will emit (quick and full evaluations), or ``None`` for
    an evaluator that does not declare them (a plugin's without ``result_keys``)."""
    out: dict[str, list[str] | None] = {}
    for name, ev in evaluators:
        dataset = getattr(getattr(ev, "dataset", None), "name", None) or name
        declare = getattr(ev, "result_keys", None)
        if not callable(declare):
            out[dataset] = None
            continue
        keys = {str(k) for quick in (True, False) for k in declare(quick)}
        out[dataset] = sorted(keys | set(out.get(dataset) or ()))
    return out


def check_metric_key(metric: str, declared: dict[str, list[str] | None]) -> None:
    """TEST.SELECT_METRIC must be a key that one of the evaluators will emit (``declared_result_keys``)."""
    if not metric:
        return
    if not declared:
        raise UserError(f"TEST.SELECT_METRIC is '{metric}' but DATASETS.TESTS is empty: no evaluation will report it.")
    key = ResultKey.parse(metric, "TEST.SELECT_METRIC")
    where = f"TEST.SELECT_METRIC '{metric}'"
    if key.dataset not in declared:
        raise UserError(f"{where} starts with '{key.dataset}', which is not an evaluated dataset {sorted(declared)} "
                        f"(DATASETS.TESTS / DATASETS.VAL); expected {KEY_SHAPE}.")
    keys = declared[key.dataset]
    if keys is not None and metric not in keys:
        means = [k for k in keys if not k.endswith("-std")]
        raise UserError(f"{where} will not be emitted by the evaluation of {key.dataset}; it emits: {', '.join(means)} "
                        f"(each also with '-std').")


def check_input_sources(cfg, model: torch.nn.Module) -> None:
    """TEST.ATTRIBUTE_SOURCES must be sources the model declares (``modeling.input_sources``), and a
    model that needs one must be given one (no silent default, least of all a leaking one)."""
    sources = list(cfg.TEST.ATTRIBUTE_SOURCES)
    declared = declared_input_sources(model)
    arch = cfg.MODEL.META_ARCHITECTURE
    if sources and not declared:
        raise UserError(f"TEST.ATTRIBUTE_SOURCES {sources}: {arch} takes no test-time input besides the image; set it to [].")
    unknown = [s for s in sources if s not in declared]
    if unknown:
        raise UserError(f"TEST.ATTRIBUTE_SOURCES {sources}: {unknown} not declared by {arch}, whose sources are "
                        f"{list(declared)}.")
    if declared and not sources:
        default = default_input_source(model)
        hint = f" (its label-free default is '{default}')" if default else ""
        raise UserError(f"TEST.ATTRIBUTE_SOURCES is empty but {arch} takes a test-time input source{hint}; name some "
                        f"of {list(declared)}, so every result says which it was computed with.")


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
    check_input_sources(cfg, model)
    datasets = [getattr(ev, "dataset", None) for _, ev in evaluators]
    check_metric_key(cfg.TEST.SELECT_METRIC, declared_result_keys(evaluators))
    check_distance_alias(cfg)
    check_test_images(cfg, [ds for ds in datasets if ds is not None])
    rng = get_rng_state()
    try:
        for (_, ev), ds in zip(evaluators, datasets):
            check_eval_forward(cfg, model, ev, ds)
    finally:
        set_rng_state(rng)
