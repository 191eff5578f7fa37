"""Rank lists: readable labels, per-query AP, attribute source and options in the file names."""
import cv2
import numpy as np
import pytest

from fastreid_ext.utils.errors import UserError
import torch

from tools_testkit import load_tool
from fastreid_ext.evaluation.types import FeatureSet
from fastreid_ext.evaluation.rank_visualization import average_precision, render_rank_grid, write_rank_grids


def test_average_precision_golden():
    assert average_precision([True, False, True]) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert average_precision([False, False, True]) == pytest.approx(1 / 3)
    assert np.isnan(average_precision([False, False]))


def test_labels_are_readable_on_a_white_image(tmp_path):
    white = tmp_path / "white.png"
    cv2.imwrite(str(white), np.full((128, 64, 3), 255, np.uint8))
    q = FeatureSet({}, np.array([1]), np.array([3]), [str(white)])
    g = FeatureSet({}, np.array([1, 2]), np.array([1, 2]), [str(white)] * 2)
    grid = render_rank_grid(q, g, 0, [0, 1], size=(128, 64), distances=[0.1, 0.2], ap=0.5)
    tile = grid[4:4 + 128, (64 + 8) + 8 + 4:(64 + 8) + 8 + 4 + 64]  # first ranked image, inside its frame
    band = tile[-30:]
    assert band.mean() < 120  # a dark band under the text ...
    assert (band > 200).any()  # ... with light text on it
    assert tile[:40].min() == 255  # the image itself is untouched above the band


def test_file_names_hold_source_and_options_and_rerank_changes_order(repo_root, tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 8))
    gp, qp = np.repeat(np.arange(6), 5), np.repeat(np.arange(6), 2)
    g = FeatureSet({"FC": torch.from_numpy(centres[gp] + 0.9 * rng.normal(size=(30, 8))).float()}, gp, np.ones(30, int),
             [f"g{i}.jpg" for i in range(30)])
    q = FeatureSet({"FC": torch.from_numpy(centres[qp] + 0.9 * rng.normal(size=(12, 8))).float()}, qp, np.full(12, 2),
             [f"q{i}.jpg" for i in range(12)])
    plain = write_rank_grids(q, g, "FC", range(12), 5, str(tmp_path), "D_v2i_gt_FC", backend="torch", size=(32, 16))
    rer = write_rank_grids(q, g, "FC", range(12), 5, str(tmp_path), "D_v2i_gt_FC+rerank", backend="torch",
                           size=(32, 16), rerank=(6, 3, 0.3))
    assert len(set(plain) | set(rer)) == 24  # no overwriting
    assert any(not np.array_equal(cv2.imread(a), cv2.imread(b)) for a, b in zip(plain, rer))


def test_visualize_ranks_names_by_source_and_rerank(repo_root, tmp_path):
    from fastreid_ext.evaluation.saved_features import save_features

    rng = np.random.default_rng(1)
    pools = [FeatureSet({"FC": torch.from_numpy(rng.normal(size=(n, 6))).float()}, np.arange(n) % 4, np.full(n, c),
                  [f"{c}_{i}.jpg" for i in range(n)]) for n, c in ((8, 1), (12, 2))]
    npz = tmp_path / "features-gt.npz"
    save_features(str(npz), pools[0], pools[1], ["FC"], "RegDB", "regdb", "gt")
    tool = load_tool(repo_root, "visualize_ranks")
    written = tool.main(["--features", str(npz), "--queries", "0", "--rerank", "--output", str(tmp_path / "vis")])
    assert [p.rsplit("/", 1)[1] for p in written] == ["RegDB_visible2infrared_gt_FC+rerank_q00000.png"]
    with pytest.raises(UserError, match="need --config-file"):
        tool.main(["--features", str(npz), "--attribute-source", "gt", "--output", str(tmp_path)])
