"""SYSU_MM01 on the generated layout: sizes, orders, labels, pools, attributes and errors."""
import glob
import os
import shutil

import numpy as np
import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import DATASET_REGISTRY, prepare_datasets
from fastreid_ext.data.attributes.sysu_mat import load_camera_matrix
from fastreid_ext.data.datasets.sysu_mm01 import SYSU_MM01, parse_sysu_path, read_id_file


def _cfg(root, **kw):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    for k, v in kw.items():
        node, key = k.rsplit("__", 1) if "__" in k else ("", k)
        target = cfg
        for part in node.split("__") if node else []:
            target = getattr(target, part)
        setattr(target, key, v)
    return cfg


@pytest.fixture(scope="module")
def sysu(sysu_root):
    return DATASET_REGISTRY.build("SYSU_MM01", _cfg(sysu_root))


def _ids(root, name):
    return [int(x) for x in open(os.path.join(root, "exp", name)).readline().strip().split(",")]


def _files(root, pids, cams):
    return [f for p in sorted(pids) for c in cams for f in sorted(glob.glob(os.path.join(root, f"cam{c}", f"{p:04d}", "*.jpg")))]


def test_splits_orders_and_sizes(sysu, sysu_root):
    root = str(sysu_root / "SYSU-MM01")
    train_ids = sorted(_ids(root, "train_id.txt") + _ids(root, "val_id.txt"))
    test_ids = _ids(root, "test_id.txt")
    expected_train = _files(root, train_ids, (1, 2, 4, 5)) + _files(root, train_ids, (3, 6))
    assert [r.img_path for r in sysu.train] == expected_train
    assert [r.img_path for r in sysu.query] == _files(root, test_ids, (3, 6))
    assert [r.img_path for r in sysu.gallery] == _files(root, test_ids, (1, 2, 4, 5))
    assert sysu.num_train_pids == len(train_ids)
    assert {r.camid for r in sysu.query} == {3, 6} and {r.modality for r in sysu.query} == {"infrared"}
    assert {r.camid for r in sysu.gallery} <= {1, 2, 4, 5} and {r.modality for r in sysu.gallery} == {"visible"}
    assert sysu.protocol == "sysu" and sysu.default_evaluator == "CrossModalityEvaluator"
    for r in sysu.train[:50]:
        assert r.camid == int(r.img_path.split(os.sep)[-3][3:]) and r.pid == int(r.img_path.split(os.sep)[-2])
    table = sysu.summary_table()
    assert f"| train   |    {len(train_ids)} |" in table and "cam6" in table


def test_attributes_are_per_camera_columns(sysu, sysu_root):
    folder = str(sysu_root / "SYSU-MM01" / "sysu_attribute")
    assert sysu.attribute_names[0] == "gender" and len(sysu.attribute_names) == 8
    mats = {c: load_camera_matrix(f"{folder}/cam{c}_att.mat", c) for c in range(1, 7)}
    checked = 0
    for r in sysu.train + sysu.query + sysu.gallery:
        col = mats[r.camid][:, r.pid - 1] if r.pid <= mats[r.camid].shape[1] else None
        if col is not None and 0 < col.sum() < 8:
            np.testing.assert_array_equal(r.attributes, col)
            assert r.attribute_mask.all()
            checked += 1
        else:  # fallback: another camera's regular column
            assert r.attribute_mask.all()
    assert checked > 100
    top = max(r.pid for r in sysu.gallery)
    assert top > mats[1].shape[1]  # the generator reproduces the pid-past-last-column trap


def test_parse_by_components():
    assert parse_sysu_path("/a/b/cam6/0333/0012.jpg") == (6, 333)
    assert parse_sysu_path("relative/cam12/7/x.png") == (12, 7)
    with pytest.raises(ValueError, match="cam<k>/<pid>/<file>"):
        parse_sysu_path("/a/camera1/0001/0001.jpg")


def test_missing_dataset_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(tmp_path))
    msg = str(e.value)
    assert str(tmp_path / "SYSU-MM01") in msg and "exp/{train,val,test}_id.txt" in msg and "cam1" in msg


def test_malformed_id_file(tmp_path, sysu_root):
    root = tmp_path / "SYSU-MM01"
    shutil.copytree(sysu_root / "SYSU-MM01", root)
    (root / "exp" / "test_id.txt").write_text("1,2,x3\n")
    with pytest.raises(ValueError, match=r"test_id\.txt, line 1: 'x3'"):
        SYSU_MM01.read(str(root))
    (root / "exp" / "val_id.txt").unlink()
    with pytest.raises(FileNotFoundError, match="val_id.txt"):
        read_id_file(str(root / "exp" / "val_id.txt"))


def test_attributes_disabled_and_explicit_synthetic_preparation(tmp_path):
    cfg = _cfg(tmp_path, DATASETS__ATTRIBUTES__ENABLED=False, DATASETS__SYNTHETIC__PRESET="default",
               DATASETS__SYNTHETIC__NUM_IDS=6, DATASETS__SYNTHETIC__IMAGES_PER_CAMERA=1)
    with pytest.raises(FileNotFoundError, match="make_synthetic"):  # building reads, never writes
        DATASET_REGISTRY.build("SYSU_MM01", cfg)
    assert os.listdir(tmp_path) == []
    assert prepare_datasets(cfg) == [str(tmp_path / "SYSU-MM01")]
    ds = DATASET_REGISTRY.build("SYSU_MM01", cfg)
    assert (tmp_path / "SYSU-MM01" / "exp" / "test_id.txt").is_file()
    assert ds.attribute_names == [] and ds.train[0].attributes.shape == (0,)
    assert len({r.pid for r in ds.train}) + len({r.pid for r in ds.query}) == 6
    assert prepare_datasets(cfg) == []  # an existing folder is left alone
