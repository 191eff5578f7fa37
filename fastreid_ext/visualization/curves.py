"""Line figures from a run folder: training curves (``metrics.json``), CMC curves (``results.json``)
and a sweep of one config value over several runs (``config.yaml`` + ``results.json``)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

from ..utils.errors import UserError

__all__ = ["new_figure", "read_metrics", "read_results", "plot_training_curves", "plot_cmc", "plot_sweep", "config_value"]


def new_figure(width: float, height: float):
    """A matplotlib Figure not attached to pyplot (no global backend state); saved at a fixed size."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional dependency, imported when drawing

    return Figure(figsize=(width, height))


def _save(fig, out: str, dpi: int) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out


def read_metrics(run_dir: str) -> list[dict]:
    """The records of ``run_dir/metrics.json`` (one JSON object per line)."""
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        raise UserError(f"{run_dir}: no metrics.json (expected the OUTPUT_DIR of a training run).")
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    if not records:
        raise UserError(f"{path} is empty.")
    return records


def read_results(path: str) -> dict:
    """``results.json`` of a run folder, or the file itself."""
    file = os.path.join(path, "results.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise UserError(f"{path}: no results.json (expected an evaluated OUTPUT_DIR or a results.json file).")
    with open(file) as f:
        return json.load(f)


def _series(records, key):
    pts = [(r["iteration"], r[key]) for r in records if key in r and "iteration" in r]
    return np.array(pts, dtype=np.float64).reshape(-1, 2)


def _tracked_metrics(records, pattern: str | None):
    """Evaluation keys to draw: those matching ``pattern``; by default the Rank-1 and mAP of the
    first feature among the metrics evaluated more than once (the periodic evaluations), so the
    panel stays readable when the final evaluation reports every protocol and source."""
    counts: dict = {}
    for r in records:
        for k in r:
            if k.endswith(("/Rank-1", "/mAP")):
                counts[k] = counts.get(k, 0) + 1
    if pattern:
        return sorted(k for k in counts if re.search(pattern, k))
    tracked = [k for k, c in counts.items() if c > 1] or list(counts)
    features = [k.rsplit("/", 2)[-2] for k in tracked]
    return sorted(k for k, f in zip(tracked, features) if f == features[0]) if features else []


def plot_training_curves(run_dirs, out: str, labels=None, dpi: int = 100, metrics: str | None = None) -> str:
    """Three panels against the iteration: every loss term (``loss_*``, ``total_loss``), the learning
    rate, and evaluation metrics (``metrics``: a regex on the flattened keys; default: see
    :func:`_tracked_metrics`); one line style per run."""
    labels = labels or [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    runs = [read_metrics(d) for d in run_dirs]
    fig = new_figure(15, 4)
    ax_loss, ax_lr, ax_eval = fig.subplots(1, 3)
    styles = ["-", "--", ":", "-."]
    for i, (records, label) in enumerate(zip(runs, labels)):
        keys = sorted({k for r in records for k in r})
        ls = styles[i % len(styles)]
        for key in [k for k in keys if k.startswith("loss_") or k == "total_loss"]:
            s = _series(records, key)
            ax_loss.plot(s[:, 0], s[:, 1], ls, label=f"{label}: {key}" if len(runs) > 1 else key)
        s = _series(records, "lr")
        ax_lr.plot(s[:, 0], s[:, 1], ls, label=label)
        for key in _tracked_metrics(records, metrics):
            s = _series(records, key)
            ax_eval.plot(s[:, 0], s[:, 1], ls, marker="o", label=f"{label}: {key}" if len(runs) > 1 else key)
    for ax, title in ((ax_loss, "losses"), (ax_lr, "learning rate"), (ax_eval, "evaluation (%)")):
        ax.set_title(title)
        ax.set_xlabel("iteration")
        if ax.lines:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, out, dpi)


def plot_cmc(paths, out: str, feature: str | None = None, labels=None, dpi: int = 100) -> str:
    """CMC (Rank-k at the reported ranks, mean ± std over trials) of every protocol, attribute source
    and feature of one or more ``results.json``; ``feature`` keeps the runs of that feature only."""
    fig = new_figure(7, 5)
    ax = fig.subplots()
    for i, path in enumerate(paths):
        payload = read_results(path)
        prefix = f"{labels[i]}: " if labels else (f"{os.path.basename(os.path.normpath(path))}: " if len(paths) > 1 else "")
        for run in payload.get("runs", []):
            name = run["feature"].split("/")[-1]
            if feature and name.split("+")[0] != feature:
                continue
            per_trial = run.get("per_trial") or []
            ranks = sorted({int(k.split("-")[1]) for t in per_trial for k in t if k.startswith("Rank-")})
            if not ranks:
                continue
            values = np.array([[t[f"Rank-{r}"] for r in ranks] for t in per_trial])
            mean, std = values.mean(0), values.std(0)
            source = run.get("attribute_source")
            line = ax.plot(ranks, mean, marker="o", label=f"{prefix}{run['task']} {name}" + (f" [{source}]" if source else ""))[0]
            ax.fill_between(ranks, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    if not ax.lines:
        raise UserError(f"No CMC to plot in {list(paths)}" + (f" for feature {feature!r}" if feature else "") + ".")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_title("CMC")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out, dpi)


def config_value(run_dir: str, key: str):
    """The value of a dotted config key in ``run_dir/config.yaml``."""
    import yaml  # noqa: PLC0415

    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise UserError(f"{run_dir}: no config.yaml (expected the OUTPUT_DIR of a run).")
    with open(path) as f:
        node = yaml.safe_load(f)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{path}: no config key {key!r}.")
        node = node[part]
    return node


def plot_sweep(run_dirs, out: str, key: str = "PAENET.AAL.LOSS_WEIGHT", metrics=None, dpi: int = 100) -> str:
    """Metrics of several runs against one config value (e.g. the attribute loss weight λ).
    ``metrics``: flattened result keys; default every ``Rank-1`` and ``mAP`` of the first run's first task/feature."""
    points = []
    for d in run_dirs:
        results = read_results(d)["results"]
        flat = {f"{task}/{k}": v for task, m in results.items() for k, v in m.items()}
        points.append((float(config_value(d, key)), flat, d))
    if not metrics:
        first = next(iter(points[0][1]))
        prefix = first.rsplit("/", 1)[0]
        metrics = [f"{prefix}/Rank-1", f"{prefix}/mAP"]
    points.sort(key=lambda p: p[0])
    fig = new_figure(6, 4)
    ax = fig.subplots()
    xs = [p[0] for p in points]
    for metric in metrics:
        missing = [d for _, flat, d in points if metric not in flat]
        if missing:
            raise UserError(f"{missing[0]}: results.json has no {metric!r}.")
        ax.plot(xs, [flat[metric] for _, flat, _ in points], marker="o", label=metric)
    ax.set_xlabel(key)
    ax.set_ylabel("%")
    ax.set_title(f"sweep of {key}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out, dpi)
