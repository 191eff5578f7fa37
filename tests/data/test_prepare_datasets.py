"""prepare_datasets: synthetic data appear whole or not at all, and are never silently reused with other options."""
import json
import os

import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import DATASET_REGISTRY, prepare_datasets
from fastreid_ext.data import synthetic
from fastreid_ext.utils.errors import UserError


def _cfg(root, num_ids=6):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.ATTRIBUTES.ENABLED = False
    cfg.DATASETS.SYNTHETIC.PRESET = "default"
    cfg.DATASETS.SYNTHETIC.NUM_IDS = num_ids
    cfg.DATASETS.SYNTHETIC.IMAGES_PER_CAMERA = 1
    return cfg


def test_manifest_records_the_options_and_a_mismatch_is_an_error(tmp_path):
    folder = tmp_path / "SYSU-MM01"
    assert prepare_datasets(_cfg(tmp_path)) == [str(folder)]
    manifest = json.loads((folder / "SYNTHETIC.json").read_text())
    assert manifest == {"generator": "generate_sysu", "options": {"seed": 0, "num_ids": 6, "images_per_camera": 1}}
    assert sorted(os.listdir(tmp_path)) == ["SYSU-MM01"]
    assert prepare_datasets(_cfg(tmp_path)) == []  # same options: reused
    with pytest.raises(UserError, match=r"SYSU-MM01 holds synthetic data generated with .*'num_ids': 6.* asks for "
                                        r".*'num_ids': 8.*delete the folder"):
        prepare_datasets(_cfg(tmp_path, num_ids=8))
    (folder / "SYNTHETIC.json").unlink()  # no manifest: real (or older) data, left alone whatever the config says
    assert prepare_datasets(_cfg(tmp_path, num_ids=8)) == []


def test_a_killed_generation_leaves_no_dataset_and_the_next_run_starts_over(tmp_path, monkeypatch):
    import dataclasses

    gen = synthetic.SYNTHETIC_REGISTRY.get("SYSU_MM01")

    def dies_half_way(root, **kw):
        os.makedirs(os.path.join(root, "cam1"))
        raise KeyboardInterrupt  # the run is killed while writing

    # the registered generator dies half-way (the registry is how prepare_datasets finds it)
    monkeypatch.setitem(synthetic.SYNTHETIC_REGISTRY._obj_map, "SYSU_MM01", dataclasses.replace(gen, generate=dies_half_way))
    with pytest.raises(KeyboardInterrupt):
        prepare_datasets(_cfg(tmp_path))
    assert os.listdir(tmp_path) == ["SYSU-MM01.generating"]  # nothing a reader would take for a dataset
    with pytest.raises(FileNotFoundError):
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(tmp_path))

    monkeypatch.setitem(synthetic.SYNTHETIC_REGISTRY._obj_map, "SYSU_MM01", gen)
    assert prepare_datasets(_cfg(tmp_path)) == [str(tmp_path / "SYSU-MM01")]
    assert os.listdir(tmp_path) == ["SYSU-MM01"]
    ds = DATASET_REGISTRY.build("SYSU_MM01", _cfg(tmp_path))
    assert len({r.pid for r in ds.train}) + len({r.pid for r in ds.query}) == 6
