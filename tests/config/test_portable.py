"""Saved configs replay from any folder; plugins named by module name are imported as modules."""
import importlib
import os
import sys
import textwrap
import uuid

import pytest
import yaml

from fastreid_ext.config import get_cfg, load_config
from fastreid_ext.data import DATASET_REGISTRY
from fastreid_ext.engine.defaults import save_config
from fastreid_ext.utils.plugins import PluginImportError, import_plugins


@pytest.fixture
def self_importing_package(tmp_path):
    """A package (unique name) whose __init__ imports its own submodule by absolute name and counts
    how many times it was executed, in a module-global list."""
    name = f"selfimp_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / "plugins" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        import {name}.part
        EXECUTED = {name}.part.COUNTER
        EXECUTED.append(1)
    """))
    (pkg / "part.py").write_text("COUNTER = []\n")
    yield name, pkg
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def test_bare_module_name_is_a_module_import(self_importing_package, monkeypatch):
    name, pkg = self_importing_package
    monkeypatch.chdir(pkg.parent)  # a folder of that name in the working directory is not enough
    with pytest.raises(PluginImportError, match=f"'{name}'.*not importable.*./{name}"):
        import_plugins([name])
    assert name not in sys.modules
    monkeypatch.syspath_prepend(str(pkg.parent))
    (module,) = import_plugins([name])
    assert module.__name__ == name and module.EXECUTED == [1]


def test_path_plugin_loads_under_its_own_name_once(self_importing_package, monkeypatch):
    name, pkg = self_importing_package
    monkeypatch.chdir(pkg.parent)
    (module,) = import_plugins([f"./{name}"])  # the package imports itself by name: works
    assert module.__name__ == name and module.EXECUTED == [1]
    monkeypatch.syspath_prepend(str(pkg.parent))  # PYTHONPATH=. afterwards: the same module, no second run
    assert importlib.import_module(name) is module
    assert import_plugins([name])[0] is module and module.EXECUTED == [1]


def test_saved_config_replays_from_another_folder(tmp_path, monkeypatch, sysu_root, self_importing_package):
    name, pkg = self_importing_package
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rel_root = os.path.relpath(sysu_root, run_dir)
    yml = run_dir / "exp.yml"
    yml.write_text(yaml.safe_dump({
        "IMPORTS": [os.path.relpath(pkg, run_dir)],
        "OUTPUT_DIR": "out",
        "DATASETS": {"ROOT": rel_root, "SYNTHETIC": {"PRESET": "default"}},
        "MODEL": {"WEIGHTS": "weights/model.pth"},
    }))
    monkeypatch.chdir(run_dir)
    cfg = load_config(str(yml))
    assert cfg.IMPORTS == [str(pkg)]  # resolved when loaded
    path = os.path.abspath(save_config(cfg, str(yml)))
    saved = yaml.safe_load(open(path))
    assert os.path.abspath(path) == str(run_dir / "out" / "config.yaml")
    assert saved["IMPORTS"] == [str(pkg)] and saved["OUTPUT_DIR"] == str(run_dir / "out")
    assert saved["DATASETS"]["ROOT"] == str(sysu_root) and saved["MODEL"]["WEIGHTS"] == str(run_dir / "weights" / "model.pth")
    assert saved["DATASETS"]["SYNTHETIC"]["PRESET"] == ""  # a replay never generates data

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    replay = load_config(path)
    assert replay.DATASETS.ROOT == str(sysu_root) and replay.OUTPUT_DIR == str(run_dir / "out")
    assert DATASET_REGISTRY.build("SYSU_MM01", replay).train
    assert os.listdir(elsewhere) == []


def test_relative_root_follows_the_environment_when_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTREID_DATASETS", "rel/data")
    monkeypatch.chdir(tmp_path)
    cfg = get_cfg()
    cfg.OUTPUT_DIR = "o"
    saved = yaml.safe_load(open(save_config(cfg)))
    assert saved["DATASETS"]["ROOT"] == str(tmp_path / "rel" / "data")


def test_cli_setup_prepares_synthetic_data_once_and_saves_a_replay_that_never_generates(tmp_path, monkeypatch):
    from fastreid_ext.engine.cli import default_argument_parser, setup

    monkeypatch.chdir(tmp_path)
    args = default_argument_parser().parse_args([
        "--config-file", os.path.join(os.path.dirname(__file__), "..", "..", "configs", "Baseline", "sysu.yml"),
        "DATASETS.ROOT", "data", "OUTPUT_DIR", "out", "DATASETS.SYNTHETIC.PRESET", "default",
        "DATASETS.SYNTHETIC.NUM_IDS", "6", "DATASETS.SYNTHETIC.IMAGES_PER_CAMERA", "1",
    ])
    setup(args)
    assert (tmp_path / "data" / "SYSU-MM01" / "exp" / "test_id.txt").is_file()
    saved = yaml.safe_load(open(tmp_path / "out" / "config.yaml"))
    assert saved["DATASETS"]["ROOT"] == str(tmp_path / "data") and saved["DATASETS"]["SYNTHETIC"]["PRESET"] == ""
