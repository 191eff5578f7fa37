"""Unknown config keys say what to type: fast-reid's names map to ours, typos get the closest keys."""
import re

import pytest

from fastreid_ext.config import ConfigError, get_cfg, load_config
from fastreid_ext.config.key_hints import FASTREID_EQUIVALENTS, all_keys, closest_keys


@pytest.mark.parametrize("key, expected", [
    ("SOLVER.IMS_PER_BATCH", r"fast-reid's key; here it is DATALOADER.IDS_PER_BATCH \(P\) and DATALOADER.NUM_INSTANCES "
                             r"\(K\).*per process"),
    ("SOLVER.OPT", r"fast-reid's key; here it is SOLVER.OPTIMIZER "),
    ("DATALOADER.NUM_INSTANCE", r"fast-reid's key; here it is DATALOADER.NUM_INSTANCES .*per process"),
    ("SOLVER.WARMUP_ITERS", r"fast-reid's key; here it is SOLVER.WARMUP_EPOCHS "),
    ("SOLVER.MAX_ITER", r"fast-reid's key; here it is SOLVER.MAX_EPOCH "),
])
def test_fastreid_keys_name_their_equivalent(tmp_path, key, expected):
    with pytest.raises(ConfigError, match=rf"Unknown config key '{re.escape(key)}' on the command line\. .*{expected}"):
        load_config(None, [key, "4"])
    section, leaf = key.split(".")
    f = tmp_path / "fastreid.yml"
    f.write_text(f"{section}:\n  {leaf}: 4\n")
    with pytest.raises(ConfigError, match=rf"'{re.escape(key)}' in '{re.escape(str(f))}'\. .*{expected}") as e:
        load_config(str(f))
    assert "\n" not in str(e.value)


def test_every_equivalent_names_existing_keys():
    keys = set(all_keys(get_cfg()))
    for fastreid_key, ours in FASTREID_EQUIVALENTS.items():
        assert fastreid_key not in keys
        named = re.findall(r"\b[A-Z]+(?:\.[A-Z0-9_]+)+\b", ours)
        assert named and all(k in keys for k in named), (fastreid_key, named)


@pytest.mark.parametrize("typo, suggestion", [
    ("SOLVER.BASE_LRR", "Did you mean SOLVER.BASE_LR?"),
    ("SOLVER.IDS_PER_BATCH", "Did you mean DATALOADER.IDS_PER_BATCH"),  # right name, wrong section
    ("TEST.RERANK.ENABLE", "Did you mean TEST.RERANK.ENABLED"),
    ("MODEL.BACKBONE.DEPHT", "Did you mean MODEL.BACKBONE.DEPTH?"),
])
def test_typos_get_the_closest_keys(typo, suggestion):
    with pytest.raises(ConfigError) as e:
        load_config(None, [typo, "1"])
    assert suggestion in str(e.value)


def test_nothing_close_falls_back_to_the_plugin_hint():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["QQPLUGIN.ZXQW", "1"])  # a plugin's key without its IMPORTS (no core key is close)
    assert "Did you mean" not in str(e.value) and "IMPORTS" in str(e.value)


def test_closest_keys_is_difflib_over_full_names():
    keys = ["SOLVER.BASE_LR", "SOLVER.GAMMA", "DATALOADER.IDS_PER_BATCH", "TEST.IDS_PER_BATCH"]
    assert closest_keys("SOLVER.IDS_PER_BATCH", keys) == ["DATALOADER.IDS_PER_BATCH", "TEST.IDS_PER_BATCH"]
    assert closest_keys("SOLVER.BASE_LRR", keys) == ["SOLVER.BASE_LR"]
    assert closest_keys("XYZ.QQQ", keys) == []


def test_fastreid_groups_in_a_yaml_file_and_values_used_as_groups(tmp_path):
    f = tmp_path / "tri.yml"
    f.write_text("MODEL:\n  LOSSES:\n    TRI:\n      MARGIN: 0.3\n")  # fvcore reports the first unknown level
    with pytest.raises(ConfigError, match=r"'MODEL.LOSSES.TRI'.*'MODEL.LOSSES.TRI.MARGIN' is fast-reid's key; here it "
                                          r"is MODEL.LOSSES.HCTRI.MARGIN"):
        load_config(str(f))
    f = tmp_path / "pad.yml"
    f.write_text("INPUT:\n  PADDING:\n    ENABLED: True\n    SIZE: 10\n")  # a number here, a group in fast-reid
    with pytest.raises(ConfigError, match=r"INPUT.PADDING.*'INPUT.PADDING.SIZE' and 'INPUT.PADDING.ENABLED' are "
                                          r"fast-reid's keys; here it is INPUT.PADDING \(pixels"):
        load_config(str(f))
    # on the command line yacs failed with a TypeError ("argument of type 'int' is not iterable")
    with pytest.raises(ConfigError, match=r"'INPUT.PADDING.SIZE' on the command line: 'INPUT.PADDING' is a single "
                                          r"value, not a group of keys\. 'INPUT.PADDING.SIZE' is fast-reid's key"):
        load_config(None, ["INPUT.PADDING.SIZE", "10"])
    with pytest.raises(ConfigError, match=r"'SOLVER.BASE_LR' is a single value"):
        load_config(None, ["SOLVER.BASE_LR.X", "1"])
