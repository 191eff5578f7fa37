"""CrossModalityIdentitySampler: batch layout, P/K, errors, rank streams, resume, determinism."""
import itertools

import numpy as np
import pytest

from fastreid_ext.data.samplers import CrossModalityIdentitySampler, InferenceSampler


def _data(n_ids=6, vis=5, ir=3):
    labels, mods = [], []
    for lab in range(n_ids):
        labels += [lab] * (vis + ir)
        mods += [0] * vis + [1] * ir
    return np.array(labels), np.array(mods)


def _take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_batch_layout():
    labels, mods = _data()
    s = CrossModalityIdentitySampler(labels, mods, num_ids=3, num_instances=4, seed=1)
    for batch in _take(s, 20):
        assert len(batch) == 24
        idx = np.array([i for i, _ in batch])
        lab, mod = labels[idx], mods[idx]
        assert (mod[:12] == 0).all() and (mod[12:] == 1).all()
        blocks = lab[:12].reshape(3, 4)
        assert (blocks == blocks[:, :1]).all() and len(set(blocks[:, 0])) == 3
        np.testing.assert_array_equal(lab[:12], lab[12:])


def test_iters_per_epoch():
    labels, mods = _data(vis=5, ir=3)  # 30 visible
    assert CrossModalityIdentitySampler(labels, mods, 2, 4).iters_per_epoch == 30 // 8 + 1
    assert CrossModalityIdentitySampler(labels, mods, 2, 4, iters_per_epoch=7).iters_per_epoch == 7
    assert CrossModalityIdentitySampler(labels, mods, 2, 4, rank=0, world_size=2).iters_per_epoch == 30 // 16 + 1


def test_errors():
    labels, mods = _data(n_ids=3)
    with pytest.raises(ValueError, match=r"IDS_PER_BATCH \(P=4\) exceeds the number of training identities \(3\)"):
        CrossModalityIdentitySampler(labels, mods, 4, 2)
    mods = mods.copy()
    mods[labels == 1] = 0
    with pytest.raises(ValueError, match=r"\(1, 'infrared'\)"):
        CrossModalityIdentitySampler(labels, mods, 2, 2)


def test_determinism_ranks_and_resume():
    labels, mods = _data(n_ids=10)
    a = _take(CrossModalityIdentitySampler(labels, mods, 4, 2, seed=5), 12)
    assert a == _take(CrossModalityIdentitySampler(labels, mods, 4, 2, seed=5), 12)
    assert a != _take(CrossModalityIdentitySampler(labels, mods, 4, 2, seed=6), 12)
    r1 = _take(CrossModalityIdentitySampler(labels, mods, 4, 2, seed=5, rank=1, world_size=2), 12)
    assert r1 != a and a == _take(CrossModalityIdentitySampler(labels, mods, 4, 2, seed=5, rank=0, world_size=2), 12)
    resumed = CrossModalityIdentitySampler(labels, mods, 4, 2, seed=5)
    resumed.set_start_iter(7)
    assert _take(resumed, 5) == a[7:12]
    seeds = [sd for b in a for _, sd in b]
    assert len(set(seeds)) == len(seeds)


def test_inference_sampler_splits_in_order():
    assert list(InferenceSampler(10)) == list(range(10))
    parts = [list(InferenceSampler(10, rank=r, world_size=3)) for r in range(3)]
    assert sum(parts, []) == list(range(10)) and len(InferenceSampler(10, rank=2, world_size=3)) == 2
