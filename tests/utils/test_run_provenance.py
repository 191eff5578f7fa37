"""Run records in a scratch git repository: a commit that changes only results or documentation is the
same code, one that changes code is not; an uncommitted change marks the tree dirty with a hash of the
difference; the config hash ignores where files live and nothing else."""
import subprocess

import pytest

from fastreid_ext.utils.run_provenance import config_sha256, differences, git_state, run_record


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@t")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "model.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("r\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "a")
    return tmp_path


def _commit(repo, path, text):
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", path)


def _record(repo, threads=1):
    return {"config_sha256": "c", **git_state(str(repo)), "threads": threads, "torch": "t", "data": {}}


def test_commits_count_only_when_code_changes(repo):
    first = _record(repo)
    assert first["dirty"] is False and first["diff_sha256"] is None and len(first["commit"]) == 40
    _commit(repo, "README.md", "new reading\n")
    _commit(repo, "bench/results/synthetic_sysu/baseline/seed_0.json", "{}\n")
    same = _record(repo)
    assert same["commit"] != first["commit"] and differences(first, same, str(repo)) == []
    _commit(repo, "model.py", "x = 2\n")
    changed = _record(repo)
    assert differences(first, changed, str(repo)) == [f"commit {first['commit'][:10]} -> {changed['commit'][:10]}"]
    assert differences(first, _record(repo, threads=2), str(repo))[-1] == "threads 1 -> 2"
    assert differences(None, changed, str(repo)) == ["no run record (run.json) beside its results"]


def test_uncommitted_code_is_dirty(repo):
    clean = _record(repo)
    (repo / "docs").mkdir()
    (repo / "docs" / "x.md").write_text("doc\n")
    assert _record(repo)["dirty"] is False  # documentation does not change a run
    (repo / "model.py").write_text("x = 3\n")
    dirty = _record(repo)
    assert dirty["dirty"] is True and dirty["diff_sha256"]
    assert differences(clean, dirty, str(repo)) == ["dirty False -> True", f"diff_sha256 None -> {dirty['diff_sha256'][:12]}"]
    (repo / "model.py").write_text("x = 4\n")
    assert differences(dirty, _record(repo), str(repo))[0].startswith("diff_sha256 ")  # another uncommitted change


def test_config_hash_ignores_paths_only(repo_root):
    from fastreid_ext.config import load_config

    def cfg(*opts):
        return load_config(str(repo_root / "configs" / "Baseline" / "sysu.yml"), ["MODEL.BACKBONE.PRETRAIN", "False", *opts])

    base = config_sha256(cfg("OUTPUT_DIR", "/a", "DATASETS.ROOT", "/d1"))
    assert config_sha256(cfg("OUTPUT_DIR", "/b", "DATASETS.ROOT", "/d2")) == base
    assert config_sha256(cfg("OUTPUT_DIR", "/a", "DATASETS.ROOT", "/d1", "SEED", "3")) != base
    record = run_record(cfg(), str(repo_root), 2, {"preset": "benchmark"})
    assert record["threads"] == 2 and record["data"] == {"preset": "benchmark"} and record["torch"]
