"""Every shell command of the README and the docs runs verbatim from a fresh clone after `make demo`.

The commands are read from the docs themselves (tests/docs_shell_commands.py), so a command added to
a doc without running fails here. They run in a copy of the repository's files whose ``.venv`` is the
interpreter running the suite and which holds the state `make demo` leaves (``datasets/demo``,
``output/paenet/demo``), made cheaply: the demo's own command with fewer identities and iterations.
The few commands that cannot run here are in ``CANNOT_RUN`` with the reason, and each is still checked
as far as it can be (a full recipe without its dataset must stop at once with the one-line error that
names the dataset folder and datasets/README.md, so its config, imports and keys resolved as written;
those fail-fast commands share one interpreter, each script run as __main__ with its verbatim argv).
"""
import concurrent.futures
import configparser
import json
import os
import pathlib
import resource
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from docs_shell_commands import commands_outside_shell_fences, doc_commands, fenced_text

REPO = pathlib.Path(__file__).resolve().parents[1]
# the README's extension example: (language, first line naming the file the reader writes)
EXTENSION_FILES = (("python", "# ../research/mypkg/__init__.py"), ("yaml", "# ../research/my.yml, beside mypkg/ (any folder)"))
# `make demo`'s command (checked against the Makefile below) and what the fixture adds to make it cheap:
# the same folders and keys, 24 instead of 160 identities, 2 iterations instead of 240, 2 instead of 10 trials
DEMO_COMMAND = ".venv/bin/python tools/train_net.py --config-file configs/PAENet/demo.yml"
DEMO_SHRINK = ["DATASETS.SYNTHETIC.NUM_IDS", "24", "SOLVER.MAX_EPOCH", "1", "SOLVER.STEPS", "[]",
               "SOLVER.WARMUP_EPOCHS", "0", "DATALOADER.ITERS_PER_EPOCH", "2", "TEST.SYSU.NUM_TRIALS", "2"]

DEMO_RUN = "output/paenet/demo/"  # where the demo config writes its run
SYSU_MISSING = ("SYSU-MM01 not found", "datasets/SYSU-MM01", "datasets/README.md")
REGDB_MISSING = ("RegDB not found", "datasets/RegDB", "datasets/README.md")
FULL_RECIPE = "a full recipe (ResNet-50, 288x144, 61 epochs) on real data, which the suite does not have"
DDP = "several processes of a full recipe on real data"

