"""RegDB on the generated layout: trials, pools, labels, attributes from the CSV, errors."""
import os
import shutil

import numpy as np
import pytest

from fastreid_ext.config import get_cfg
from fastreid_ext.data import DATASET_REGISTRY
from fastreid_ext.data.datasets.regdb import RegDB, read_idx_file


def _cfg(root, trial=1):
    cfg = get_cfg()
    cfg.DATASETS.ROOT = str(root)
    cfg.DATASETS.REGDB.TRIAL = trial
    return cfg


def _lines(root, name):
    return [ln.split() for ln in open(os.path.join(root, "RegDB", "idx", name)).read().splitlines()]


@pytest.mark.parametrize("trial", [1, 7])
def test_trial_splits(regdb_root, trial):
    ds = DATASET_REGISTRY.build("RegDB", _cfg(regdb_root, trial))
    base = str(regdb_root / "RegDB")
    for recs, name, camid, mod in (
        (ds.query, f"test_visible_{trial}.txt", 1, "visible"),
        (ds.gallery, f"test_thermal_{trial}.txt", 2, "infrared"),
    ):
        lines = _lines(regdb_root, name)
        assert [r.img_path for r in recs] == [os.path.join(base, p) for p, _ in lines]
        assert [r.pid for r in recs] == [int(lab) for _, lab in lines]
        assert {(r.camid, r.modality) for r in recs} == {(camid, mod)}
    train_lines = _lines(regdb_root, f"train_visible_{trial}.txt") + _lines(regdb_root, f"train_thermal_{trial}.txt")
    assert [r.img_path for r in ds.train] == [os.path.join(base, p) for p, _ in train_lines]
    assert sorted({r.pid for r in ds.train}) == list(range(10))
    # the gallery holds the query identities in the other modality (both directions searchable)
    assert {r.pid for r in ds.query} == {r.pid for r in ds.gallery}
    folders = {r.img_path.split(os.sep)[-2] for r in ds.query}
    assert not folders & {r.img_path.split(os.sep)[-2] for r in ds.train}


def test_trials_differ(regdb_root):
    a = {r.img_path for r in DATASET_REGISTRY.build("RegDB", _cfg(regdb_root, 1)).train}
    b = {r.img_path for r in DATASET_REGISTRY.build("RegDB", _cfg(regdb_root, 2)).train}
    assert a != b


def test_attributes_from_csv_by_identity_folder(regdb_root):
    ds = DATASET_REGISTRY.build("RegDB", _cfg(regdb_root))
    rows = {}
    for line in open(regdb_root / "RegDB" / "attributes.csv").read().splitlines()[1:]:
        vals = [int(v) for v in line.split(",")]
        rows[vals[0]] = np.array(vals[1:])
    assert ds.attribute_names[0] == "gender" and len(ds.attribute_names) == 8
    for r in ds.train + ds.query:
        want = rows[int(r.img_path.split(os.sep)[-2])]
        np.testing.assert_array_equal(r.attribute_mask, want >= 0)
        np.testing.assert_array_equal(r.attributes, np.clip(want, 0, 1))


def test_malformed_idx_line_names_file_and_line(tmp_path, regdb_root):
    root = tmp_path / "RegDB"
    shutil.copytree(regdb_root / "RegDB", root)
    idx = root / "idx" / "test_thermal_1.txt"
    lines = idx.read_text().splitlines()
    lines[2] = lines[2].replace(" ", "\t")
    idx.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"test_thermal_1\.txt, line 3:"):
        RegDB.read(str(root), trial=1)
    lines[2] = "Thermal/1/missing.bmp 0"
    idx.write_text("\n".join(lines) + "\n")
    with pytest.raises(FileNotFoundError, match=r"test_thermal_1\.txt, line 3: image .*missing\.bmp"):
        RegDB.read(str(root), trial=1)
    with pytest.raises(FileNotFoundError, match="train_visible_1.txt"):
        read_idx_file(str(root / "idx" / "nope" / "train_visible_1.txt"))


def test_missing_dataset_and_bad_trial(tmp_path, regdb_root):
    with pytest.raises(FileNotFoundError) as e:
        DATASET_REGISTRY.build("RegDB", _cfg(tmp_path))
    assert str(tmp_path / "RegDB") in str(e.value) and "Visible/<id>/*.bmp" in str(e.value)
    with pytest.raises(ValueError, match="TRIAL is 11"):
        DATASET_REGISTRY.build("RegDB", _cfg(regdb_root, 11))
