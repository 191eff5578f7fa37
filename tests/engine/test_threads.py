"""Intra-op threads chosen from the CPU quota (fake cgroup folders, given affinity), the override,
the share of local processes, and default_setup applying and logging the choice."""
import argparse
import logging

import pytest
import torch

from fastreid_ext.config import get_cfg
from fastreid_ext.engine.setup import default_setup
from fastreid_ext.utils.threads import apply_num_threads, cgroup_cpu_limit, choose_threads


@pytest.fixture(autouse=True)
def _no_omp_env(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # an explicit one wins over the quota (tested below)


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _v2(tmp_path, text):
    (tmp_path / "cpu.max").write_text(text)
    return str(tmp_path)


def _v1(tmp_path, quota, period, folder="cpu,cpuacct"):
    d = tmp_path / folder
    d.mkdir()
    (d / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (d / "cpu.cfs_period_us").write_text(f"{period}\n")
    return str(tmp_path)


def test_cgroup_v2_quota(tmp_path):
    assert cgroup_cpu_limit(_v2(tmp_path, "150000 100000\n")) == pytest.approx(1.5)


def test_cgroup_v2_max_is_unlimited(tmp_path):
    assert cgroup_cpu_limit(_v2(tmp_path, "max 100000\n")) is None


def test_cgroup_v1_quota_and_unlimited(tmp_path):
    roots = {name: tmp_path / name for name in ("half", "unlimited", "three")}
    for d in roots.values():
        d.mkdir()
    assert cgroup_cpu_limit(_v1(roots["half"], 50000, 100000)) == 0.5
    assert cgroup_cpu_limit(_v1(roots["unlimited"], -1, 100000)) is None
    assert cgroup_cpu_limit(_v1(roots["three"], 300000, 100000, folder="cpu")) == 3.0


def test_missing_or_garbled_files_mean_no_limit(tmp_path):
    assert cgroup_cpu_limit(str(tmp_path / "absent")) is None
    assert cgroup_cpu_limit(_v2(tmp_path, "lots of cpus")) is None
    assert cgroup_cpu_limit(_v2(tmp_path, "")) is None


def test_quota_below_affinity_wins(tmp_path):
    choice = choose_threads(cgroup_root=_v2(tmp_path, "150000 100000"), affinity=8, host_cpus=64)
    assert choice.threads == 2 and "cgroup quota" in choice.reason  # 1.5 CPUs rounded up
    assert choice.sources == {"host cpus": 64, "affinity": 8, "cgroup quota": 1.5}


def test_affinity_below_quota_wins(tmp_path):
    choice = choose_threads(cgroup_root=_v2(tmp_path, "800000 100000"), affinity=3, host_cpus=64)
    assert choice.threads == 3 and "affinity" in choice.reason


def test_no_quota_no_affinity_uses_host_count(tmp_path):
    assert choose_threads(cgroup_root=str(tmp_path), affinity=None, host_cpus=6).threads == 6


def test_local_processes_share_the_quota(tmp_path):
    root = _v2(tmp_path, "400000 100000")
    assert choose_threads(local_processes=2, cgroup_root=root, affinity=16, host_cpus=16).threads == 2
    assert choose_threads(local_processes=8, cgroup_root=root, affinity=16, host_cpus=16).threads == 1
    assert "shared by 8 local processes" in choose_threads(local_processes=8, cgroup_root=root, affinity=16).reason


def test_override_wins_and_negative_is_refused(tmp_path):
    choice = choose_threads(override=5, cgroup_root=_v2(tmp_path, "100000 100000"), affinity=1)
    assert choice.threads == 5 and "override" in choice.reason
    with pytest.raises(ValueError, match="NUM_THREADS"):
        choose_threads(override=-1)


def test_apply_sets_torch_threads_and_logs(tmp_path, keep_threads, caplog):
    with caplog.at_level(logging.INFO, logger="fastreid_ext.utils.threads"):
        choice = apply_num_threads(0, local_processes=1, cgroup_root=_v2(tmp_path, "100000 100000"), load=0.0)
    assert choice.threads == 1 and torch.get_num_threads() == 1
    assert "Intra-op threads: 1" in caplog.text and "cgroup quota" in caplog.text


def test_busy_machine_gets_a_hint_only_with_several_threads(tmp_path, keep_threads, caplog):
    root = _v2(tmp_path, "200000 100000")
    with caplog.at_level(logging.INFO, logger="fastreid_ext.utils.threads"):
        apply_num_threads(0, local_processes=1, cgroup_root=root, load=0.5)
    assert "NUM_THREADS 1" not in caplog.text
    with caplog.at_level(logging.INFO, logger="fastreid_ext.utils.threads"):
        apply_num_threads(0, local_processes=1, cgroup_root=root, load=3.0)
    assert "load average (3.0)" in caplog.text and "NUM_THREADS 1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fastreid_ext.utils.threads"):
        apply_num_threads(2, local_processes=1, cgroup_root=root, load=3.0)  # the user chose: no hint
    assert "NUM_THREADS 1" not in caplog.text


def test_apply_reads_local_world_size(tmp_path, keep_threads, monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    choice = apply_num_threads(0, cgroup_root=_v2(tmp_path, "400000 100000"))
    assert choice.threads == 1 and "4 local processes" in choice.reason


def test_default_setup_applies_the_config_key(tmp_path, keep_threads):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.NUM_THREADS = 1 if torch.get_num_threads() != 1 else 2
    want = cfg.NUM_THREADS
    default_setup(cfg, argparse.Namespace(config_file=None, eval_only=False))
    assert torch.get_num_threads() == want
    assert f"Intra-op threads: {want}" in (tmp_path / "out" / "log.txt").read_text()


def test_an_explicit_omp_num_threads_is_a_choice_too(tmp_path):
    root = _v2(tmp_path, "800000 100000")
    choice = choose_threads(cgroup_root=root, affinity=8, host_cpus=8, env={"OMP_NUM_THREADS": "1"})
    assert choice.threads == 1 and "OMP_NUM_THREADS 1 (environment)" in choice.reason
    assert choose_threads(cgroup_root=root, affinity=8, host_cpus=8, env={"OMP_NUM_THREADS": "x"}).threads == 8
    assert choose_threads(override=3, cgroup_root=root, affinity=8, env={"OMP_NUM_THREADS": "1"}).threads == 3


def test_intra_op_threads_is_scoped_and_restored_on_error(keep_threads):
    from fastreid_ext.utils.threads import intra_op_threads

    torch.set_num_threads(2)
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), intra_op_threads(1):
        raise RuntimeError("kernel failed")
    assert torch.get_num_threads() == 2
    with intra_op_threads(0):  # 0: the caller's threads
        assert torch.get_num_threads() == 2


def test_thread_probe_keeps_the_faster_choice_per_unit_of_work():
    """auto (0): a warm-up call and a timed one on the run's threads, then one thread, then whichever
    took less time per unit of work; a positive setting is used as it is and never probed."""
    from fastreid_ext.utils.threads import ThreadProbe

    busy = ThreadProbe(0, run_threads=2)
    assert busy.choose() == 2
    busy.record(2, seconds=100.0, work=1)  # warm-up: not compared
    assert busy.choose() == 2
    busy.record(2, seconds=4.0, work=1000)
    assert busy.choose() == 1
    busy.record(1, seconds=1.0, work=500)  # 2 ms per unit against 4 ms: one thread wins
    assert [busy.choose() for _ in range(3)] == [1, 1, 1]
    idle = ThreadProbe(0, run_threads=2)
    idle.record(2, seconds=0.1, work=1000)
    idle.record(2, seconds=1.0, work=1000)
    idle.record(1, seconds=1.8, work=1000)
    assert idle.choose() == 2
    assert ThreadProbe(0, run_threads=1).choose() == 1
    fixed = ThreadProbe(3, run_threads=2)
    fixed.record(3, seconds=9.0, work=1)
    assert fixed.choose() == 3


def test_metric_kernel_runs_on_the_kernel_threads_with_the_same_numbers(keep_threads, monkeypatch):
    """TEST.RANKING.KERNEL_THREADS reaches the kernel through RankingOptions (0 = auto by default:
    the run's threads on the first block, one on the second, then the faster), the distance blocks
    keep the run's threads, and the metrics do not depend on it."""
    import numpy as np

    from fastreid_ext.evaluation import match_positions, metrics
    from fastreid_ext.evaluation.distances import FeatureSource
    from fastreid_ext.evaluation.types import RankingOptions

    cfg = get_cfg()
    assert RankingOptions.from_config(cfg).kernel_threads == cfg.TEST.RANKING.KERNEL_THREADS == 0
    seen = []
    kernel = match_positions.bucket_chunk_stats
    monkeypatch.setattr(metrics, "bucket_chunk_stats", lambda *a, **k: seen.append(torch.get_num_threads()) or kernel(*a, **k))
    torch.set_num_threads(2)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    qp, gp = rng.integers(0, 20, 75), rng.integers(0, 20, 300)
    qf, gf = torch.randn(75, 16, generator=gen), torch.randn(300, 16, generator=gen)
    one = metrics.compute_metrics(FeatureSource(qf, gf), qp, gp, max_rows=25, kernel_threads=1)
    two = metrics.compute_metrics(FeatureSource(qf, gf), qp, gp, max_rows=25, kernel_threads=2)
    auto = metrics.compute_metrics(FeatureSource(qf, gf), qp, gp, max_rows=25, kernel_threads=0)
    assert seen[:6] == [1, 1, 1, 2, 2, 2] and seen[6:9] == [2, 2, 1]
    assert torch.get_num_threads() == 2
    for m in (two, auto):
        assert (one.mAP, one.mINP, one.cmc.tolist()) == (m.mAP, m.mINP, m.cmc.tolist())


def test_map_in_order_keeps_order_and_laziness_on_single_threaded_workers(keep_threads):
    """TEST.RANKING.TRIAL_WORKERS' pool: results in the jobs' order whatever finishes first, at most
    workers + 1 jobs taken ahead of the consumer (a lazy source stays lazy), one state per worker
    thread, each worker on one intra-op thread, the caller's threads untouched, errors re-raised."""
    import threading
    import time

    from fastreid_ext.utils.threads import map_in_order, per_thread_intra_op

    if not per_thread_intra_op():
        pytest.skip("torch's thread setting is process-wide here: map_in_order runs sequentially")
    torch.set_num_threads(2)
    taken = []

    def jobs(n):
        for i in range(n):
            taken.append(i)
            yield lambda state, i=i: (time.sleep(0.02 * (i % 3 == 0)), i, id(state), torch.get_num_threads(),
                                      threading.get_ident())[1:]

    out = []
    for result in map_in_order(jobs(9), 2, object):
        out.append(result)
        assert len(taken) <= len(out) + 2 + 1  # consumed + in flight (workers + 1) + the one being submitted
    assert [r[0] for r in out] == list(range(9))
    assert {r[2] for r in out} == {1}
    states = {r[3]: r[1] for r in out}  # worker thread -> its state
    assert len(states) == 2 and len(set(states.values())) == 2 and threading.get_ident() not in states
    assert torch.get_num_threads() == 2
    sequential = list(map_in_order(jobs(3), 1, object))
    assert {r[3] for r in sequential} == {threading.get_ident()} and len({r[1] for r in sequential}) == 1

    def failing(state):
        raise ValueError("trial 3 failed")

    with pytest.raises(ValueError, match="trial 3 failed"):
        list(map_in_order([lambda s: 1, failing, lambda s: 2], 2, object))
