"""Bad input gives one line naming the file/key/value and exit code 2 (traceback with --debug or
FASTREID_DEBUG=1): configs, weights files (MODEL.WEIGHTS, --resume, PRETRAIN_PATH), options written
after the KEY VALUE pairs, and a user error inside a spawned worker."""
import os
import subprocess
import sys

import pytest
import torch
import yaml

from engine_testkit import tiny_cfg
from fastreid_ext.checkpoint import CheckpointReadError, ReidCheckpointer
from fastreid_ext.config import ConfigError
from fastreid_ext.engine.cli import default_argument_parser, parse_args, run_cli
from fastreid_ext.modeling import META_ARCH_REGISTRY
from fastreid_ext.modeling.backbones.resnet_weights import read_state_dict
from fastreid_ext.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_NET = os.path.join(REPO, "tools", "train_net.py")


def _cli_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        run_cli(list(argv))
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("content, expected", [
    ("", "is empty; expected a mapping"),
    ("- MODEL\n- DATASETS\n", "holds a list; expected a mapping"),
    ("MODEL: [unclosed\n", "is not valid YAML"),
])
def test_bad_yaml_gives_one_line(capsys, tmp_path, content, expected):
    yml = tmp_path / "exp.yml"
    yml.write_text(content)
    err = _cli_error(capsys, "--config-file", str(yml))
    assert f"'{yml}'" in err and expected in err


def test_missing_base_names_the_referencing_file(capsys, tmp_path):
    (tmp_path / "child.yml").write_text("_BASE_: ../gone/base.yml\n")
    (tmp_path / "top.yml").write_text("_BASE_: child.yml\nSEED: 1\n")
    err = _cli_error(capsys, "--config-file", str(tmp_path / "top.yml"))
    assert "_BASE_ '../gone/base.yml'" in err and f"'{tmp_path / 'child.yml'}'" in err


def test_debug_flag_and_env_show_the_traceback(capsys, tmp_path, monkeypatch):
    yml = tmp_path / "exp.yml"
    yml.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        run_cli(["--config-file", str(yml), "--debug"])
    monkeypatch.setenv("FASTREID_DEBUG", "1")
    with pytest.raises(ConfigError, match="is empty"):
        run_cli(["--config-file", str(yml)])


def test_options_after_the_key_value_pairs():
    parser = default_argument_parser()
    args = parse_args(parser, ["--config-file", "a.yml", "MODEL.WEIGHTS", "w.pth", "--eval-only", "SEED", "3",
                               "--num-gpus", "2"])
    assert args.eval_only and args.num_gpus == 2 and args.config_file == "a.yml"
    assert args.opts == ["MODEL.WEIGHTS", "w.pth", "SEED", "3"]
    plain = parse_args(parser, ["--config-file", "a.yml", "SOLVER.BASE_LR", "-1", "SEED", "--5"])
    assert plain.opts == ["SOLVER.BASE_LR", "-1", "SEED", "--5"] and not plain.eval_only  # values may look like options


def test_unknown_option_after_the_pairs_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(default_argument_parser(), ["MODEL.WEIGHTS", "w.pth", "--evl-only"])
    assert e.value.code == 2 and "unknown option '--evl-only'" in capsys.readouterr().err


def _model(tmp_path):
    return META_ARCH_REGISTRY.build("TinyReIDNet", tiny_cfg(tmp_path, MODEL__HEADS__NUM_CLASSES=4))


def _truncated(tmp_path, model) -> str:
    path = str(tmp_path / "model_0000005.pth")
    torch.save({"model": model.state_dict(), "iteration": 5}, path)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("content, expected", [(b"", "is empty (0 bytes)"),
                                               (b"hello, not weights\n", "is not a complete torch checkpoint")])
def test_empty_or_text_file_as_model_weights(tiny_plugin, tmp_path, content, expected):
    path = tmp_path / "w.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointReadError) as e:
        ReidCheckpointer(_model(tmp_path), "").load_for_eval(str(path))
    assert str(e.value).startswith(f"MODEL.WEIGHTS '{path}' {expected}") and isinstance(e.value, UserError)
    with pytest.raises(CheckpointReadError, match=f"MODEL.WEIGHTS '{path}'"):
        ReidCheckpointer(_model(tmp_path), "").resume_or_load(str(path), resume=False)


def test_truncated_checkpoint_via_resume_and_pretrain_path(tiny_plugin, tmp_path):
    model = _model(tmp_path)
    path = _truncated(tmp_path, model)
    (tmp_path / "last_checkpoint").write_text("model_0000005.pth")
    with pytest.raises(CheckpointReadError) as e:
        ReidCheckpointer(model, str(tmp_path)).resume_or_load("", resume=True)
    assert f"--resume checkpoint (OUTPUT_DIR/last_checkpoint) '{path}' is not a complete torch checkpoint" in str(e.value)
    with pytest.raises(CheckpointReadError, match=f"MODEL.BACKBONE.PRETRAIN_PATH '{path}' is not a complete"):
        read_state_dict(path)
    with pytest.raises(CheckpointReadError, match="MODEL.WEIGHTS 'nowhere.pth' does not exist"):
        ReidCheckpointer(model, "").resume_or_load("nowhere.pth", resume=False)


def _run(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                             "FASTREID_DEBUG")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, TRAIN_NET, *map(str, args)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)


def test_cli_empty_weights_file_one_line_exit_2(tiny_plugin, capsys, tmp_path):
    yml = tmp_path / "exp.yml"
    yml.write_text(yaml.safe_dump({"IMPORTS": [tiny_plugin], "OUTPUT_DIR": str(tmp_path / "out"),
                                   "MODEL": {"META_ARCHITECTURE": "TinyReIDNet", "DEVICE": "cpu",
                                             "HEADS": {"NUM_CLASSES": 4}},
                                   "DATASETS": {"NAMES": ["TinyData"], "TESTS": ["TinyData"],
                                                "ROOT": str(tmp_path / "data"), "SYNTHETIC": {"PRESET": "default"}}}))
    (tmp_path / "empty.pth").write_bytes(b"")
    err = _cli_error(capsys, "--config-file", str(yml), "MODEL.WEIGHTS", str(tmp_path / "empty.pth"), "--eval-only")
    assert err == (f"error: CheckpointReadError: MODEL.WEIGHTS '{tmp_path / 'empty.pth'}' is empty (0 bytes); "
                   f"expected a file written by torch.save (e.g. OUTPUT_DIR/model_final.pth).")


@pytest.mark.slow
def test_user_error_in_spawned_workers_gives_one_line_exit_2(tmp_path):
    yml = tmp_path / "exp.yml"
    yml.write_text("- not a mapping\n")
    p = _run(tmp_path, "--config-file", yml, "--num-gpus", 2)
    assert p.returncode == 2, p.stderr[-3000:]
    ours = [ln for ln in p.stderr.splitlines() if ln.startswith("error")]  # torch may add a SIGTERM notice
    assert len(ours) == 1 and "Traceback" not in p.stderr, p.stderr
    assert ours[0] == (f"error (rank {ours[0][12]}): ConfigError: Config file '{yml}' holds a list; expected a "
                       f"mapping of KEY: value entries (e.g. 'MODEL: {{META_ARCHITECTURE: PAENet}}').")
