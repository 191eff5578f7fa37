"""The released PAENet attribute files read by our readers, checked against docs/protocols.md#attribute-files."""
import numpy as np
import pytest

from fastreid_ext.data.attributes import OneHotXlsxAttributes, SysuMatAttributes, load_attributes
from fastreid_ext.data.attributes.sysu_mat import load_camera_matrix
from fastreid_ext.data.datasets.sysu_mm01 import SYSU_CAMERAS

N_K = {1: 332, 2: 332, 3: 533, 4: 533, 5: 533, 6: 333}
ZERO_COLS = {
    1: {16, 91, 92, 134, 222},
    2: {16, 91, 92, 120, 134, 135, 177, 222, 250, 278},
    3: {16, 91, 92, 120, 134, 135, 152, 168, 212, 362},
    4: {16, 48, 91, 92, 134},
    5: {16, 48, 91, 92, 120, 134, 135},
    6: {16, 91, 92, 120, 135, 152, 168, 212, 222},
}
ONES_COUNT = {1: 73, 2: 73, 3: 49, 4: 41, 5: 32, 6: 34}
SYSU_TEST_IDS = [6, 10, 17, 21, 24, 25, 27, 28, 31, 34, 36, 37, 40, 41, 42, 43, 44, 45, 49, 50, 51, 54, 63, 69, 75, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 93, 102, 104, 105, 106, 108, 112, 116, 117, 122, 125, 129, 130, 134, 138, 139, 150, 152, 162, 166, 167, 170, 172, 176, 185, 190, 192, 202, 204, 207, 210, 215, 223, 229, 232, 237, 252, 253, 257, 259, 263, 266, 269, 272, 273, 274, 275, 282, 285, 291, 300, 301, 302, 303, 307, 312, 315, 318, 331, 333]  # fmt: skip


@pytest.fixture(scope="module")
def sysu_dir(reference_data_dir):
    return str(reference_data_dir / "paenet_attributes" / "sysu_attribute")


@pytest.fixture(scope="module")
def xlsx(reference_data_dir):
    return OneHotXlsxAttributes(str(reference_data_dir / "paenet_attributes" / "regdb_attribute" / "label_finished.xlsx"))


def test_mat_shapes_and_placeholders(sysu_dir):
    table = SysuMatAttributes(sysu_dir, SYSU_CAMERAS)
    assert table.names[0] == "gender" and len(table.names) == 8
    for c, n in N_K.items():
        m = table.matrices[c]
        assert m.shape == (8, n)
        zeros = {i + 1 for i in np.where(m.sum(0) == 0)[0]}
        assert zeros == ZERO_COLS[c]
        assert int((m.sum(0) == 8).sum()) == ONES_COUNT[c]
        assert table.placeholders[c] == zeros | {i + 1 for i in np.where(m.sum(0) == 8)[0]}


def test_per_camera_values_differ_as_documented(sysu_dir):
    m1, m2 = load_camera_matrix(f"{sysu_dir}/cam1_att.mat", 1), load_camera_matrix(f"{sysu_dir}/cam2_att.mat", 2)
    shared = [p for p in range(1, 333) if m1[:, p - 1].any() and m2[:, p - 1].any()]
    assert len(shared) == 322
    assert sum(not np.array_equal(m1[:, p - 1], m2[:, p - 1]) for p in shared) == 35


def test_pid_333_fallback(sysu_dir):
    other = SysuMatAttributes(sysu_dir, SYSU_CAMERAS, fallback="other_camera")
    for cam in (1, 2):
        vals, mask = other.lookup(333, cam)
        # cam2 out of range too, cam4's column is an all-ones placeholder → cam5
        np.testing.assert_array_equal(vals, [1, 1, 0, 0, 0, 1, 1, 0])
        assert mask.all()
    vals, mask = other.lookup(333, 3)  # in range, regular column: own camera
    np.testing.assert_array_equal(vals, [1, 1, 0, 0, 0, 1, 1, 0])
    as_is = SysuMatAttributes(sysu_dir, SYSU_CAMERAS, fallback="as_is")
    vals, mask = as_is.lookup(333, 1)
    assert not mask.any() and not vals.any()
    vals, mask = as_is.lookup(333, 4)
    assert mask.all() and vals.all()  # the placeholder kept for fidelity
    zeros = SysuMatAttributes(sysu_dir, SYSU_CAMERAS, fallback="zeros")
    assert not zeros.lookup(134, 1)[1].any()
    # id 134 is all-zero in cams 1-5; other_camera falls back to the infrared cam6
    vals, mask = other.lookup(134, 1)
    assert mask.all()
    np.testing.assert_array_equal(vals, load_camera_matrix(f"{sysu_dir}/cam6_att.mat", 6)[:, 133])


def test_names_count_mismatch_is_an_error(sysu_dir):
    with pytest.raises(ValueError, match=r"cam1_att\.mat.*\(8, 332\).*\(3, N\)"):
        SysuMatAttributes(sysu_dir, SYSU_CAMERAS, names=["a", "b", "c"])
    with pytest.raises(ValueError, match="FALLBACK"):
        SysuMatAttributes(sysu_dir, SYSU_CAMERAS, fallback="nearest")


def test_xlsx_ids_and_mapping(xlsx):
    assert xlsx.pids == SYSU_TEST_IDS
    assert xlsx.malformed == {85: ["trousers", "backpack"]}
    names = xlsx.names
    vals, mask = xlsx.lookup(6, 1)  # male, short hair, glasses, long trousers, no bags
    expected = {"gender": 0, "hair_length": 0, "glasses": 1, "lower_body_length": 1, "backpack": 0, "satchel": 0}
    for name, v in expected.items():
        assert mask[names.index(name)] and vals[names.index(name)] == v
    assert not mask[names.index("sleeve_length")] and not mask[names.index("lower_body_type")]
    vals, mask = xlsx.lookup(85, 3)
    assert mask[names.index("gender")] and vals[names.index("gender")] == 1
    assert not mask[names.index("lower_body_length")] and not mask[names.index("backpack")]
    assert not xlsx.lookup(7, 1)[1].any()  # not in the sheet: unknown


def test_load_attributes_dispatch(sysu_dir, reference_data_dir):
    assert isinstance(load_attributes(sysu_dir, SYSU_CAMERAS), SysuMatAttributes)
    assert isinstance(load_attributes(str(reference_data_dir / "paenet_attributes"), SYSU_CAMERAS), SysuMatAttributes)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        load_attributes(str(reference_data_dir / "nowhere.csv"), SYSU_CAMERAS)
