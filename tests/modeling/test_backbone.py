"""Two-stream ResNet: shapes, stage split, routing by modality, gradients into both stems and the shared part."""
import pytest
import torch

from fastreid_ext.modeling.backbones import TwoStreamResNet, build_backbone


@pytest.mark.parametrize("depth,batch,size,expected", [
    (18, 4, (288, 144), (512, 18, 9)),
    (18, 4, (128, 64), (512, 8, 4)),
    (50, 2, (288, 144), (2048, 18, 9)),
    (50, 2, (128, 64), (2048, 8, 4)),
])
def test_output_shape_last_stride_1(depth, batch, size, expected, make_cfg):
    net = build_backbone(make_cfg(depth=depth)).eval()
    with torch.no_grad():
        out = net(torch.randn(batch, 3, *size), torch.tensor([0, 1] * (batch // 2)))
    assert tuple(out.shape) == (batch, *expected)
    assert net.out_channels == expected[0]


def test_last_stride_2_halves_the_map(make_cfg):
    net = build_backbone(make_cfg(**{"MODEL.BACKBONE.LAST_STRIDE": 2})).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 128, 64), torch.tensor([1])).shape[-2:] == (4, 2)


@pytest.mark.parametrize("shared_from,specific", [
    ("layer3", ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2")),
    ("layer1", ("conv1", "bn1", "relu", "maxpool")),
    ("layer4", ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")),
])
def test_split_point_and_state_dict_names(shared_from, specific):
    net = TwoStreamResNet(depth=18, shared_from=shared_from)
    assert net.specific_stages == specific
    assert net.specific_stages + net.shared_stages == ("conv1", "bn1", "relu", "maxpool",
                                                       "layer1", "layer2", "layer3", "layer4")
    keys = set(net.state_dict())
    assert "specific.visible.conv1.weight" in keys and "specific.infrared.conv1.weight" in keys
    assert "shared.layer4.0.conv1.weight" in keys
    # two independent copies of the specific stages, one shared copy of the rest
    assert net.specific["visible"].conv1.weight is not net.specific["infrared"].conv1.weight
    n_vis = sum(p.numel() for p in net.specific["visible"].parameters())
    n_shared = sum(p.numel() for p in net.shared.parameters())
    assert sum(p.numel() for p in net.parameters()) == 2 * n_vis + n_shared


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="MODEL.BACKBONE.DEPTH"):
        TwoStreamResNet(depth=101)
    with pytest.raises(ValueError, match="MODEL.BACKBONE.SHARED_FROM"):
        TwoStreamResNet(depth=18, shared_from="layer5")
    net = TwoStreamResNet(depth=18)
    with pytest.raises(ValueError, match="modality values"):
        net(torch.randn(2, 3, 64, 32), torch.tensor([0, 2]))


def test_mixed_order_batch_is_routed_per_sample():
    torch.manual_seed(0)
    net = TwoStreamResNet(depth=18).eval()
    # make the two stems clearly different
    with torch.no_grad():
        for p in net.specific["infrared"].parameters():
            p.add_(0.05 * torch.randn_like(p))
    images = torch.randn(6, 3, 128, 64)
    modality = torch.tensor([1, 0, 0, 1, 1, 0])
    with torch.no_grad():
        mixed = net(images, modality)
        single = torch.cat([net(images[i:i + 1], modality[i:i + 1]) for i in range(6)])
        swapped = net(images, 1 - modality)
    rel = lambda a, b: ((a - b).norm() / b.norm()).item()  # noqa: E731  (batched-conv rounding only)
    assert rel(mixed, single) < 1e-5
    assert rel(swapped, single) > 1e-2


def _grad_norm(module):
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return sum(g.abs().sum().item() for g in grads) if grads else 0.0


@pytest.mark.parametrize("depth,batch,size", [(18, 4, (288, 144)), (18, 4, (128, 64)), (50, 2, (128, 64))])
def test_both_stems_get_gradients_from_a_mixed_batch(depth, batch, size):
    net = TwoStreamResNet(depth=depth).train()
    modality = torch.tensor([0, 1] * (batch // 2))
    net(torch.randn(batch, 3, *size), modality).mean().backward()
    assert _grad_norm(net.specific["visible"]) > 0
    assert _grad_norm(net.specific["infrared"]) > 0
    assert _grad_norm(net.shared) > 0


@pytest.mark.parametrize("modality_value,used,unused", [(0, "visible", "infrared"), (1, "infrared", "visible")])
def test_single_modality_batch_trains_its_stem_and_the_shared_part(modality_value, used, unused):
    net = TwoStreamResNet(depth=18).train()
    net(torch.randn(2, 3, 128, 64), torch.full((2,), modality_value)).mean().backward()
    assert _grad_norm(net.specific[used]) > 0
    assert _grad_norm(net.specific[unused]) == 0.0
    assert _grad_norm(net.shared) > 0
