"""tools/export.py: ONNX graphs of a ResNet-18 baseline and of PAENet (label-free, predicted source baked
in; gt source with an attributes input) at 64x32, run with onnxruntime and compared with torch."""
import numpy as np
import pytest
import torch

from tools_testkit import load_tool

ort = pytest.importorskip("onnxruntime")  # the only reason to skip: onnxruntime missing
ATOL = 1e-4  # float32 through two runtimes; measured differences are ~1e-6


def _inputs(n=6, seed=1, h=64, w=32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, h, w, generator=g), torch.tensor([0, 1, 1, 0, 1, 0])[:n]


def _torch_features(model, batch):
    with torch.no_grad():
        return model.eval()(batch)["FC"].numpy()


def _model(repo_root, tmp_path, config, *opts):
    """A random-init model whose infrared stem differs from the visible one (at init both are copies),
    saved as the MODEL.WEIGHTS the tool exports."""
    from fastreid_ext.config import load_config
    from fastreid_ext.modeling import build_model

    cfg = load_config(str(repo_root / config), ["MODEL.DEVICE", "cpu", "MODEL.BACKBONE.PRETRAIN", False,
                                                "MODEL.BACKBONE.DEPTH", 18, "INPUT.SIZE_TEST", [64, 32], *opts])
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".specific.infrared." in f".{name}" and p.dim() == 4:
                p.mul_(1.5)
    weights = tmp_path / f"{config.replace('/', '_')}.pth"
    torch.save({"model": model.state_dict()}, weights)
    return model.eval(), str(weights)


def _export(repo_root, tmp_path, config, name, weights, *opts, source=()):
    tool = load_tool(repo_root, "export")
    out = str(tmp_path / f"{name}.onnx")
    meta = tool.main(["--config-file", str(repo_root / config), "--output", out, "--batch", "2", *source,
                      "MODEL.BACKBONE.DEPTH", "18", "INPUT.SIZE_TEST", "[64, 32]", "MODEL.BACKBONE.PRETRAIN", "False",
                      "DATASETS.ROOT", str(tmp_path / "none"), "MODEL.WEIGHTS", weights, *opts])
    return tool, out, meta


def test_resnet18_baseline_onnx_matches_torch(repo_root, tmp_path):
    from fastreid_ext.engine.onnx_export import run_onnx

    model, weights = _model(repo_root, tmp_path, "configs/Baseline/sysu.yml")
    _, path, meta = _export(repo_root, tmp_path, "configs/Baseline/sysu.yml", "baseline", weights)
    assert meta["inputs"] == ["images", "modality"] and meta["attribute_source"] == "" and meta["max_abs_diff"] < ATOL
    images, modality = _inputs()
    ref = _torch_features(model, {"images": images, "modality": modality})
    out = run_onnx(path, images.numpy(), modality.numpy())
    assert out.shape == ref.shape == (6, 512)
    np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
    # the modality input routes each row through its own stem (not baked in at export)
    flipped = run_onnx(path, images.numpy(), 1 - modality.numpy())
    assert np.abs(flipped - out).max() > 100 * ATOL
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["input_size"] == "[64, 32]"


def test_paenet_label_free_and_gt_sources(repo_root, tmp_path):
    from fastreid_ext.engine.onnx_export import run_onnx

    opts = ("MODEL.NUM_ATTRIBUTES", "12")
    model, weights = _model(repo_root, tmp_path, "configs/PAENet/demo.yml", "MODEL.NUM_ATTRIBUTES", 12)
    _, path, meta = _export(repo_root, tmp_path, "configs/PAENet/demo.yml", "labelfree", weights, *opts)
    assert meta["attribute_source"] == "predicted" and meta["inputs"] == ["images", "modality"]
    images, modality = _inputs()
    ref = _torch_features(model, {"images": images, "modality": modality, "attribute_source": "predicted"})
    out = run_onnx(path, images.numpy(), modality.numpy())
    np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
    assert np.abs(run_onnx(path, images.numpy(), 1 - modality.numpy()) - out).max() > 100 * ATOL

    _, gt_path, gt_meta = _export(repo_root, tmp_path, "configs/PAENet/demo.yml", "gt", weights, *opts,
                                  source=("--attribute-source", "gt"))
    assert gt_meta["inputs"] == ["images", "modality", "attributes"]
    attrs = (torch.rand(6, 12, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    ref = _torch_features(model, {"images": images, "modality": modality, "attribute_source": "gt",
                                  "attributes": attrs, "attribute_mask": torch.ones(6, 12, dtype=torch.bool)})
    out = run_onnx(gt_path, images.numpy(), modality.numpy(), attrs.numpy())
    np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
    # the attributes input is wired: other attributes, other features, again as torch computes them
    other = _torch_features(model, {"images": images, "modality": modality, "attribute_source": "gt",
                                    "attributes": 1 - attrs, "attribute_mask": torch.ones(6, 12, dtype=torch.bool)})
    out_other = run_onnx(gt_path, images.numpy(), modality.numpy(), (1 - attrs).numpy())
    np.testing.assert_allclose(out_other, other, atol=ATOL, rtol=0)
    assert np.abs(out_other - out).max() > 5 * ATOL


def test_bad_requests_are_one_line_errors(repo_root, tmp_path):
    from fastreid_ext.utils.errors import UserError

    tool = load_tool(repo_root, "export")
    with pytest.raises(UserError, match="MODEL.WEIGHTS is empty"):
        tool.main(["--config-file", str(repo_root / "configs/Baseline/sysu.yml"), "--output", str(tmp_path / "x.onnx")])
    with pytest.raises(UserError, match="takes no test-time input besides the image"):
        tool.main(["--config-file", str(repo_root / "configs/Baseline/sysu.yml"), "--output", str(tmp_path / "y.onnx"),
                   "--random-init", "--attribute-source", "gt", "MODEL.BACKBONE.DEPTH", "18"])
    assert not list(tmp_path.glob("*.onnx"))  # nothing half-written
