"""tools/complexity.py prints the parameter and FLOP line and the per-module table of a config's model."""

from tools_testkit import load_tool


def test_baseline_and_paenet_configs(repo_root, tmp_path, capsys):
    tool = load_tool(repo_root, "complexity")
    small = ["MODEL.BACKBONE.DEPTH", "18", "INPUT.SIZE_TEST", "[64, 32]", "DATASETS.ROOT", str(tmp_path)]
    info = tool.main(["--config-file", str(repo_root / "configs/Baseline/sysu.yml"), "--depth", "1", *small])
    out = capsys.readouterr().out
    assert out.startswith("CrossModalBaseline: ") and "per 64x32 image" in out
    assert "| module" in out and "backbone" in out  # the per-module table
    assert f"{info['params'] / 1e6:.2f} M parameters" in out
    import torchvision  # two stems (conv1, bn1, layer1, layer2 per modality) + shared layer3/4 + BNNeck

    r18 = torchvision.models.resnet18()
    stem = sum(p.numel() for n, p in r18.named_parameters() if n.split(".")[0] in ("conv1", "bn1", "layer1", "layer2"))
    shared = sum(p.numel() for n, p in r18.named_parameters() if n.split(".")[0] in ("layer3", "layer4"))
    assert info["params"] == 2 * stem + shared + 2 * 512

    # PAENet label-free without data: the attribute count given on the command line; the primary
    # test-time source (predicted) is the one counted
    info = tool.main(["--config-file", str(repo_root / "configs/PAENet/sysu_labelfree.yml"), "--depth", "0",
                      "MODEL.NUM_ATTRIBUTES", "12", *small])
    out = capsys.readouterr().out
    assert out.startswith("PAENet: ") and "attribute source predicted" in out and "| module" not in out
    assert info["attribute_source"] == "predicted" and info["params"] > 2 * stem + shared