# command -> (why it cannot run in the suite, what is checked instead):
#   ("exit2", substrings): run verbatim; exit code 2 and a one-line error holding every substring
#   ("parse", None): argv parsed by tools/train_net.py's parser, the interpreter exists, the config loads
#   ("make", substring): `make -n TARGET` shows the target runs this command
#   ("preset", name): the synthetic preset named exists
CANNOT_RUN = {
    "make demo": ("minutes of training and a pip install; the fixture runs the same command (checked "
                  "against the Makefile) with fewer identities and iterations", ("make", DEMO_COMMAND)),
    "make test": ("the suite itself", ("make", ".venv/bin/python -m pytest")),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml": (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml --resume": (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/Baseline/sysu.yml --num-gpus 2": (DDP, ("parse", None)),
    ".venv/bin/python tools/train_net.py --config-file configs/Baseline/regdb.yml DATASETS.REGDB.TRIAL 3": (FULL_RECIPE, ("exit2", REGDB_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml --num-gpus 4": (DDP, ("parse", None)),
    ".venv/bin/torchrun --nproc-per-node 4 tools/train_net.py --config-file configs/PAENet/sysu.yml": (DDP, ("parse", None)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml --num-gpus 4 --num-machines 2 --machine-rank 0 --dist-url tcp://HOST:29500":
        ("two machines; HOST is the reader's address", ("parse", None)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml --num-gpus 4 --num-machines 2 --machine-rank 1 --dist-url tcp://HOST:29500":
        ("two machines; HOST is the reader's address", ("parse", None)),
    ".venv/bin/torchrun --nnodes 2 --node-rank {0,1} --nproc-per-node 4 --master-addr HOST --master-port 29500 tools/train_net.py --config-file configs/PAENet/sysu.yml":
        ("two machines; HOST is the reader's address, {0,1} the machine's rank", ("parse", None)),
    ".venv/bin/python tools/train_net.py --config-file configs/Baseline/sysu.yml DATASETS.SYSU.HOLD_OUT_VAL True DATASETS.VAL '[\"SYSU_MM01_val\"]'":
        (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/regdb_trials.py --config-file configs/PAENet/regdb.yml": ("ten full RegDB recipes", ("exit2", REGDB_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file ../research/my.yml":
        ("the README's extension example on SYSU-MM01 (its _BASE_ is Baseline/sysu.yml)", ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/make_synthetic.py sysu --preset benchmark --root datasets/benchmark --seed 0":
        ("writes ~12,000 images (about a minute); the demo preset's line runs the same code", ("preset", "benchmark")),
    ".venv/bin/python bench/synthetic_benchmark.py --suite paenet plugin --jobs 2 --threads 1 --data-root datasets/benchmark":
        ("trains 65 runs (hours); its --dry-run line runs", None),
    ".venv/bin/python bench/synthetic_benchmark.py --configs configs/Baseline/sysu.yml ../research/my.yml --seeds 0 1 2 3 4":
        ("trains 10 runs (hours)", None),
    ".venv/bin/python tools/train_net.py --config-file configs/DDAG/sysu.yml": (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/MPANet/sysu.yml": (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml DATASETS.ROOT /data":
        (FULL_RECIPE, ("exit2", ("SYSU-MM01 not found", "/data/SYSU-MM01", "datasets/README.md"))),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu_labelfree.yml DATASETS.ROOT /data":
        (FULL_RECIPE, ("exit2", ("SYSU-MM01 not found", "/data/SYSU-MM01", "datasets/README.md"))),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/regdb.yml DATASETS.REGDB.TRIAL 3": (FULL_RECIPE, ("exit2", REGDB_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu_paper.yml": (FULL_RECIPE, ("exit2", SYSU_MISSING)),
    ".venv/bin/python tools/train_net.py --config-file configs/PAENet/sysu.yml --eval-only MODEL.WEIGHTS margin_mmd1.40_sysu_..._best.t MODEL.HEADS.NUM_CLASSES 395":
        ("the official checkpoint is the reader's download", ("exit2", ("MODEL.WEIGHTS", "margin_mmd1.40_sysu_..._best.t", "does not exist"))),
    '.venv/bin/python tools/repeat.py --config-file configs/PAENet/sysu.yml --seeds 0-2 --metrics "Rank-1$|mAP$"':
        ("three full recipes", ("exit2", SYSU_MISSING)),
    "PYTHONPATH=$PWD:$PWD/projects/PAENet python bench/gpu_check.py --speed-only":
        ("a CUDA device (a lent GPU machine with its own python); tests/engine/test_gpu_check_cpu.py runs its CPU path", None),
}


def _tracked_files(root: pathlib.Path) -> list:
    """The repository's files as a clone has them: git's list, or (no git) the checkout without build outputs."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True, timeout=60).stdout
        return [p for p in out.decode().split("\0") if p and (root / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "output", "__pycache__", ".pytest_cache"}
        files = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
            rel = pathlib.Path(folder).relative_to(root)
            if rel.parts[:1] == ("datasets",) and len(rel.parts) > 1:
                continue
            files.extend(str(rel / n) for n in names)
        return files


def _env(clone: pathlib.Path) -> dict:
    """The environment of a fresh clone after `pip install -e .`: the packages of setup.cfg's package_dir, from the clone."""
    parser = configparser.ConfigParser()
    parser.read(clone / "setup.cfg")
    mapped = [line.split("=")[1].strip() for line in parser["options"]["package_dir"].strip().splitlines()]
    roots = dict.fromkeys(str((clone / p).parent) for p in mapped)
    env = {k: v for k, v in os.environ.items() if k not in ("FASTREID_DATASETS", "FASTREID_DEBUG", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join(roots)
    return env


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (a load-independent measure of the test's cost)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(clone, text, timeout=300):
    start = time.monotonic()
    p = subprocess.run(text, shell=True, executable="/bin/bash", cwd=clone, env=_env(clone), capture_output=True,
                       text=True, timeout=timeout)
    return p, time.monotonic() - start


@pytest.fixture(scope="module")
def demo_clone(tmp_path_factory):
    """A copy of the repository's files with the state `make demo` leaves, and the README's extension example."""
    base = tmp_path_factory.mktemp("docs_commands")
    clone = base / "repo"
    for rel in _tracked_files(REPO):
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, clone / rel)
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    for lang, first_line in EXTENSION_FILES:  # written where the README's comment says, relative to the clone
        target = (clone / first_line[2:].split(",")[0].strip()).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(fenced_text(REPO, "README.md", lang, first_line))
    cpu = _children_cpu()
    p, took = _run(clone, shlex.join(shlex.split(DEMO_COMMAND) + DEMO_SHRINK), timeout=600)
    print(f"demo state: {took:.0f} s, CPU {_children_cpu() - cpu:.0f} s")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert (clone / "output/paenet/demo/model_final.pth").is_file()
    assert (clone / "datasets/demo/SYSU-MM01/exp/test_id.txt").is_file()
    return clone


def test_docs_commands_are_found_and_every_table_entry_is_still_in_the_docs():
    commands = {c.text for c in doc_commands(REPO)}
    # the parser sees what a reader sees: continuations joined, comments dropped
    assert ".venv/bin/python tools/plot.py --help" in commands
    assert any(c.endswith("TEST.FLIP.ENABLED True TEST.AQE.ENABLED True TEST.RERANK.ENABLED True") for c in commands)
    assert not any("#" in c or c.endswith("\\") for c in commands)
    stale = sorted(set(CANNOT_RUN) - commands)
    assert not stale, "CANNOT_RUN entries no longer in the docs (remove or update them):\n" + "\n".join(stale)
    hidden = commands_outside_shell_fences(REPO)
    assert not hidden, "commands outside ```bash fences (tag the fence so they are tested):\n" + "\n".join(hidden)


def test_parser_joins_continuations_drops_comments_reads_console_prompts_and_finds_hidden_commands(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text(
        "```bash\n# a comment line\n.venv/bin/python tools/a.py --x 1 \\\n    --y '# kept'   # dropped\n```\n\n"
        "```console\n$ make demo\noutput line\n```\n\n```\ntools/b.py --hidden\n```\n\ntext\n\n    bench/c.py --indented\n")
    found = [(c.where(), c.text) for c in doc_commands(tmp_path)]
    assert found == [("docs/x.md:3", ".venv/bin/python tools/a.py --x 1 --y '# kept'"), ("docs/x.md:8", "make demo")]
    assert commands_outside_shell_fences(tmp_path) == ["docs/x.md:13: tools/b.py --hidden", "docs/x.md:18: bench/c.py --indented"]


# Runs `python SCRIPT ARGS...` for several commands in one interpreter (one import of torch instead of one
# per command): each script as __main__ with its own argv and sys.path[0], as `python SCRIPT` sets them;
# prints [exit code, output] per command as JSON.
SCRIPTS_IN_ONE_PROCESS = r"""
import contextlib, io, json, os, runpy, sys
results = []
for argv in json.loads(sys.argv[1]):
    out, code = io.StringIO(), 0
    sys.argv, sys.path[0] = argv, os.path.dirname(os.path.abspath(argv[0]))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # a traceback where one line was expected
            code = f"{type(e).__name__}: {e}"
            out.write(f"Traceback: {e!r}")
    results.append([code, out.getvalue()])
print(json.dumps(results))
"""


def _check_exit2(clone, texts) -> list:
    """The fail-fast commands, argv verbatim, through the environment's interpreter; one process for all."""
    argvs = [shlex.split(t)[1:] for t in texts]
    assert all(shlex.split(t)[0] == ".venv/bin/python" for t in texts)
    p, took = _run(clone, shlex.join([".venv/bin/python", "-c", SCRIPTS_IN_ONE_PROCESS, json.dumps(argvs)]))
    assert p.returncode == 0, p.stderr[-3000:]
    checked = []
    for text, (code, output) in zip(texts, json.loads(p.stdout.strip().splitlines()[-1])):
        lines = output.strip().splitlines()
        last = lines[-1] if lines else ""
        ok = code == 2 and last.startswith("error") and all(s in last for s in CANNOT_RUN[text][1][1]) and "Traceback" not in output
        checked.append((text, None if ok else f"exit {code}, last line {last!r}", took / len(texts)))
    return checked


def _check_cannot_run(clone, text):
    """What can be checked of a command the suite cannot run (but exit2); returns (text, failure or None, seconds)."""
    _, check = CANNOT_RUN[text]
    if check is None:
        return text, None, 0.0
    kind, arg = check
    if kind == "make":
        target = shlex.split(text)[1]
        p, took = _run(clone, f"make -n {target}")
        return text, None if arg in p.stdout else f"`make -n {target}` does not run {arg!r}:\n{p.stdout}", took
    if kind == "preset":
        from fastreid_ext.data.synthetic import SYSU_PRESETS
        return text, None if arg in SYSU_PRESETS else f"no SYSU preset {arg!r}", 0.0
    if kind == "parse":
        from fastreid_ext.config import load_config
        from fastreid_ext.engine.cli import default_argument_parser, parse_args

        argv = shlex.split(text)
        if not os.access(clone / argv[0], os.X_OK):
            return text, f"{argv[0]} is not an executable of the environment", 0.0
        args = parse_args(default_argument_parser(), argv[argv.index("tools/train_net.py") + 1:])
        load_config(str(clone / args.config_file), args.opts)
        return text, None, 0.0
    raise AssertionError(kind)


def _outputs(text) -> list:
    """Files a command says it writes (``--output X``)."""
    argv = shlex.split(text)
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--output"]


@pytest.mark.slow
def test_every_docs_command_runs_verbatim_after_make_demo(demo_clone):
    clone, cpu = demo_clone, _children_cpu()
    commands = list(dict.fromkeys(c.text for c in doc_commands(clone)))  # each distinct command once, in doc order
    where = {c.text: c.where() for c in reversed(doc_commands(clone))}
    # first what cannot run (before the runnable lines generate data where the real datasets go)
    exit2 = [t for t in commands if t in CANNOT_RUN and CANNOT_RUN[t][1] and CANNOT_RUN[t][1][0] == "exit2"]
    checked = _check_exit2(clone, exit2)
    checked += [_check_cannot_run(clone, t) for t in commands if t in CANNOT_RUN and t not in exit2]
    failures = [f"{where[t]}: {t}\n    {why}" for t, why, _ in checked if why]
    timings = [(took, t) for t, _, took in checked]
    # then the rest verbatim through bash, in doc order, in two lanes: what reads the demo's run beside the rest
    runnable = [t for t in commands if t not in CANNOT_RUN]
    lanes = [[t for t in runnable if DEMO_RUN in t], [t for t in runnable if DEMO_RUN not in t]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for lane in pool.map(lambda lane: [(t, *_run(clone, t)) for t in lane], lanes):
            for text, p, took in lane:
                timings.append((took, text))
                if p.returncode != 0 or "Traceback" in p.stderr:
                    failures.append(f"{where[text]}: {text}\n    exit {p.returncode}: {(p.stdout + p.stderr).strip()[-1500:]}")
                    continue
                missing = [o for o in _outputs(text) if not (clone / o).exists()]
                if missing:
                    failures.append(f"{where[text]}: {text}\n    wrote no {missing}")
    print("\n".join(f"{s:6.1f} s  {t}" for s, t in sorted(timings, reverse=True)))
    print(f"commands' CPU time: {_children_cpu() - cpu:.0f} s")
    assert not failures, "docs commands that do not run as written:\n" + "\n".join(failures)
