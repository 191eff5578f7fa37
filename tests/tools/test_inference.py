"""DefaultPredictor, tools/extract_features.py and tools/search.py on a tiny trained run."""
import cv2
import numpy as np
import pytest
import torch

from tools_testkit import load_tool
from fastreid_ext.config import load_config
from fastreid_ext.engine.predictor import DefaultPredictor
from fastreid_ext.utils.errors import UserError


def _cfg(tiny_run, *opts):
    return load_config(str(tiny_run / "config.yaml"), ["MODEL.WEIGHTS", str(tiny_run / "model_final.pth"), *opts])


pytestmark = pytest.mark.slow  # a tiny training run is shared by most of these tests


def test_predictor_gives_the_evaluators_features(tiny_run):
    with np.load(tiny_run / "features.npz") as z:
        paths, expected = [str(p) for p in z["query/paths"][:5]], z["query/FC"][:5]
        g_paths, g_expected = [str(p) for p in z["gallery/paths"][:3]], z["gallery/FC"][:3]
    predictor = DefaultPredictor(_cfg(tiny_run))
    np.testing.assert_allclose(predictor(paths, "infrared").numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(predictor(g_paths, "visible").numpy(), g_expected, rtol=1e-4, atol=1e-5)
    # arrays and tensors of the same images give the same features; normalize gives unit rows
    rgb = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths[:2]]
    from_arrays = predictor(rgb, "infrared")
    tensors = [torch.from_numpy(a).permute(2, 0, 1) for a in rgb]
    np.testing.assert_allclose(from_arrays.numpy(), expected[:2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(predictor(tensors, ["infrared"] * 2), from_arrays)
    batch = torch.stack([tensors[1], tensors[1]])  # a (B, 3, H, W) uint8 batch
    torch.testing.assert_close(predictor(batch, "infrared"), from_arrays[1:].expand(2, -1))
    torch.testing.assert_close(predictor(paths[:2], "infrared", normalize=True).norm(dim=1), torch.ones(2))


def test_predictor_bad_input_names_the_problem(tiny_run):
    predictor = DefaultPredictor(_cfg(tiny_run))
    with pytest.raises(UserError, match="Unknown modality 'thermal'"):
        predictor(np.zeros((8, 4, 3), np.uint8), "thermal")
    with pytest.raises(UserError, match=r"uint8 RGB \(H, W, 3\)"):
        predictor(np.zeros((8, 4), np.float32), "visible")
    with pytest.raises(UserError, match="No images"):
        predictor([], "visible")
    with pytest.raises(UserError, match="MODEL.WEIGHTS"):
        DefaultPredictor(load_config(str(tiny_run / "config.yaml"), ["MODEL.WEIGHTS", ""]))


def test_extract_features_split_and_folder_then_search(repo_root, tiny_run, tmp_path):
    extract, search = load_tool(repo_root, "extract_features"), load_tool(repo_root, "search")
    weights = ["MODEL.WEIGHTS", str(tiny_run / "model_final.pth")]
    gallery_npz = extract.main(["--config-file", str(tiny_run / "config.yaml"), "--split", "gallery",
                                "--output", str(tmp_path / "gallery.npz"), *weights])
    with np.load(gallery_npz) as z, np.load(tiny_run / "features.npz") as saved:
        assert set(z.files) >= {"features", "paths", "pids", "camids", "modality", "feature"}
        np.testing.assert_allclose(z["features"], saved["gallery/FC"], rtol=1e-4, atol=1e-5)
        assert (z["pids"] == saved["gallery/pids"]).all() and (z["camids"] == saved["gallery/camids"]).all()
        assert set(z["modality"].tolist()) == {"visible"} and str(z["feature"]) == "FC"
        query_paths = [str(p) for p in saved["query/paths"][:2]]
        query_pids = saved["query/pids"][:2]
    folder = tmp_path / "queries"
    folder.mkdir()
    for i, p in enumerate(query_paths):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.imread(p))
    folder_npz = extract.main(["--config-file", str(tiny_run / "config.yaml"), "--folder", str(folder),
                               "--modality", "infrared", "--output", str(tmp_path / "folder.npz"), *weights])
    with np.load(folder_npz) as z:
        assert z["features"].shape[0] == 2 and (z["pids"] == -1).all()

    png = tmp_path / "ranks.png"
    paths, dist, idx = search.main(["--gallery", gallery_npz, "--config-file", str(tiny_run / "config.yaml"),
                                    "--query", *query_paths, "--modality", "infrared", "--topk", "4",
                                    "--query-ids", *map(str, query_pids), "--output", str(png), *weights])
    assert dist.shape == idx.shape == (2, 4) and (np.diff(dist, axis=1) >= 0).all()
    img = cv2.imread(str(png))
    assert img.shape == (2 * (128 + 8) + 8, (64 + 8) * 5 + 8, 3)  # a row per query (query, gap, 4 results), 8-px gap
    with np.load(gallery_npz) as z:
        g_pids = z["pids"]
    for r in range(2):  # correctness frames, as the evaluator's rank lists: green same identity, red another
        y = r * (128 + 8 + 8) + 1
        for j in range(4):
            expected = (0, 170, 0) if g_pids[idx[r, j]] == query_pids[r] else (0, 0, 230)
            assert tuple(img[y, (64 + 8) + 8 + j * (64 + 8) + 1]) == expected
    # the same ranking as the evaluator's features give
    with np.load(tiny_run / "features.npz") as saved:
        q = torch.nn.functional.normalize(torch.from_numpy(saved["query/FC"][:2]), dim=1)
        g = torch.nn.functional.normalize(torch.from_numpy(saved["gallery/FC"]), dim=1)
    assert (torch.argsort(-(q @ g.T), dim=1, stable=True)[:, :4].numpy() == idx).all()
    assert query_pids.shape == (2,)


def test_tools_refuse_bad_input_in_one_line(repo_root, tiny_run, tmp_path):
    extract, search = load_tool(repo_root, "extract_features"), load_tool(repo_root, "search")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=f"--folder {empty}: no images"):
        extract.main(["--config-file", str(tiny_run / "config.yaml"), "--folder", str(empty), "--modality", "visible",
                      "--output", str(tmp_path / "x.npz"), "MODEL.WEIGHTS", str(tiny_run / "model_final.pth")])
    bad = tmp_path / "bad.npz"
    np.savez(bad, features=np.zeros((2, 3)))
    with pytest.raises(UserError, match="bad.npz: missing"):
        search.main(["--gallery", str(bad), "--config-file", str(tiny_run / "config.yaml"), "--query", str(empty),
                     "--modality", "visible"])


