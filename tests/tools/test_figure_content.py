"""The content of the paper figures, read from the matplotlib objects: training curves (labelled axes,
legends outside the data, a one-point series as a marker), CMC over every rank up to TEST.MAX_RANK
(one series per run, distinct colour + line style, integer ticks), and series styles for many series."""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgba  # noqa: E402

from fastreid_ext.visualization import curves  # noqa: E402


def _legend_outside(ax):
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    return legend.x0 >= ax.get_window_extent().x1 - 1  # right of the axes box


def test_series_styles_are_distinct():
    for n in (3, 12, 24):
        styles = curves.series_styles(n)
        assert len({to_rgba(c) for c, _ in styles}) == n and len(set(styles)) == n


def test_training_curves_without_periodic_evaluation(tmp_path):
    records = [{"iteration": it, "loss_cls": 3.0 / it, "loss_tri": 1.0 / it, "total_loss": 4.0 / it, "lr": 1e-3 * it}
               for it in range(1, 6)]
    keys = [f"SYSU_MM01/{t}/FC/{m}" for t in ("all-single", "all-multi", "indoor-single") for m in ("Rank-1", "mAP")]
    records.append({"iteration": 5, **{k: 10.0 + i for i, k in enumerate(keys)}})  # the final evaluation only
    fig = curves.training_curves_figure([records], ["run"])
    ax_loss, ax_lr, ax_eval = fig.axes
    assert [len(ax.lines) for ax in (ax_loss, ax_lr, ax_eval)] == [3, 1, 6]
    for ax in (ax_loss, ax_lr, ax_eval):
        assert ax.get_xlabel() == "iteration" and ax.get_ylabel() and _legend_outside(ax)
        assert len({to_rgba(line.get_color()) for line in ax.lines}) == len(ax.lines)
    assert all(line.get_linestyle() == "None" and line.get_marker() == "o" for line in ax_eval.lines)  # one point each
    assert all(line.get_linestyle() != "None" for line in ax_loss.lines)


def _results(path, max_rank, n_runs, full=True):
    rng = np.random.default_rng(0)
    runs = []
    for i in range(n_runs):
        curve = np.sort(rng.uniform(0, 100, (2, max_rank)), axis=1)
        runs.append({"task": f"SYSU_MM01/task{i}", "feature": "FC", "attribute_source": None,
                     "per_trial": [{f"Rank-{r}": float(c[r - 1]) for r in (1, 5, 10, 20) if r <= max_rank} for c in curve],
                     **({"cmc_per_trial": curve.tolist()} if full else {})})
    path.write_text(json.dumps({"runs": runs}))
    return runs


def test_cmc_every_rank_distinct_series_and_integer_ticks(tmp_path):
    runs = _results(tmp_path / "results.json", 20, 12)
    fig = curves.cmc_figure([str(tmp_path / "results.json")])
    ax = fig.axes[0]
    assert len(ax.lines) == 12
    assert all(list(line.get_xdata()) == list(range(1, 21)) for line in ax.lines)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.mean(runs[0]["cmc_per_trial"], axis=0))
    assert len({to_rgba(line.get_color()) for line in ax.lines}) == 12
    assert len({(to_rgba(line.get_color()), line.get_linestyle()) for line in ax.lines}) == 12
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 20]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlabel() == "rank" and "%" in ax.get_ylabel() and _legend_outside(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "SYSU_MM01/task0 FC"


def test_cmc_of_older_results_uses_the_reported_ranks(tmp_path):
    _results(tmp_path / "results.json", 20, 2, full=False)
    ax = curves.cmc_figure([str(tmp_path / "results.json")]).axes[0]
    assert [list(line.get_xdata()) for line in ax.lines] == [[1, 5, 10, 20]] * 2
