"""Plugins the way people write them: ``IMPORTS: [mypkg]`` finds ``mypkg/`` beside the YAML that names it,
``_BASE_`` falls back to the repository's configs/, and the saved config.yaml replays from another folder."""
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
import yaml

from fastreid_ext.config import ConfigError, load_config
from fastreid_ext.config.base_files import configs_dir
from fastreid_ext.utils.plugins import PluginImportError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the README's extension example, as a researcher writes it (package and YAML side by side)
README_PACKAGE = """
from fastreid_ext.config import CfgNode as CN, register_config
from fastreid_ext.modeling import META_ARCH_REGISTRY
from fastreid_ext.modeling.meta_arch.baseline import CrossModalBaseline

@register_config
def add_mynet_config(cfg):
    cfg.MYNET = CN()
    cfg.MYNET.WIDTH = 256

@META_ARCH_REGISTRY.register()
class MyNet(CrossModalBaseline):
    ...
"""
README_YAML = """
_BASE_: Baseline/sysu.yml
IMPORTS: [mypkg]
MODEL:
  META_ARCHITECTURE: MyNet
  BACKBONE:
    DEPTH: 18
MYNET:
  WIDTH: 512
"""

# load (from the working directory), save config.yaml, build the model; prints what it got
SCRIPT = """
import sys, json
from fastreid_ext.config import load_config
from fastreid_ext.engine.defaults import import_builtins, save_config
from fastreid_ext.modeling import build_model
import_builtins()
cfg = load_config(sys.argv[1], [a for a in sys.argv[2:] if a != "--no-save"])
import os
saved = os.path.abspath(save_config(cfg, sys.argv[1])) if "--no-save" not in sys.argv else None
cfg.defrost(); cfg.MODEL.HEADS.NUM_CLASSES = 4; cfg.MODEL.DEVICE = "cpu"; cfg.MODEL.BACKBONE.PRETRAIN = False
model = build_model(cfg)
print(json.dumps({"imports": list(cfg.IMPORTS), "width": cfg.MYNET.WIDTH, "model": type(model).__name__,
                  "module": type(model).__module__, "saved": saved}))
"""


def _run(cwd, *args):
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return yaml.safe_load(p.stdout.strip().splitlines()[-1])


def test_readme_extension_example_runs_from_elsewhere_and_replays_from_a_third_folder(tmp_path):
    research = tmp_path / "research"
    (research / "mypkg").mkdir(parents=True)
    (research / "mypkg" / "__init__.py").write_text(README_PACKAGE)
    (research / "my.yml").write_text(README_YAML)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()

    first = _run(here, "../research/my.yml", "OUTPUT_DIR", "out")  # mypkg is on no path: found beside my.yml
    pkg = str(research / "mypkg")
    assert first == {"imports": [pkg], "width": 512, "model": "MyNet", "module": "mypkg",
                     "saved": str(here / "out" / "config.yaml")}
    saved = yaml.safe_load(open(first["saved"]))
    assert saved["IMPORTS"] == [pkg] and "_BASE_" not in saved  # resolved: an absolute path, bases merged

    replay = _run(there, first["saved"], "--no-save")  # neither beside mypkg nor in the repository
    assert replay["imports"] == [pkg] and replay["width"] == 512 and replay["model"] == "MyNet"
    assert os.listdir(there) == []


@pytest.fixture
def plugin_name():
    name = f"beside_{uuid.uuid4().hex[:8]}"
    yield name
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def _plugin(folder, name, key="WIDTH"):
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(textwrap.dedent(f"""
        from fastreid_ext.config import CfgNode as CN, register_config

        @register_config
        def add_{name}(cfg):
            cfg.{name.upper()} = CN()
            cfg.{name.upper()}.{key} = 1
    """))
    (folder / name / "models.py").write_text("LOADED = True\n")
    return str(folder / name)


def test_bare_name_in_a_base_file_is_found_beside_that_base(tmp_path, monkeypatch, plugin_name):
    pkg = _plugin(tmp_path / "lib", plugin_name)
    (tmp_path / "lib" / "base.yml").write_text(f"IMPORTS: [{plugin_name}.models]\n")
    (tmp_path / "exp").mkdir()
    child = tmp_path / "exp" / "child.yml"
    child.write_text(f"_BASE_: ../lib/base.yml\n{plugin_name.upper()}:\n  WIDTH: 7\n")
    monkeypatch.chdir(tmp_path / "exp")
    cfg = load_config(str(child))
    # the package loads under its own name from its folder, then the dotted module imports normally
    assert cfg.IMPORTS == [pkg, f"{plugin_name}.models"] and cfg[plugin_name.upper()].WIDTH == 7
    assert sys.modules[f"{plugin_name}.models"].LOADED and sys.modules[plugin_name].__file__.startswith(pkg)
    assert load_config(str(child)).IMPORTS == cfg.IMPORTS  # idempotent: a second load imports nothing new