def test_predictor_matches_the_evaluator_for_an_attribute_model(repo_root, sysu_root, tmp_path):
    """PAENet (random init) with ground-truth attributes: the same features as the evaluator's pools."""
    from fastreid_ext.data.datasets.build import build_dataset
    from fastreid_ext.engine.defaults import import_builtins
    from fastreid_ext.evaluation import build_evaluator
    from fastreid_ext.modeling import build_model

    import_builtins()
    opts = ["DATASETS.ROOT", str(sysu_root), "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", "False",
            "MODEL.BACKBONE.DEPTH", "18", "MODEL.HEADS.NUM_CLASSES", "12", "INPUT.SIZE_TEST", "[32, 16]",
            "DATALOADER.NUM_WORKERS", "0", "DATALOADER.PERSISTENT_WORKERS", "False", "TEST.FEATURES", "['FC']"]
    cfg = load_config(str(repo_root / "configs/PAENet/sysu.yml"), opts)
    dataset = build_dataset(cfg, "SYSU_MM01")
    cfg.defrost()
    cfg.MODEL.NUM_ATTRIBUTES = len(dataset.attribute_names)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    torch.save({"model": model.state_dict()}, tmp_path / "w.pth")
    query, _ = build_evaluator(cfg, dataset, "").extract_feature_sets(model, "gt")
    cfg.MODEL.WEIGHTS = str(tmp_path / "w.pth")
    predictor = DefaultPredictor(cfg)
    records = dataset.query[:6]
    with pytest.raises(UserError, match="takes a test-time input source: pass attribute_source"):
        predictor([r.img_path for r in records], "infrared")
    feats = predictor([r.img_path for r in records], [r.modality for r in records],
                      attributes=np.stack([r.attributes for r in records]), attribute_source="gt",
                      attribute_mask=np.stack([r.attribute_mask for r in records]))
    torch.testing.assert_close(feats, query.features["FC"][:6], rtol=1e-4, atol=1e-5)
    zeros = predictor([r.img_path for r in records], "infrared", attribute_source="zeros")
    assert not torch.allclose(zeros, feats)  # the attribute source reaches the model
