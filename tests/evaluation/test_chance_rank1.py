"""Chance Rank-1 (what a random ranking of the same gallery reaches) and the closing table's chance
and label-leakage columns."""
import numpy as np
import pytest
import torch

from fastreid_ext.evaluation.metrics import SYSU_REMOVAL, chance_rank1, eval_sysu
from fastreid_ext.evaluation.results_writer import LEAKAGE_NOTE, summary_table


def _loop_reference(q_pids, g_pids, q_cams, g_cams, removal):
    """Per query: kept gallery items (camera rule), true matches among them; mean over queries with one."""
    values = []
    for pid, cam in zip(q_pids, q_cams):
        keep = (~((cam == removal.query_camera) & (g_cams == removal.gallery_camera)) if removal
                else np.ones(len(g_pids), bool))
        matches = int(((g_pids == pid) & keep).sum())
        if matches:
            values.append(matches / keep.sum())
    return float(np.mean(values))


def test_chance_matches_a_per_query_loop_with_the_sysu_camera_rule():
    rng = np.random.default_rng(0)
    g_pids, g_cams = rng.integers(0, 12, 60), rng.choice([1, 2, 4, 5], 60)
    q_pids, q_cams = rng.integers(0, 14, 40), rng.choice([3, 6], 40)  # ids 12, 13 have no match
    got = chance_rank1(q_pids, g_pids, q_cams, g_cams, SYSU_REMOVAL)
    assert got == pytest.approx(_loop_reference(q_pids, g_pids, q_cams, g_cams, SYSU_REMOVAL), abs=1e-12)
    assert chance_rank1(q_pids, g_pids) == pytest.approx(_loop_reference(q_pids, g_pids, q_cams, g_cams, None), abs=1e-12)


def test_chance_single_shot_is_cameras_over_gallery_size_and_random_rankings_average_to_it():
    # 10 ids, one image in each of 2 cameras: every query's chance is 2 / 20
    g_pids, g_cams = np.repeat(np.arange(10), 2), np.tile([1, 4], 10)
    q_pids, q_cams = np.arange(10), np.full(10, 6)
    assert chance_rank1(q_pids, g_pids, q_cams, g_cams, SYSU_REMOVAL) == pytest.approx(0.1)
    rng = np.random.default_rng(1)
    r1 = [eval_sysu(torch.from_numpy(rng.random((10, 20))), q_pids, g_pids, q_cams, g_cams)[0][0] for _ in range(400)]
    assert float(np.mean(r1)) == pytest.approx(0.1, abs=0.02)


def test_chance_without_any_true_match_raises():
    with pytest.raises(ValueError, match="No valid query"):
        chance_rank1([5, 6], [1, 2, 3])


def test_summary_table_shows_chance_and_marks_ground_truth_rows_as_leakage():
    results = {"SYSU_MM01/all-single": {"gt/FC/Rank-1": 80.0, "gt/FC/chance": 2.5,
                                        "predicted/FC/Rank-1": 20.0, "predicted/FC/chance": 2.5}}
    runs = [{"task": "SYSU_MM01/all-single", "feature": "gt/FC", "leaks_labels": True},  # as the model declares
            {"task": "SYSU_MM01/all-single", "feature": "predicted/FC", "leaks_labels": False}]
    lines = summary_table(results, runs).splitlines()
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    assert header[1] == "attributes" and header[-1] == "chance R-1"
    body = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:4]]
    assert body[0][1:3] == ["gt (leakage)", "FC"] and body[0][-1] == "2.50"
    assert body[1][1:3] == ["predicted", "FC"] and body[1][-1] == "2.50"
    assert body[1][0].startswith("*") and not body[0][0].startswith("*")  # the headline never defaults to a leaking row
    legend = "\n".join(lines[4:])
    assert "label leakage" in legend and "random ranking of the same galleries" in legend
    assert LEAKAGE_NOTE.startswith("label leakage")


def test_same_camera_rule_chance_and_metrics_match_a_per_query_loop():
    """LLCM's rule: a query's own identity does not count in its own camera; other identities stay."""
    from fastreid_ext.evaluation.camera_rules import SameCameraRule
    from fastreid_ext.evaluation.metrics import compute_metrics
    from fastreid_ext.evaluation.distances import MatrixSource

    rng = np.random.default_rng(3)
    g_pids, g_cams = rng.integers(0, 8, 70), rng.integers(1, 5, 70)
    q_pids, q_cams = rng.integers(0, 8, 30), rng.integers(1, 5, 30)
    d = rng.random((30, 70))
    values, aps, r1 = [], [], []
    for i, (pid, cam) in enumerate(zip(q_pids, q_cams)):
        keep = ~((g_pids == pid) & (g_cams == cam))
        matches = int(((g_pids == pid) & keep).sum())
        if not matches:
            continue
        values.append(matches / keep.sum())
        order = np.argsort(d[i][keep], kind="stable")
        hits = (g_pids[keep][order] == pid)
        r1.append(float(hits[0]))
        aps.append(float((np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)).mean()))
    assert chance_rank1(q_pids, g_pids, q_cams, g_cams, SameCameraRule()) == pytest.approx(np.mean(values), abs=1e-12)
    m = compute_metrics(MatrixSource(d), q_pids, g_pids, q_cams, g_cams, SameCameraRule(), 20, False)
    assert m.mAP == pytest.approx(np.mean(aps), abs=1e-9) and m.cmc[0] == pytest.approx(np.mean(r1), abs=1e-6)
