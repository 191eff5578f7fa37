"""ImageNet weights from a local file (torchvision or official names) and from the torchvision enum."""
import pytest
import torch
from torchvision import models
from torchvision.models._api import WeightsEnum

from fastreid_ext.modeling.backbones import TwoStreamResNet


def _randomised_resnet18_state():
    torch.manual_seed(123)
    state = models.resnet18(weights=None).state_dict()
    return {k: (torch.randn_like(v) if v.is_floating_point() else v) for k, v in state.items()}


def test_torchvision_names_fill_both_stems_and_the_shared_part(tmp_path):
    state = _randomised_resnet18_state()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    net = TwoStreamResNet(depth=18, pretrain_path=str(path))
    own = net.state_dict()
    for stream in ("visible", "infrared"):
        assert torch.equal(own[f"specific.{stream}.conv1.weight"], state["conv1.weight"])
        assert torch.equal(own[f"specific.{stream}.layer2.1.bn2.running_var"], state["layer2.1.bn2.running_var"])
    assert torch.equal(own["shared.layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    assert torch.equal(own["shared.layer3.0.downsample.0.weight"], state["layer3.0.downsample.0.weight"])


def test_official_names_map_stream_by_stream(tmp_path):
    state = _randomised_resnet18_state()
    official = {}
    for prefix, shift in (("visible_module.visible.", 0.0), ("thermal_module.thermal.", 1.0), ("base_resnet.base.", 2.0)):
        for k, v in state.items():
            official[f"module.{prefix}{k}"] = v + shift if v.is_floating_point() else v
    official["module.bottleneck.weight"] = torch.ones(512)  # other parts of a checkpoint are ignored
    path = tmp_path / "official.t"
    torch.save({"net": official, "epoch": 3}, path)
    net = TwoStreamResNet(depth=18, pretrain_path=str(path))
    own = net.state_dict()
    assert torch.equal(own["specific.visible.layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])
    assert torch.equal(own["specific.infrared.layer1.0.conv1.weight"], state["layer1.0.conv1.weight"] + 1)
    assert torch.equal(own["shared.layer3.0.conv1.weight"], state["layer3.0.conv1.weight"] + 2)


def test_wrong_depth_or_missing_file_is_reported(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(_randomised_resnet18_state(), path)
    with pytest.raises(ValueError, match="lacks"):
        TwoStreamResNet(depth=34, pretrain_path=str(path))  # layer1.2 etc. missing
    with pytest.raises(FileNotFoundError, match="PRETRAIN_PATH"):
        TwoStreamResNet(depth=18, pretrain_path=str(tmp_path / "nope.pth"))


def test_torchvision_enum_failure_gives_a_clear_error(monkeypatch):
    def offline(self, *args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(RuntimeError, match="PRETRAIN_PATH"):
        TwoStreamResNet(depth=18, pretrain=True)


def test_torchvision_enum_weights_are_used(monkeypatch):
    state = _randomised_resnet18_state()
    monkeypatch.setattr(WeightsEnum, "get_state_dict", lambda self, *a, **k: state)
    net = TwoStreamResNet(depth=18, pretrain=True)
    assert torch.equal(net.state_dict()["specific.infrared.conv1.weight"], state["conv1.weight"])
