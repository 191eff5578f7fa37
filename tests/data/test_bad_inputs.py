"""Data-side mistakes give one clear UserError naming the file, the value and what was expected."""
import os
import shutil

import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import DATASET_REGISTRY, build_train_loader
from fastreid_ext.utils.errors import UserError


@pytest.fixture
def sysu_copy(tmp_path, sysu_root):
    shutil.copytree(sysu_root / "SYSU-MM01", tmp_path / "SYSU-MM01")
    return tmp_path


def _cfg(root, **opts):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.merge_from_list([x for kv in opts.items() for x in kv])
    return cfg


def _ids(path):
    return [int(x) for x in open(path).readline().split(",")]


def test_ids_after_line_one_are_refused(sysu_copy):
    f = sysu_copy / "SYSU-MM01" / "exp" / "val_id.txt"
    ids = _ids(f)
    f.write_text(",".join(map(str, ids[:1])) + "\n" + ",".join(map(str, ids[1:])) + "\n")
    with pytest.raises(UserError) as e:
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(sysu_copy))
    msg = str(e.value)
    assert f"{f}, line 2" in msg and str(ids[1]) in msg and "line 1" in msg and "\n" not in msg


def test_train_test_overlap_is_refused(sysu_copy):
    exp = sysu_copy / "SYSU-MM01" / "exp"
    test_ids = _ids(exp / "test_id.txt")
    (exp / "train_id.txt").write_text(",".join(map(str, _ids(exp / "train_id.txt") + test_ids[:2])) + "\n")
    with pytest.raises(UserError) as e:
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(sysu_copy))
    msg = str(e.value)
    assert str(exp / "test_id.txt") in msg and str(test_ids[:2]) in msg and "train_id.txt" in msg


def test_attribute_count_must_match_num_attributes(reference_data_dir, sysu_root):
    released = str(reference_data_dir / "paenet_attributes" / "sysu_attribute")
    cfg = _cfg(sysu_root, **{"DATASETS.ATTRIBUTES.PATH": released, "MODEL.NUM_ATTRIBUTES": "6"})
    with pytest.raises(UserError) as e:
        DATASET_REGISTRY.build("SYSU_MM01", cfg)
    msg = str(e.value)
    assert msg.startswith(released) and "holds 8 attributes" in msg and "MODEL.NUM_ATTRIBUTES is 6" in msg
    cfg.MODEL.NUM_ATTRIBUTES = 8  # the matching count is accepted
    assert len(DATASET_REGISTRY.build("SYSU_MM01", cfg).attribute_names) == 8


def test_id_left_without_a_modality_names_the_person_id(sysu_copy):
    root = sysu_copy / "SYSU-MM01"
    pid = max(_ids(root / "exp" / "train_id.txt"))  # the last training id: its label differs from its pid
    broken = 0
    for cam in (3, 6):
        folder = root / f"cam{cam}" / f"{pid:04d}"
        for name in os.listdir(folder) if folder.is_dir() else []:
            (folder / name).write_bytes(b"not an image")
            broken += 1
    assert broken > 0
    cfg = _cfg(sysu_copy, **{"INPUT.SKIP_UNREADABLE": "True", "DATASETS.ATTRIBUTES.ENABLED": "False"})
    with pytest.raises(UserError) as e:
        build_train_loader(cfg)
    msg = str(e.value)
    assert f"SYSU_MM01: person id {pid} has no readable infrared image" in msg and "SKIP_UNREADABLE" in msg


def test_datasets_root_from_environment_at_build_time(sysu_root, monkeypatch):
    cfg = get_cfg()  # ROOT "" (the default) and the variable set only after the import
    monkeypatch.setenv("FASTREID_DATASETS", str(sysu_root))
    assert cfg.DATASETS.ROOT == ""
    ds = DATASET_REGISTRY.build("SYSU_MM01", cfg)
    assert ds.root == str(sysu_root / "SYSU-MM01") and ds.train


def test_attribute_file_mistakes_are_user_errors(tmp_path, sysu_root):
    wrong = tmp_path / "attributes.txt"
    wrong.write_text("pid,gender\n1,1\n")
    with pytest.raises(UserError, match=r"attributes\.txt': unsupported file type '\.txt'"):
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(sysu_root, **{"DATASETS.ATTRIBUTES.PATH": str(wrong)}))
    missing = str(tmp_path / "nowhere.csv")
    with pytest.raises(UserError) as e:
        DATASET_REGISTRY.build("SYSU_MM01", _cfg(sysu_root, **{"DATASETS.ATTRIBUTES.PATH": missing}))
    assert isinstance(e.value, FileNotFoundError) and missing in str(e.value)
