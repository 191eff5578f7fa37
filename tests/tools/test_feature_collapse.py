"""bench/feature_collapse.py on a randomly initialised PAENet (paper variant, trained-on-annotations
layout) saved as a run folder: the spread per feature, the AAL heads' mA equal to the evaluator's
attribute figure computed through the predictor, and no default attribute source for such a model."""
import importlib.util

import numpy as np
import pytest
import torch

from fastreid_ext.utils.errors import UserError


@pytest.fixture(scope="module")
def collapse(repo_root):
    spec = importlib.util.spec_from_file_location("feature_collapse", repo_root / "bench" / "feature_collapse.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_spread_by_hand(collapse):
    x = np.array([[0.0, 1.0], [2.0, 3.0]])  # per-dimension std 1 and 1; |mean| 1 and 2
    assert collapse.spread(x) == {"spread": 1.0, "mean_abs": 1.5}
    assert collapse.spread(np.ones((5, 3)))["spread"] == 0.0  # every image the same vector: collapsed


@pytest.fixture(scope="module")
def run_dir(repo_root, sysu_root, tmp_path_factory):
    from fastreid_ext.checkpoint import ReidCheckpointer
    from fastreid_ext.config import load_config
    from fastreid_ext.modeling import build_model

    run = tmp_path_factory.mktemp("collapse_run")
    cfg = load_config(str(repo_root / "configs" / "PAENet" / "sysu.yml"), [
        "MODEL.BACKBONE.PRETRAIN", "False", "MODEL.BACKBONE.DEPTH", "18", "MODEL.DEVICE", "cpu", "PAENET.VARIANT", "paper",
        "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]", "DATASETS.ROOT", str(sysu_root),
        "MODEL.HEADS.NUM_CLASSES", "12", "TEST.IMS_PER_BATCH", "16", "OUTPUT_DIR", str(run)])
    torch.manual_seed(0)
    model = build_model(cfg)
    ReidCheckpointer(model, save_dir=str(run)).save("model_final")
    (run / "config.yaml").write_text(cfg.dump())
    return run, cfg


def test_figures_of_a_run_folder(collapse, run_dir):
    from fastreid_ext.config import load_config
    from fastreid_ext.data.datasets.build import build_dataset
    from fastreid_ext.engine.predictor import DefaultPredictor
    from fastreid_ext.evaluation.attribute_metrics import attribute_recognition

    run, cfg = run_dir
    out = collapse.main([str(run), "--attribute-source", "zeros", "--json", str(run / "collapse.json")])
    data = build_dataset(cfg, cfg.DATASETS.TESTS[0])
    records = list(data.query) + list(data.gallery)
    assert out["images"] == len(records) and out["attribute_source"] == "zeros" and not out["leaks_labels"]
    assert set(out["features"]) == {"backbone POOL", "backbone FC", "retrieval FC"}
    assert all(f["spread"] > 0 for f in out["features"].values())
    # the heads' mA: the model's attribute output through the predictor (no hooks), the evaluator's formula
    predictor = DefaultPredictor(load_config(str(run / "config.yaml"), ["MODEL.WEIGHTS", str(run / "model_final.pth")]),
                                 "attribute_probs")
    probs = predictor([r.img_path for r in records], [r.modality for r in records], attribute_source="zeros")
    expected = attribute_recognition(probs.numpy(), np.stack([r.attributes for r in records]),
                                     np.stack([r.attribute_mask for r in records]))["mA"]
    assert out["heads mA"] == pytest.approx(expected, abs=1e-6) and "recognizer mA" not in out
    assert (run / "collapse.json").is_file()


def test_a_model_on_annotations_needs_a_named_source(collapse, run_dir):
    with pytest.raises(UserError, match="--attribute-source"):
        collapse.measure(str(run_dir[0]), max_images=4)