def test_unknown_bare_name_lists_where_it_looked(tmp_path, plugin_name):
    f = tmp_path / "my.yml"
    f.write_text(f"IMPORTS: [{plugin_name}]\n")
    with pytest.raises(PluginImportError, match=rf"'{plugin_name}'.*not in {tmp_path} either.*{plugin_name}/__init__.py"):
        load_config(str(f))


def test_base_falls_back_to_the_repository_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = load_config(os.path.join(configs_dir(), "Baseline", "sysu.yml"))
    for written in ("Baseline/sysu.yml", "configs/Baseline/sysu.yml"):
        (tmp_path / "anywhere.yml").write_text(f"_BASE_: {written}\nSEED: 3\n")
        cfg = load_config(str(tmp_path / "anywhere.yml"))
        assert cfg.SEED == 3 and cfg.OUTPUT_DIR == expected.OUTPUT_DIR == "output/baseline/sysu"
        assert cfg.SOLVER.MAX_EPOCH == expected.SOLVER.MAX_EPOCH
    # beside the file wins over configs/
    (tmp_path / "Baseline").mkdir()
    (tmp_path / "Baseline" / "sysu.yml").write_text("OUTPUT_DIR: mine\n")
    (tmp_path / "anywhere.yml").write_text("_BASE_: Baseline/sysu.yml\n")
    assert load_config(str(tmp_path / "anywhere.yml")).OUTPUT_DIR == "mine"


def test_missing_base_lists_the_places_searched(tmp_path):
    (tmp_path / "a.yml").write_text("_BASE_: Nope/x.yml\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / "a.yml"))
    msg = str(e.value)
    assert "\n" not in msg and "'Nope/x.yml'" in msg
    assert os.path.join(str(tmp_path), "Nope/x.yml") in msg and os.path.join(configs_dir(), "Nope/x.yml") in msg


@pytest.mark.slow
def test_readme_extension_example_trains_and_replays_with_the_command_line(tmp_path, sysu_root):
    """tools/train_net.py on the README's my.yml from another folder, then --eval-only on the saved
    config.yaml from a third folder: the same numbers."""
    import json

    research = tmp_path / "research"
    (research / "mypkg").mkdir(parents=True)
    (research / "mypkg" / "__init__.py").write_text(README_PACKAGE)
    (research / "my.yml").write_text(README_YAML)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    small = ["DATASETS.ROOT", sysu_root, "MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu",
             "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "DATALOADER.NUM_WORKERS", "0",
             "DATALOADER.IDS_PER_BATCH", "2", "DATALOADER.NUM_INSTANCES", "2", "DATALOADER.ITERS_PER_EPOCH", "2",
             "SOLVER.MAX_EPOCH", "1", "SOLVER.WARMUP_EPOCHS", "0", "SOLVER.STEPS", "[1]",
             "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.SYSU.NUM_TRIALS", "1", "TEST.SYSU.MODES", '["all"]',
             "TEST.SYSU.SHOTS", '["single"]', "TEST.FEATURES", '["FC"]']

    def train_net(cwd, *args):
        p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_net.py"), *map(str, args)], cwd=cwd,
                           env=env, capture_output=True, text=True, timeout=400)
        assert p.returncode == 0, f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"

    train_net(here, "--config-file", "../research/my.yml", "OUTPUT_DIR", "out", *small)
    out = here / "out"
    assert yaml.safe_load((out / "config.yaml").read_text())["IMPORTS"] == [str(research / "mypkg")]
    train_net(there, "--config-file", out / "config.yaml", "--eval-only", "MODEL.WEIGHTS", out / "model_final.pth",
              "OUTPUT_DIR", "eval")
    trained = json.loads((out / "results.json").read_text())["results"]
    evaluated = json.loads((there / "eval" / "inference" / "model_final" / "results.json").read_text())["results"]
    assert evaluated == trained and "MyNet" in (out / "log.txt").read_text()
