"""Config loading: _BASE_ chains, unknown keys named with their file, plugin key-adders, IMPORTS."""
import textwrap

import pytest

from fastreid_ext.config import ConfigError, get_cfg, load_config, read_imports
from fastreid_ext.utils.plugins import PluginImportError, import_plugins, imported_plugins
from fastreid_ext.utils.registry import Registry


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_base_chain_and_overrides(tmp_path):
    _write(tmp_path / "base.yml", "SOLVER:\n  BASE_LR: 0.5\n  MAX_EPOCH: 7\n")
    child = _write(tmp_path / "child.yml", "_BASE_: base.yml\nSOLVER:\n  MAX_EPOCH: 9\n")
    cfg = load_config(child, ["SOLVER.WARMUP_EPOCHS", "2"])
    assert cfg.SOLVER.BASE_LR == 0.5 and cfg.SOLVER.MAX_EPOCH == 9 and cfg.SOLVER.WARMUP_EPOCHS == 2
    assert cfg.is_frozen()


def test_unknown_key_names_key_and_file(tmp_path):
    _write(tmp_path / "base.yml", "SOLVER:\n  BASE_LRR: 0.5\n")
    child = _write(tmp_path / "child.yml", "_BASE_: base.yml\nSEED: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(child)
    assert "SOLVER.BASE_LRR" in str(e.value) and "base.yml" in str(e.value)
    with pytest.raises(ConfigError, match="MODEL.NOPE.*command line"):
        load_config(None, ["MODEL.NOPE", "1"])


def test_type_mismatch_is_an_error(tmp_path):
    f = _write(tmp_path / "bad.yml", "SOLVER:\n  MAX_EPOCH: [1, 2]\n")
    with pytest.raises(ConfigError, match="bad.yml"):
        load_config(f)


def test_plugin_keys_and_imports_from_path(tmp_path):
    plugin = _write(
        tmp_path / "myplugin_cfg.py",
        """
        from fastreid_ext.config import register_config, CfgNode as CN

        @register_config
        def add_my_keys(cfg):
            cfg.MYNET = CN()
            cfg.MYNET.DEPTH = 3
        """,
    )
    f = _write(tmp_path / "run.yml", f"IMPORTS: ['{plugin}']\nMYNET:\n  DEPTH: 5\n")
    assert read_imports(f) == [plugin]
    cfg = load_config(f)
    assert cfg.MYNET.DEPTH == 5 and cfg.IMPORTS == [plugin]
    assert plugin in imported_plugins()
    # idempotent: a second load does not re-execute the module
    assert import_plugins([plugin])[0] is import_plugins([plugin])[0]
    assert "MYNET" in get_cfg()  # key-adders stay registered for the process


def test_missing_plugin_is_clear():
    with pytest.raises(PluginImportError, match="no_such_plugin_xyz"):
        import_plugins(["no_such_plugin_xyz"])
    with pytest.raises(PluginImportError, match="does not exist"):
        import_plugins(["./nowhere/plugin.py"])


def test_registry_error_lists_names_and_plugins():
    reg = Registry("THING")

    @reg.register()
    class Alpha:
        pass

    with pytest.raises(KeyError) as e:
        reg.get("Beta")
    assert "Alpha" in str(e.value) and "Plugins imported" in str(e.value) and "IMPORTS" in str(e.value)

    class Other:
        pass

    Other.__name__ = "Alpha"
    with pytest.raises(KeyError, match="already registered"):
        reg.register(Other)


def test_test_metric_has_fastreid_meaning(tmp_path):
    """TEST.METRIC is fast-reid's ranking distance; the model-selection key is TEST.SELECT_METRIC."""
    cfg = load_config(None, ["TEST.METRIC", "euclidean"])
    assert cfg.TEST.RANKING.DISTANCE == "euclidean" and cfg.TEST.SELECT_METRIC == ""
    assert load_config(None).TEST.RANKING.DISTANCE == "cosine"  # "" keeps TEST.RANKING.DISTANCE
    old = _write(tmp_path / "old.yml", "TEST:\n  METRIC: SYSU_MM01/all-single/FC/Rank-1\n")
    with pytest.raises(ConfigError, match=r"TEST.SELECT_METRIC SYSU_MM01/all-single/FC/Rank-1"):
        load_config(old)
    with pytest.raises(ConfigError, match=r"TEST.RERANK.ENABLED"):
        load_config(None, ["TEST.METRIC", "jaccard"])
    with pytest.raises(ConfigError, match=r"TEST.METRIC is 'cosin'; expected one of \('cosine', 'euclidean'\)"):
        load_config(None, ["TEST.METRIC", "cosin"])
    with pytest.raises(ConfigError, match="disagree"):
        load_config(None, ["TEST.METRIC", "cosine", "TEST.RANKING.DISTANCE", "euclidean"])


def test_test_metric_set_in_code_is_checked_before_training():
    from fastreid_ext.engine.preflight import check_distance_alias
    from fastreid_ext.utils.errors import UserError

    cfg = get_cfg()
    cfg.TEST.METRIC = "euclidean"  # not through load_config: RANKING.DISTANCE still cosine
    with pytest.raises(UserError, match="TEST.METRIC 'euclidean' but TEST.RANKING.DISTANCE 'cosine'"):
        check_distance_alias(cfg)
    cfg.TEST.RANKING.DISTANCE = "euclidean"
    check_distance_alias(cfg)
