"""``gt`` in the reference configs is the official lookup: the vector of identity pid seen by camera
k is column ``pid-1`` of the released ``cam{k}_att.mat`` as stored, placeholder columns included; a
pid past a camera's last column (where the official code raises IndexError) is unknown."""
import numpy as np
import pytest
import scipy.io as sio

from fastreid_ext.data.attributes import load_attributes
from fastreid_ext.data.datasets import build_dataset
from fastreid_ext.data.datasets.sysu_mm01 import SYSU_CAMERAS

REFERENCE_CONFIGS = ("configs/PAENet/sysu.yml", "configs/PAENet/regdb.yml", "configs/PAENet/sysu_paper.yml")


@pytest.fixture(scope="module")
def released(shared_data_dir):
    folder = shared_data_dir / "paenet_attributes" / "sysu_attribute"
    return folder, {k: np.asarray(sio.loadmat(folder / f"cam{k}_att.mat")[f"cam{k}_att"]) for k in SYSU_CAMERAS}


def _official(mats, pid, cam):
    """What the official data loader indexes: ``cam{k}_att[:, pid-1]`` (None: IndexError)."""
    m = mats[cam]
    return m[:, pid - 1].astype(np.float32) if pid <= m.shape[1] else None


@pytest.mark.parametrize("config", REFERENCE_CONFIGS)
def test_reference_configs_use_the_official_lookup(make_cfg, released, config):
    folder, mats = released
    cfg = make_cfg(config)
    table = load_attributes(str(folder), SYSU_CAMERAS, list(cfg.DATASETS.ATTRIBUTES.NAMES), cfg.DATASETS.ATTRIBUTES.FALLBACK)
    checked = out_of_range = 0
    for cam in SYSU_CAMERAS:
        for pid in range(1, max(m.shape[1] for m in mats.values()) + 1):
            values, known = table.lookup(pid, cam)
            expected = _official(mats, pid, cam)
            if expected is None:
                assert not known.any() and not values.any(), (pid, cam)
                out_of_range += 1
            else:
                assert known.all() and np.array_equal(values, expected), (pid, cam)
                checked += 1
    assert checked == sum(m.shape[1] for m in mats.values())
    assert out_of_range > 0  # e.g. test id 333 in cam1/cam2


def test_engine_default_differs_from_the_official_lookup(make_cfg, released):
    """Why the reference configs set the lookup: the engine default replaces placeholder columns."""
    folder, mats = released
    table = load_attributes(str(folder), SYSU_CAMERAS, [], "other_camera")
    differs = sum(not np.array_equal(table.lookup(pid, cam)[0], _official(mats, pid, cam))
                  for cam in (1, 2) for pid in range(1, mats[cam].shape[1] + 1))
    assert differs > 0


def test_dataset_records_carry_the_official_vectors(make_cfg, released, sysu_root):
    folder, mats = released
    cfg = make_cfg(opts=["DATASETS.ROOT", str(sysu_root), "DATASETS.ATTRIBUTES.PATH", str(folder)])
    dataset = build_dataset(cfg, "SYSU_MM01")
    records = list(dataset.train) + list(dataset.query) + list(dataset.gallery)
    assert records
    for r in records:
        expected = _official(mats, r.pid, r.camid)
        assert expected is not None and r.attribute_mask.all() and np.array_equal(r.attributes, expected), r.img_path
