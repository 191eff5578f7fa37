"""Line figures from a run folder: training curves (``metrics.json``), CMC curves (``results.json``)
and a sweep of one config value over several runs (``config.yaml`` + ``results.json``)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

from ..utils.errors import UserError

__all__ = ["new_figure", "series_styles", "read_metrics", "read_results", "training_curves_figure", "plot_training_curves",
           "cmc_figure", "plot_cmc", "plot_sweep", "config_value"]


def new_figure(width: float, height: float):
    """A matplotlib Figure not attached to pyplot (no global backend state); saved at a fixed size."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional dependency, imported when drawing

    return Figure(figsize=(width, height))


LINE_STYLES = ("-", "--", ":", "-.")


def series_styles(n: int) -> list[tuple[tuple, str]]:
    """``n`` (colour, line style) pairs, colours all distinct (tab10, tab20, then a sampled colour map)
    and styles cycling, so series stay apart in colour and in black-and-white print."""
    import matplotlib  # noqa: PLC0415

    if n <= 10:
        colours = [matplotlib.colormaps["tab10"](i) for i in range(n)]
    elif n <= 20:
        colours = [matplotlib.colormaps["tab20"](i) for i in range(n)]
    else:
        colours = [matplotlib.colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, n)]
    return [(c, LINE_STYLES[i % len(LINE_STYLES)]) for i, c in enumerate(colours)]


def _legend_outside(ax, fontsize=7) -> None:
    """The legend right of the axes, never over the data."""
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


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


def training_curves_figure(runs, labels, metrics: str | None = None):
    """Three panels against the iteration (losses, learning rate, evaluation), legends outside the
    data; a series of one point is drawn as a marker. ``runs``: records of ``metrics.json`` per run."""
    fig = new_figure(15, 4)
    ax_loss, ax_lr, ax_eval = fig.subplots(1, 3)
    series = {ax_loss: [], ax_lr: [], ax_eval: []}
    for i, (records, label) in enumerate(zip(runs, labels)):
        keys = sorted({k for r in records for k in r})
        named = (lambda k: f"{label}: {k}" if len(runs) > 1 else k)  # noqa: E731
        series[ax_loss] += [(named(k), _series(records, k), i) for k in keys if k.startswith("loss_") or k == "total_loss"]
        series[ax_lr].append((label, _series(records, "lr"), i))
        series[ax_eval] += [(named(k), _series(records, k), i) for k in _tracked_metrics(records, metrics)]
    titles = {ax_loss: ("losses", "loss"), ax_lr: ("learning rate", "learning rate"),
              ax_eval: ("evaluation", "matching rate / mAP (%)")}
    for ax, items in series.items():
        items = [it for it in items if len(it[1])]
        for (name, s, _), (colour, ls) in zip(items, series_styles(len(items))):
            one = len(s) == 1
            ax.plot(s[:, 0], s[:, 1], linestyle="none" if one else ls, color=colour,
                    marker="o" if one or ax is ax_eval else None, markersize=4, label=name)
        title, ylabel = titles[ax]
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.lines:
            _legend_outside(ax, 6)
    fig.tight_layout()
    return fig


def plot_training_curves(run_dirs, out: str, labels=None, dpi: int = 100, metrics: str | None = None) -> str:
    """Training curves of run folders (``metrics.json``); ``metrics``: a regex on the flattened
    evaluation keys (default: see :func:`_tracked_metrics`)."""
    labels = labels or [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    runs = [read_metrics(d) for d in run_dirs]
    return _save(training_curves_figure(runs, labels, metrics), out, dpi)


def _cmc_of_run(run: dict):
    """(ranks, per-trial values in percent) of one ``results.json`` run: the full curve (every rank up to
    ``TEST.MAX_RANK``) when saved, else the reported ranks of ``per_trial``."""
    curves = run.get("cmc_per_trial") or []
    if curves:
        values = np.array(curves, dtype=np.float64)
        return list(range(1, values.shape[1] + 1)), values
    per_trial = run.get("per_trial") or []
    ranks = sorted({int(k.split("-")[1]) for t in per_trial for k in t if k.startswith("Rank-")})
    return ranks, np.array([[t[f"Rank-{r}"] for r in ranks] for t in per_trial], dtype=np.float64)


def cmc_figure(paths, feature: str | None = None, labels=None):
    """The CMC figure of :func:`plot_cmc` (a matplotlib Figure)."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    curves = []
    for i, path in enumerate(paths):
        payload = read_results(path)
        prefix = f"{labels[i]}: " if labels else (f"{os.path.basename(os.path.normpath(path))}: " if len(paths) > 1 else "")
        for run in payload.get("runs", []):
            name = run["feature"].split("/")[-1]
            if feature and name.split("+")[0] != feature:
                continue
            ranks, values = _cmc_of_run(run)
            if ranks:
                source = run.get("attribute_source")
                curves.append((f"{prefix}{run['task']} {name}" + (f" [{source}]" if source else ""), ranks, values))
    if not curves:
        raise UserError(f"No CMC to plot in {list(paths)}" + (f" for feature {feature!r}" if feature else "") + ".")
    fig = new_figure(7, 5)
    ax = fig.subplots()
    for (label, ranks, values), (colour, ls) in zip(curves, series_styles(len(curves))):
        mean, std = values.mean(0), values.std(0)
        ax.plot(ranks, mean, linestyle=ls, color=colour, marker="o" if len(ranks) <= 5 else None, markersize=3,
                label=label)
        ax.fill_between(ranks, mean - std, mean + std, color=colour, alpha=0.12)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(1, max(r[-1] for _, r, _ in curves))
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_title("CMC (mean ± std over trials)")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_cmc(paths, out: str, feature: str | None = None, labels=None, dpi: int = 100) -> str:
    """CMC of every protocol, attribute source and feature of one or more ``results.json`` (every rank
    up to ``TEST.MAX_RANK``; files written before the full curve was saved: the reported ranks);
    ``feature`` keeps the runs of that feature only."""
    return _save(cmc_figure(paths, feature, labels), out, dpi)


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
