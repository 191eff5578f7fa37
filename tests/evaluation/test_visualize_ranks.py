"""tools/visualize_ranks.py writes PNG grids from features saved by the evaluator."""
import importlib.util

import cv2
import numpy as np
import pytest

from fastreid_ext.utils.errors import UserError

from eval_testkit import PooledPixelModel, tiny_cfg
from fastreid_ext.data.datasets.build import build_dataset
from fastreid_ext.evaluation import build_evaluator


def load_tool(repo_root):
    spec = importlib.util.spec_from_file_location("visualize_ranks", repo_root / "tools" / "visualize_ranks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def saved_features(sysu_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("vis_run")
    cfg = tiny_cfg(sysu_root, out, trials=1)
    cfg.TEST.SAVE_FEATURES = True
    build_evaluator(cfg, build_dataset(cfg, "SYSU_MM01"), str(out)).evaluate(PooledPixelModel(), quick=True)
    return out / "features.npz"


def test_writes_framed_pngs_for_chosen_queries(repo_root, saved_features, tmp_path):
    tool = load_tool(repo_root)
    written = tool.main(["--features", str(saved_features), "--protocol", "all-single", "--queries", "0", "3",
                         "--topk", "4", "--output", str(tmp_path)])
    assert [p.rsplit("_", 1)[1] for p in written] == ["q00000.png", "q00003.png"]
    img = cv2.imread(written[0])
    assert img.shape == (128 + 8, (64 + 8) * 5 + 8, 3)  # query, gap, 4 ranked tiles (default 128x64 + borders)
    for j in range(4):  # every ranked tile has a green or red frame
        assert tuple(img[1, (64 + 8) + 8 + j * (64 + 8) + 1]) in {(0, 170, 0), (0, 0, 230)}

def test_frames_follow_identity(saved_features):
    from fastreid_ext.evaluation.rank_visualization import protocol_pools, ranked_lists, render_rank_grid
    from fastreid_ext.evaluation.saved_features import load_features

    from fastreid_ext.evaluation.sysu_protocol import SYSUProtocol

    query, gallery, _ = load_features(str(saved_features))
    q, g, removal = protocol_pools(query, gallery, SYSUProtocol(), "indoor-single", trial=0)
    [ranked] = ranked_lists(q, g, "FC", [0], k=3, removal=removal)
    assert all(g.camids[i] != 2 for i in ranked) or q.camids[0] != 3
    grid = render_rank_grid(q, g, 0, ranked, size=(40, 20))
    tile = 20 + 8  # width + borders
    for j, gi in enumerate(ranked):
        x0 = tile + 8 + j * tile
        expected = (0, 170, 0) if g.pids[gi] == q.pids[0] else (0, 0, 230)
        assert tuple(grid[0, x0 + 1]) == expected


def test_random_queries_and_bad_rows(repo_root, saved_features, tmp_path):
    tool = load_tool(repo_root)
    written = tool.main(["--features", str(saved_features), "--num-queries", "3", "--output", str(tmp_path)])
    assert len(written) == 3 and all(cv2.imread(p) is not None for p in written)
    with pytest.raises(UserError, match="out of range"):
        tool.main(["--features", str(saved_features), "--queries", "100000", "--output", str(tmp_path)])


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_rank_sort_draws_the_worst_or_best_queries_by_ap(repo_root, saved_features, tmp_path, order):
    """--rank-sort: the chosen queries are those of lowest (highest) AP, against APs from an independent
    full distance matrix (scikit-learn's average_precision_score, no ties on these features)."""
    metrics = pytest.importorskip("sklearn.metrics")
    import torch.nn.functional as F

    from fastreid_ext.evaluation.saved_features import load_features
    from fastreid_ext.evaluation.sysu_protocol import SYSUProtocol

    query, gallery, _ = load_features(str(saved_features))
    q, g, rule = SYSUProtocol().pools(query, gallery, "all-single", 0)
    sim = (F.normalize(q.features["FC"].float(), dim=1) @ F.normalize(g.features["FC"].float(), dim=1).t()).numpy()
    q_res, g_rem = rule.pair_masks(q.camids, g.camids)
    ref = []
    for i in range(len(q)):
        keep = ~g_rem if q_res[i] else np.ones(len(g), bool)
        truth = g.pids[keep] == q.pids[i]
        ref.append(metrics.average_precision_score(truth, sim[i, keep]) if truth.any() else np.inf)
    ref = np.asarray(ref)
    tool = load_tool(repo_root)
    written = tool.main(["--features", str(saved_features), "--protocol", "all-single", "--rank-sort", order,
                         "--num-queries", "3", "--topk", "2", "--output", str(tmp_path)])
    rows = [int(p.rsplit("_q", 1)[1][:-4]) for p in written]
    aps = [float(p.rsplit("_AP", 1)[1].split("_")[0]) for p in written]
    assert [p.rsplit("_", 3)[1] for p in written] == ["000", "001", "002"]
    finite = np.sort(ref[np.isfinite(ref)])
    expected = finite[:3] if order == "ascending" else finite[::-1][:3]
    np.testing.assert_allclose(ref[rows], expected, atol=1e-9)
    np.testing.assert_allclose(aps, 100 * expected, atol=0.051)  # the AP in the file name, one decimal
    assert "_image-only_FC_" in written[0]  # the source and feature in the name
    with pytest.raises(UserError, match="without --queries"):
        tool.main(["--features", str(saved_features), "--rank-sort", order, "--queries", "1", "--output", str(tmp_path)])


def test_several_queries_per_image(repo_root, saved_features, tmp_path):
    tool = load_tool(repo_root)
    written = tool.main(["--features", str(saved_features), "--protocol", "all-single", "--queries", "0", "1", "2",
                         "--topk", "3", "--per-image", "2", "--output", str(tmp_path)])
    assert [p.rsplit("/", 1)[1] for p in written] == ["SYSU_MM01_all-single_image-only_FC_q00000-q00001.png",
                                                     "SYSU_MM01_all-single_image-only_FC_q00002.png"]
    two, one = cv2.imread(written[0]), cv2.imread(written[1])
    assert two.shape[0] == 2 * one.shape[0] + 8 and two.shape[1] == one.shape[1]  # stacked, an 8-px gap between
    with pytest.raises(UserError, match="--per-image 0"):
        tool.main(["--features", str(saved_features), "--per-image", "0", "--output", str(tmp_path)])


def test_a_missing_features_file_is_one_user_error_naming_it_and_the_per_source_names(repo_root, tmp_path):
    missing = tmp_path / "features.npz"
    with pytest.raises(UserError, match=r"features\.npz: no such features file .*features-<source>\.npz"):
        load_tool(repo_root).main(["--features", str(missing), "--output", str(tmp_path)])
