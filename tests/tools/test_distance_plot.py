"""tools/plot.py distances: one panel per SYSU task holding exactly a positive and a negative histogram
(distinct colours, labelled axes, legend), over the pairs the camera rule keeps; bad input is one line."""
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from tools_testkit import load_tool
from fastreid_ext.evaluation.saved_features import save_features
from fastreid_ext.evaluation.types import FeatureSet
from fastreid_ext.utils.errors import UserError

pytest.importorskip("matplotlib")


def _sysu_like_npz(path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 8))

    def feature_set(cams, per_cam, role):
        pids = np.repeat(np.arange(6), len(cams) * per_cam)
        camids = np.tile(np.repeat(cams, per_cam), 6)
        feats = torch.as_tensor(centres[pids] + 0.7 * rng.normal(size=(len(pids), 8)), dtype=torch.float32)
        return FeatureSet({"FC": feats}, pids, camids, [f"{role}/{i:03d}.jpg" for i in range(len(pids))])

    query, gallery = feature_set([3, 6], 2, "q"), feature_set([1, 2, 4, 5], 3, "g")
    save_features(str(path), query, gallery, ["FC"], "SYSU_MM01", "sysu")
    return query, gallery


def test_one_panel_per_task_with_two_labelled_series(tmp_path):
    from fastreid_ext.visualization.distance_histograms import distance_figure, task_pair_distances

    query, _ = _sysu_like_npz(tmp_path / "features.npz")
    panels = task_pair_distances(str(tmp_path / "features.npz"))
    assert [p[0] for p in panels] == ["all-single", "all-multi", "indoor-single", "indoor-multi"]
    task, pos, neg = panels[0]  # all-single: one image per (identity, camera); camera-3 queries skip camera 2
    cam3 = int((query.camids == 3).sum())
    assert len(pos) == len(query) * 4 - cam3 and len(pos) + len(neg) == len(query) * 24 - cam3 * 6
    assert np.median(pos) < np.median(neg)  # the identities are separable
    fig = distance_figure(panels)
    assert len(fig.axes) == 4
    for ax, (task, pos, neg) in zip(fig.axes, panels):
        assert ax.get_title() == task and ax.get_xlabel() and ax.get_ylabel() == "density"
        labels = [c.patches[0].get_label() for c in ax.containers]  # hist labels its first bar
        assert len(ax.containers) == 2 and sorted(lab.split()[0] for lab in labels) == ["negative", "positive"]
        colours = {to_rgba(c.patches[0].get_facecolor())[:3] for c in ax.containers}
        assert len(colours) == 2
        assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 2
        assert f"({len(pos):,})" in " ".join(labels)


def test_tool_writes_the_figure_and_rejects_bad_input(repo_root, tmp_path):
    _sysu_like_npz(tmp_path / "features.npz")
    plot = load_tool(repo_root, "plot")
    out = plot.main(["distances", str(tmp_path / "features.npz"), "--output", str(tmp_path / "d.png"), "--dpi", "40"])
    assert (tmp_path / "d.png").stat().st_size > 1000 and out == str(tmp_path / "d.png")
    with pytest.raises(UserError, match="no feature 'NOPE'"):
        plot.main(["distances", str(tmp_path / "features.npz"), "--feature", "NOPE", "--output", str(tmp_path / "x.png")])
    with pytest.raises(UserError, match="no such features file"):
        plot.main(["distances", str(tmp_path / "none.npz"), "--output", str(tmp_path / "x.png")])
