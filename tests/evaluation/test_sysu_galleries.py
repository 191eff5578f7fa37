"""SYSU trial galleries are the ones the AGW / MMD-ReID loop draws with ``random.seed(trial)``."""
import os
import random

import numpy as np
import pytest

from fastreid_ext.evaluation.protocols import draw_sysu_gallery, group_gallery_images


def synthetic_layout(seed=0):
    """{(pid, cam): [file paths]} with missing folders and varied counts, listed in a shuffled order."""
    rng = np.random.default_rng(seed)
    files = {}
    for pid in rng.choice(np.arange(1, 400), 30, replace=False):
        for cam in (1, 2, 4, 5):
            if rng.random() < 0.25:
                continue  # this identity has no folder in this camera
            n = int(rng.integers(1, 25))
            files[(int(pid), cam)] = [f"/data/SYSU-MM01/cam{cam}/{pid:04d}/{i + 1:04d}.jpg" for i in range(n)]
    records = [(pid, cam, p) for (pid, cam), paths in files.items() for p in paths]
    order = rng.permutation(len(records))
    return files, [records[i] for i in order]


def community_draw(files, cams, trial):
    """The AGW ``process_gallery_sysu`` loop (global random seeded with the trial)."""
    random.seed(trial)
    gallery = []
    for pid in sorted({pid for pid, _ in files}):
        for cam in cams:
            img_dir = f"/data/SYSU-MM01/cam{cam}/{pid:04d}"
            if (pid, cam) in files:  # os.path.isdir(img_dir)
                new_files = sorted(files[(pid, cam)])
                gallery.append(random.choice(new_files))
                assert os.path.dirname(gallery[-1]) == img_dir
    return gallery


@pytest.mark.parametrize("mode,cams", [("all", [1, 2, 4, 5]), ("indoor", [1, 2])])
def test_single_shot_draws_equal_the_community_loop(mode, cams):
    files, records = synthetic_layout()
    groups = group_gallery_images([r[0] for r in records], [r[1] for r in records], [r[2] for r in records])
    for trial in range(10):
        drawn = [records[i][2] for i in draw_sysu_gallery(groups, mode, "single", trial)]
        assert drawn == community_draw(files, cams, trial)
    a = draw_sysu_gallery(groups, mode, "single", 0)
    b = draw_sysu_gallery(groups, mode, "single", 1)
    assert not np.array_equal(a, b)


def test_multi_shot_draws_min_of_10_and_n_without_replacement():
    files, records = synthetic_layout(1)
    paths = [r[2] for r in records]
    groups = group_gallery_images([r[0] for r in records], [r[1] for r in records], paths)
    idx = draw_sysu_gallery(groups, "all", "multi", 3, num_shots=10)
    assert len(set(idx.tolist())) == len(idx)
    assert len(idx) == sum(min(10, len(v)) for v in files.values())
    # the documented draw: rng.sample over the sorted file list, same loop order
    rng = random.Random(3)
    expected = []
    for pid in sorted({p for p, _ in files}):
        for cam in (1, 2, 4, 5):
            if (pid, cam) in files:
                expected += rng.sample(sorted(files[(pid, cam)]), min(10, len(files[(pid, cam)])))
    assert [paths[i] for i in idx] == expected
    assert np.array_equal(idx, draw_sysu_gallery(groups, "all", "multi", 3, num_shots=10))


def test_bad_arguments_raise():
    groups = group_gallery_images([1], [3], ["x"])
    with pytest.raises(ValueError, match="no image of cameras"):
        draw_sysu_gallery(groups, "all", "single", 0)
    with pytest.raises(ValueError, match="TEST.SYSU.MODES"):
        draw_sysu_gallery(groups, "outdoor", "single", 0)
    with pytest.raises(ValueError, match="TEST.SYSU.SHOTS"):
        draw_sysu_gallery(groups, "all", "triple", 0)
