"""The one loop that scores a protocol's tasks over extracted feature sets (:func:`run_tasks`), and
the registered built-in protocols re-exported (SYSU-MM01: :mod:`.sysu_protocol`, RegDB:
:mod:`.regdb_protocol`; the protocol interface: :mod:`.protocol_api`).

:func:`run_tasks` yields one :class:`~.types.ProtocolRun` per (task, feature): the per-trial metrics
(percent) and the chance Rank-1 of each trial's galleries. Per feature and query set the features
are prepared once, and the distance source of each trial is chosen in one place
(:func:`.distances.distance_sources`): tasks over one (query set, gallery set) whose trials draw
galleries share one distance matrix (SYSU: 4 tasks × 10 trials).
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

import torch

from .distances import FeatureSource, MatrixSource, distance_sources, prepare_features
from .faiss_search import RankingSource, resolve_backend
from .match_positions import Workspace
from .metrics import chance_rank1, compute_metrics
from .protocol_api import Task
from .camera_breakdown import attribute_breakdown, camera_pair_breakdown, trial_matrix
from .roc import roc_metrics
from .regdb_protocol import REGDB_DIRECTIONS, regdb_tasks
from .sysu_protocol import SYSU_GALLERY_CAMS, SYSU_SHOTS, draw_sysu_gallery, group_gallery_images, sysu_tasks
from .types import CHANCE_KEY, REPORTED_RANKS, FeatureSet, ProtocolRun, RankingOptions
from ..utils.threads import map_in_order

__all__ = [
    "SYSU_GALLERY_CAMS", "SYSU_SHOTS", "REGDB_DIRECTIONS", "Task", "group_gallery_images", "draw_sysu_gallery",
    "sysu_tasks", "regdb_tasks", "run_tasks", "run_sysu", "run_regdb", "trial_metrics", "trial_workers",
]


def trial_metrics(source, q_pids, g_pids, q_camids, g_camids, task: Task, opts: RankingOptions, workspace=None,
                  curves: list | None = None) -> dict:
    """The figures of one trial (percent): reported Rank-k, mAP, mINP and the chance Rank-1; the full
    CMC (percent, ranks 1..max_rank) is appended to ``curves`` when given (for figures)."""
    rule = task.removal
    m = compute_metrics(source, q_pids, g_pids, None if rule is None else q_camids, None if rule is None else g_camids,
                        rule, opts.max_rank, task.identity_cmc, opts.max_rows, workspace, opts.kernel_threads)
    out = {f"Rank-{r}": 100.0 * float(m.cmc[r - 1]) for r in REPORTED_RANKS if r <= len(m.cmc)}
    if curves is not None:
        curves.append([100.0 * float(v) for v in m.cmc])
    chance = 100.0 * chance_rank1(q_pids, g_pids, None if rule is None else q_camids,
                                  None if rule is None else g_camids, rule)
    return {**out, "mAP": 100.0 * m.mAP, "mINP": 100.0 * m.mINP, CHANCE_KEY: chance}


def _subset_rows(x: torch.Tensor, idx) -> torch.Tensor:
    return x if idx is None else x.index_select(0, torch.as_tensor(idx, device=x.device))


def _first_trial_analysis(run: ProtocolRun, src, q, g, gallery_idx, q_pids, g_pids, q_camids, g_camids, task: Task,
                          opts, workspace, roc: bool, breakdown: bool, q_attributes=None, q_mask=None,
                          attribute_names=()) -> None:
    """TPR@FPR (:mod:`.roc`) and the camera-pair breakdown (:mod:`.camera_breakdown`) of a task's first
    trial, from the distances it scores; a FAISS source holds ranking places, not distances, so the
    plain distances of the same pairs are read for the ROC instead."""
    d = trial_matrix(src) if breakdown else None  # the trial's distances once, for the breakdowns and the ROC
    if roc:
        if isinstance(src, RankingSource):
            plain = FeatureSource(q, _subset_rows(g, gallery_idx), opts.distance, prepared=True)
        else:
            plain = src if d is None else MatrixSource(d)
        run.first_trial = roc_metrics(plain, q_pids, g_pids, q_camids, g_camids, task.removal, workspace)
    if breakdown:
        run.camera_pairs = camera_pair_breakdown(src, q_pids, g_pids, q_camids, g_camids, task.removal,
                                                 task.identity_cmc, opts.max_rank, d=d)
        run.attribute_groups = attribute_breakdown(d, q_pids, g_pids, q_camids, g_camids, q_attributes, q_mask,
                                                   attribute_names, task.removal, task.identity_cmc, opts.max_rank)


def trial_workers(opts: RankingOptions, device) -> int:
    """Trials scored at once (``TEST.RANKING.TRIAL_WORKERS``; 0 = the run's intra-op threads): on CPU
    with the torch backend and no test-time post-processing; 1 elsewhere (a GPU, FAISS's own threads,
    re-ranking's own thread choice)."""
    if torch.device(device).type != "cpu" or opts.backend != "torch" or opts.test_time.changes_distances:
        return 1
    return opts.trial_workers if opts.trial_workers > 0 else torch.get_num_threads()


def _scored(src, q_pids, g_pids, q_camids, g_camids, task: Task, opts: RankingOptions, workspace):
    """One trial's figures and its CMC curve (a job of :func:`~fastreid_ext.utils.threads.map_in_order`)."""
    curve: list = []
    return trial_metrics(src, q_pids, g_pids, q_camids, g_camids, task, opts, workspace, curve), curve[0]


def _group_trials(group: list[Task], name: str, q, g, opts: RankingOptions, workers: int, workspace, source: str,
                  roc: bool, breakdown: bool, attribute_names, runs: dict):
    """(run, job) per trial of a group of tasks on one (query set, gallery set), in order, lazily (a
    trial's distance source is made when its job is taken). The first-trial analyses run here, in the
    calling thread; ``runs`` gets each task's run. With several ``workers`` a job's kernel runs on
    its worker's one thread."""
    query, gallery = group[0].query, group[0].gallery
    job_opts = opts if workers <= 1 else replace(opts, kernel_threads=1)
    pick = (lambda a, i: a if i is None else a[i])  # noqa: E731
    if group[0].queries is not None:  # the queries change per trial: one source per trial
        for task in group:
            run = runs[(id(task), name)] = ProtocolRun(task.name, name, task.info, source=source)
            for t in range(task.num_trials):
                qi, gi = task.trial_indices(t)
                src = next(distance_sources(_subset_rows(q, qi), _subset_rows(g, gi), None, opts))
                labels = (pick(query.pids, qi), pick(gallery.pids, gi), pick(query.camids, qi), pick(gallery.camids, gi))
                if (roc or breakdown) and t == 0:
                    _first_trial_analysis(
                        run, src, _subset_rows(q, qi), g, gi, *labels, task, opts, workspace, roc, breakdown,
                        None if query.attributes is None else pick(query.attributes, qi),
                        None if query.attribute_mask is None else pick(query.attribute_mask, qi), attribute_names)
                yield run, partial(_scored, src, *labels, task, job_opts)
        return
    galleries = None if group[0].galleries is None else [idx for t in group for idx in t.galleries]
    sources = distance_sources(q, g, galleries, opts)
    for task in group:
        run = runs[(id(task), name)] = ProtocolRun(task.name, name, task.info, source=source)
        for t, idx in enumerate(task.galleries if task.galleries is not None else [slice(None)]):
            src = next(sources)
            labels = (query.pids, gallery.pids[idx], query.camids, gallery.camids[idx])
            if (roc or breakdown) and t == 0:
                _first_trial_analysis(run, src, q, g, None if task.galleries is None else idx, *labels, task, opts,
                                      workspace, roc, breakdown, query.attributes, query.attribute_mask,
                                      attribute_names)
            yield run, partial(_scored, src, *labels, task, job_opts)


def _taken(trials, order: list):
    """The jobs of ``(run, job)`` pairs, noting each job's run in ``order`` as it is taken."""
    for run, job in trials:
        order.append(run)
        yield job


def run_tasks(tasks: list[Task], feature_names, opts: RankingOptions, source: str = "",
              roc: bool = False, breakdown: bool = False, attribute_names=()) -> list[ProtocolRun]:
    """Every task × feature, in task order then feature order; ``source``: the test-time input source
    the features were extracted with (it names the runs). ``roc``: also TPR@FPR of each first trial
    (``ProtocolRun.first_trial``); ``breakdown``: its Rank-1/mAP per camera pair (``ProtocolRun.camera_pairs``)
    and, with ``attribute_names`` and annotated queries, per attribute value (``ProtocolRun.attribute_groups``).
    The trials of a group are scored by :func:`trial_workers` threads at once (results in trial order,
    the same numbers as one after another: each trial is computed alone, exactly)."""
    opts = replace(opts, backend=resolve_backend(opts.backend))
    runs = {}
    for name in feature_names:
        groups: dict = {}  # tasks on one (query set, gallery set) share their distances (SYSU: one matrix)
        for task in tasks:
            key = (id(task.query), id(task.gallery), task.galleries is None, task.queries is not None)
            groups.setdefault(key, []).append(task)
        for group in groups.values():
            q, g = prepare_features(group[0].query.features[name], group[0].gallery.features[name], opts)
            order: list[ProtocolRun] = []  # the run of each job taken so far
            workers = trial_workers(opts, q.device)
            trials = _group_trials(group, name, q, g, opts, workers, Workspace(), source, roc, breakdown,
                                   attribute_names, runs)
            for i, (metrics, curve) in enumerate(map_in_order(_taken(trials, order), workers, Workspace)):
                order[i].trials.append(metrics)
                order[i].cmc_curves.append(curve)
    return [runs[(id(task), name)] for task in tasks for name in feature_names]


def run_sysu(query: FeatureSet, gallery: FeatureSet, feature_names, modes, shots, num_trials: int, num_shots: int,
             opts: RankingOptions, source: str = "", cmc: str = "identity") -> list[ProtocolRun]:
    """All (mode, shot) protocols of SYSU-MM01, ``num_trials`` trials each."""
    return run_tasks(sysu_tasks(query, gallery, modes, shots, num_trials, num_shots, cmc), feature_names, opts, source)


def run_regdb(visible: FeatureSet, infrared: FeatureSet, feature_names, directions, trial: int, opts: RankingOptions,
              source: str = "") -> list[ProtocolRun]:
    """The RegDB directions of one split trial."""
    return run_tasks(regdb_tasks(visible, infrared, directions, trial), feature_names, opts, source)
