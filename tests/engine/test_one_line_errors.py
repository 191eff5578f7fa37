"""Every mistake is one line and exit code 2 (issue 21, item 6): _BASE_ cycles, values out of range or
misspelled, MODEL.DEVICE cuda without a GPU, SYSU id files with non-ASCII digits / invalid UTF-8 / a
byte-order mark, and a checkpoint that torch's weights_only unpickler refuses. An integer learning
rate is accepted as the float it means."""
import logging
import os
import shutil

import pytest
import torch
import yaml

from fastreid_ext.config import load_config
from fastreid_ext.engine.cli import run_cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _drop_run_log_handlers():
    """The in-process runs below set up logging to their (captured, then closed) stdout: undo it."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for h in root.handlers[:]:
        if h not in before:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


def _cli_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        run_cli([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_base_cycle_is_one_line(capsys, tmp_path):
    (tmp_path / "a.yml").write_text("_BASE_: b.yml\nSEED: 1\n")
    (tmp_path / "b.yml").write_text("_BASE_: a.yml\nSEED: 2\n")
    err = _cli_error(capsys, "--config-file", tmp_path / "a.yml")
    assert f"_BASE_ cycle: {tmp_path / 'a.yml'} -> {tmp_path / 'b.yml'} -> {tmp_path / 'a.yml'}" in err


def _tiny_yml(tmp_path, plugin):
    yml = tmp_path / "exp.yml"
    yml.write_text(yaml.safe_dump({
        "IMPORTS": [plugin], "OUTPUT_DIR": str(tmp_path / "out"),
        "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu"},
        "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"], "ROOT": str(tmp_path / "data"),
                     "SYNTHETIC": {"PRESET": "default"}},  # the CLI writes TinyData first
        "DATALOADER": {"NUM_WORKERS": 0, "IDS_PER_BATCH": 2, "NUM_INSTANCES": 2},
        "INPUT": {"SIZE_TRAIN": [16, 8], "SIZE_TEST": [16, 8], "PADDING": 0},
        "SOLVER": {"MAX_EPOCH": 1, "WARMUP_EPOCHS": 0, "STEPS": [2]}, "TEST": {"EVAL_PERIOD": 0}}))
    return yml


@pytest.mark.parametrize("key, value, expected", [
    ("DATALOADER.IDS_PER_BATCH", "0", "DATALOADER.IDS_PER_BATCH is 0; expected identities per batch (P) >= 1."),
    ("DATALOADER.IDS_PER_BATCH", "9", "IDS_PER_BATCH (P=9) exceeds the number of training identities (4)"),
    ("SOLVER.MAX_EPOCH", "-3", "SOLVER.MAX_EPOCH is -3; expected epochs >= 0."),
    ("SOLVER.OPTIMIZER", "Adamm", "SOLVER.OPTIMIZER is 'Adamm'; expected one of ['Adam', 'AdamW', 'SGD'] "
                                  "(did you mean 'Adam'?)."),
    ("MODEL.DEVICE", "cuda", "MODEL.DEVICE is 'cuda' but CUDA is not available"),
])
def test_bad_values_are_one_line(tiny_plugin, capsys, tmp_path, key, value, expected):
    if value == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    err = _cli_error(capsys, "--config-file", _tiny_yml(tmp_path, tiny_plugin), key, value)
    assert expected in err


def test_integer_learning_rate_is_accepted(tmp_path):
    assert load_config(None, ["SOLVER.BASE_LR", "1"]).SOLVER.BASE_LR == 1.0
    yml = tmp_path / "lr.yml"
    yml.write_text("SOLVER:\n  BASE_LR: 2\n  MAX_EPOCH: 3\n")
    cfg = load_config(str(yml))
    assert cfg.SOLVER.BASE_LR == 2.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    assert cfg.SOLVER.MAX_EPOCH == 3 and isinstance(cfg.SOLVER.MAX_EPOCH, int)


@pytest.mark.parametrize("content, expected", [
    ("１,２,３".encode(), "'１' is not an identity number"),  # fullwidth digits: int() would take them
    ("١,٢".encode(), "'١' is not an identity number"),  # Arabic-Indic digits
    (b"1,2,\xff3", "is not UTF-8 text (byte 4: b'\\xff')"),
    (b"\xef\xbb\xbf1,2,3", "starts with a UTF-8 byte-order mark"),
])
def test_bad_sysu_id_files_are_one_line(capsys, tmp_path, sysu_root, content, expected):
    shutil.copytree(sysu_root / "SYSU-MM01", tmp_path / "SYSU-MM01")
    id_file = tmp_path / "SYSU-MM01" / "exp" / "train_id.txt"
    id_file.write_bytes(content)
    err = _cli_error(capsys, "--config-file", os.path.join(REPO, "configs/Baseline/sysu.yml"), "DATASETS.ROOT", tmp_path,
                     "OUTPUT_DIR", tmp_path / "out", "MODEL.DEVICE", "cpu", "DATASETS.ATTRIBUTES.ENABLED", "False")
    assert str(id_file) in err and expected in err


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def test_checkpoint_refused_for_security_says_so(tiny_plugin, capsys, tmp_path):
    evil = tmp_path / "evil.pth"
    torch.save({"model": {}, "x": _Payload()}, evil)
    err = _cli_error(capsys, "--config-file", _tiny_yml(tmp_path, tiny_plugin), "--eval-only", "MODEL.WEIGHTS", evil,
                     "MODEL.HEADS.NUM_CLASSES", 4)
    assert f"MODEL.WEIGHTS '{evil}' was refused for security" in err and "posix.system" in err
    assert "set MODEL.WEIGHTS_TRUSTED True" in err and "truncated" not in err
