"""LLCM as a plugin: its reader on the released layout, its protocol against an independent loop of
the public evaluation, its bad-input errors, and its configs."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llcm_reference import draw_one_per_id_camera, eval_llcm_loop


def _cfg(root, out, *opts):
    from fastreid_ext.config import load_config

    base = ["DATASETS.ROOT", str(root), "DATASETS.NAMES", '["LLCM"]', "DATASETS.TESTS", '["LLCM"]', "OUTPUT_DIR", str(out),
            "IMPORTS", '["llcm"]', "DATALOADER.NUM_WORKERS", 0, "INPUT.SIZE_TEST", [32, 16], "TEST.IMS_PER_BATCH", 32]
    return load_config(None, [*base, *opts])


def test_reader_reads_the_released_layout(llcm_root, tmp_path):
    from fastreid_ext.data.datasets import build_dataset

    ds = build_dataset(_cfg(llcm_root, tmp_path), "LLCM")
    assert ds.protocol == "llcm" and ds.attribute_names  # the synthetic attributes.csv
    assert {r.modality for r in ds.query} == {"infrared"} and {r.modality for r in ds.gallery} == {"visible"}
    assert {r.modality for r in ds.train} == {"visible", "infrared"}
    assert 3 not in {r.camid for r in ds.query}  # no NIR test images in camera 3, as released
    test_ids = {int(x) for x in (llcm_root / "LLCM/idx/test_id.txt").read_text().split(",")}
    assert {r.pid for r in ds.query} == test_ids and not test_ids & {int(r.img_path.split(os.sep)[-2]) for r in ds.train}
    # query order: ids ascending, then cameras, then sorted files
    keys = [(r.pid, r.camid, r.img_path) for r in ds.query]
    assert keys == sorted(keys)


@pytest.mark.parametrize("missing,needle", [("idx", "idx/train_vis.txt"), ("test_nir", "test_nir")])
def test_missing_layout_parts_name_the_expected_layout(llcm_root, tmp_path, missing, needle):
    from fastreid_ext.data.datasets import build_dataset
    from fastreid_ext.utils.errors import UserError

    root = tmp_path / "data"
    shutil.copytree(llcm_root / "LLCM", root / "LLCM")
    shutil.rmtree(root / "LLCM" / missing)
    with pytest.raises(UserError) as e:
        build_dataset(_cfg(root, tmp_path), "LLCM")
    msg = str(e.value)
    assert "\n" not in msg and needle in msg and "Expected layout: LLCM/idx/{train_vis,train_nir}.txt" in msg


def test_a_camera_less_modality_folder_is_refused(llcm_root, tmp_path):
    from fastreid_ext.data.datasets import build_dataset
    from fastreid_ext.utils.errors import UserError

    root = tmp_path / "data"
    shutil.copytree(llcm_root / "LLCM", root / "LLCM")
    for d in os.listdir(root / "LLCM/test_vis"):
        shutil.rmtree(root / "LLCM/test_vis" / d)
    with pytest.raises(UserError, match="test_vis/ holds no cam<k> folder"):
        build_dataset(_cfg(root, tmp_path), "LLCM")


def _features(fs_records, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(fs_records), dim, generator=g)


def test_protocol_equals_the_public_evaluation_loop(llcm_root, tmp_path):
    """Both directions, 10 seeded trials, the same-camera rule and the author CMC, per trial."""
    from fastreid_ext.data.datasets import build_dataset
    from fastreid_ext.evaluation import build_protocol, run_tasks
    from fastreid_ext.evaluation.types import FeatureSet, RankingOptions

    cfg = _cfg(llcm_root, tmp_path)
    ds = build_dataset(cfg, "LLCM")
    sets = []
    for i, recs in enumerate((ds.query, ds.gallery)):
        feats = _features(recs, seed=i)
        sets.append(FeatureSet({"FC": feats}, np.array([r.pid for r in recs]), np.array([r.camid for r in recs]),
                               [r.img_path for r in recs]))
    query, gallery = sets
    protocol = build_protocol(cfg, ds)
    assert protocol.task_names() == ["infrared2visible", "visible2infrared"] and protocol.task_names(True) == ["infrared2visible"]
    runs = run_tasks(protocol.tasks(query, gallery), ["FC"], RankingOptions(backend="torch"))
    assert [r.task for r in runs] == ["infrared2visible", "visible2infrared"] and all(len(r.trials) == 10 for r in runs)
    qf, gf = F.normalize(query.features["FC"]).double().numpy(), F.normalize(gallery.features["FC"]).double().numpy()
    for trial in range(10):
        # public test_mode [1, 2]: all NIR images query one drawn VIS image per (id, camera)
        g_idx = draw_one_per_id_camera(gallery.paths, gallery.pids, gallery.camids, trial)
        cmc, mAP, mINP = eval_llcm_loop(-(qf @ gf[g_idx].T), query.pids, gallery.pids[g_idx], query.camids,
                                        gallery.camids[g_idx])
        got = runs[0].trials[trial]
        assert got["Rank-1"] == pytest.approx(100 * cmc[0], abs=1e-4) and got["Rank-10"] == pytest.approx(100 * cmc[9], abs=1e-4)
        assert got["mAP"] == pytest.approx(100 * mAP, abs=1e-4) and got["mINP"] == pytest.approx(100 * mINP, abs=1e-4)
        # public test_mode [2, 1]: the drawn NIR images query every VIS image (the matrix is transposed)
        q_idx = draw_one_per_id_camera(query.paths, query.pids, query.camids, trial)
        cmc, mAP, mINP = eval_llcm_loop(-(qf[q_idx] @ gf.T), query.pids[q_idx], gallery.pids, query.camids[q_idx],
                                        gallery.camids)
        got = runs[1].trials[trial]
        assert got["Rank-1"] == pytest.approx(100 * cmc[0], abs=1e-4) and got["mAP"] == pytest.approx(100 * mAP, abs=1e-4)
    assert len({tuple(t.values()) for t in runs[0].trials}) > 1  # the trials really draw different galleries


def test_a_protocol_without_directions_is_refused(llcm_root, tmp_path):
    from fastreid_ext.data.datasets import build_dataset
    from fastreid_ext.evaluation import build_protocol
    from fastreid_ext.utils.errors import UserError

    cfg = _cfg(llcm_root, tmp_path, "TEST.LLCM.DIRECTIONS", "[]")
    with pytest.raises(UserError, match=r"LLCM: protocol 'llcm' declares no task"):
        build_protocol(cfg, build_dataset(cfg, "LLCM"))


@pytest.mark.parametrize("config", ["baseline.yml", "agw.yml", "paenet_labelfree.yml"])
def test_configs_load(repo_root, config):
    from fastreid_ext.config import load_config

    cfg = load_config(str(repo_root / "configs" / "LLCM" / config))
    assert list(cfg.DATASETS.TESTS) == ["LLCM"] and "llcm" in list(cfg.IMPORTS)
