"""The documented attribute CSV and the .mat validation on user-made files."""
import logging

import numpy as np
import pytest
import scipy.io as sio

from fastreid_ext.data.attributes import CsvAttributes, SysuMatAttributes


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_values_unknowns_and_camera_overrides(tmp_path):
    p = _write(tmp_path / "a.csv", "pid,camid,female,backpack,hat\n1,,1,0,-1\n1,2,1,1,0\n2,*,0,-1,1\n")
    t = CsvAttributes(p)
    assert t.names == ["female", "backpack", "hat"]
    vals, mask = t.lookup(1, 1)
    np.testing.assert_array_equal(vals, [1, 0, 0])
    np.testing.assert_array_equal(mask, [True, True, False])
    vals, mask = t.lookup(1, 2)
    np.testing.assert_array_equal(vals, [1, 1, 0])
    assert mask.all()
    vals, mask = t.lookup(2, 5)
    np.testing.assert_array_equal(mask, [True, False, True])
    assert not t.lookup(3, 1)[1].any()


def test_csv_rows_are_copies_and_missing_ids_reported(tmp_path, caplog):
    t = CsvAttributes(_write(tmp_path / "a.csv", "pid,female\n1,1\n"))
    vals, mask = t.lookup(1, 1)
    vals[0], mask[0] = 0, False  # a caller changing its row does not change the table
    vals, mask = t.lookup(1, 1)
    assert vals.tolist() == [1] and mask.tolist() == [True]
    t.lookup(3, 1)
    t.lookup(3, 2)
    with caplog.at_level(logging.WARNING):
        t.report()
    assert "no row for 1 identities" in caplog.text and "[3]" in caplog.text


def test_csv_without_camid_and_name_override(tmp_path):
    p = _write(tmp_path / "a.csv", "pid,x,y\n4,1,0\n")
    t = CsvAttributes(p, names=["female", "glasses"])
    assert t.names == ["female", "glasses"]
    np.testing.assert_array_equal(t.lookup(4, 9)[0], [1, 0])
    with pytest.raises(ValueError, match=r"a\.csv: 2 attribute columns.*expected 3"):
        CsvAttributes(p, names=["a", "b", "c"])


@pytest.mark.parametrize(
    "text, match",
    [
        ("id,a\n1,0\n", "line 1 must be a header"),
        ("pid,a,b\n1,0,1\n2,1\n", "line 3: 2 fields, expected 3"),
        ("pid,a\n1,2\n", "line 2: values must be 1, 0 or -1"),
        ("pid,a\nx,1\n", "line 2:.*expected integers"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path, text, match):
    with pytest.raises(ValueError, match=match) as e:
        CsvAttributes(_write(tmp_path / "bad.csv", text))
    assert "bad.csv" in str(e.value)


def test_mat_rows_must_agree_across_cameras(tmp_path):
    cams = {1: "visible", 3: "infrared"}
    sio.savemat(tmp_path / "cam1_att.mat", {"cam1_att": np.zeros((8, 5), np.uint8)})
    sio.savemat(tmp_path / "cam3_att.mat", {"cam3_att": np.zeros((6, 5), np.uint8)})
    with pytest.raises(ValueError, match=r"cam3_att\.mat: shape \(6, 5\) found, expected \(8, N\)"):
        SysuMatAttributes(str(tmp_path), cams)
    sio.savemat(tmp_path / "cam3_att.mat", {"wrong": np.zeros((8, 5), np.uint8)})
    with pytest.raises(ValueError, match=r"cam3_att\.mat: variable 'cam3_att' not found \(variables: \['wrong'\]\)"):
        SysuMatAttributes(str(tmp_path), cams)
    sio.savemat(tmp_path / "cam3_att.mat", {"cam3_att": np.full((8, 5), 3, np.uint8)})
    with pytest.raises(ValueError, match="0/1 values"):
        SysuMatAttributes(str(tmp_path), cams)


def test_mat_count_from_data_not_hard_coded(tmp_path):
    cams = {1: "visible", 2: "infrared"}
    m = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], np.uint8)  # 3 attributes, pid 3 beyond cam2
    sio.savemat(tmp_path / "cam1_att.mat", {"cam1_att": m})
    sio.savemat(tmp_path / "cam2_att.mat", {"cam2_att": m[:, :2]})
    t = SysuMatAttributes(str(tmp_path), cams)
    assert t.names == ["attr0", "attr1", "attr2"]
    vals, mask = t.lookup(3, 2)
    np.testing.assert_array_equal(vals, [1, 1, 0])
    assert mask.all()
    assert dict(t.fallback_counts) == {(2, "out_of_range→cam1"): 1}
