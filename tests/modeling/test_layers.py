"""GeM (docs/protocols.md#gem), average pooling and BNNeck (docs/protocols.md#paenet-forward)."""
import pytest
import torch

from fastreid_ext.modeling.layers import BNNeck, GeM, GlobalAvgPool, build_neck, build_pooling


def test_gem_fixed_p_is_the_reference_formula_and_not_a_state_key():
    x = torch.rand(2, 5, 6, 3, dtype=torch.float64)
    gem = GeM(p=3.0)
    expected = (x.view(2, 5, -1).pow(3).mean(-1) + 1e-12) ** (1 / 3)
    assert torch.equal(gem(x), expected)
    assert list(gem.state_dict()) == [] and list(gem.parameters()) == []


def test_gem_learnable_p_gets_a_gradient_and_clamps():
    gem = GeM(p=3.0, learnable=True)
    x = torch.randn(2, 4, 3, 3)  # negatives are clamped, the output stays finite
    gem(x).sum().backward()
    assert gem.p.grad is not None and torch.isfinite(gem.p.grad)
    assert "p" in gem.state_dict()


def test_avg_pool_and_build_pooling_from_config(make_cfg):
    x = torch.rand(2, 4, 3, 5)
    assert torch.allclose(GlobalAvgPool()(x), x.mean((2, 3)))
    assert isinstance(build_pooling(make_cfg()), GeM)
    assert build_pooling(make_cfg(**{"MODEL.HEADS.GEM_P": 4.0})).p == 4.0
    assert isinstance(build_pooling(make_cfg(**{"MODEL.HEADS.POOL": "avg"})), GlobalAvgPool)
    with pytest.raises(ValueError, match="MODEL.HEADS.POOL"):
        build_pooling(make_cfg(**{"MODEL.HEADS.POOL": "max"}))


def test_bnneck_init_and_frozen_bias(make_cfg):
    torch.manual_seed(0)
    neck = BNNeck(4096)
    assert not neck.bias.requires_grad and torch.count_nonzero(neck.bias) == 0
    assert neck.weight.requires_grad
    assert abs(neck.weight.mean().item() - 1.0) < 1e-3 and abs(neck.weight.std().item() - 0.01) < 1e-3
    assert set(neck.state_dict()) >= {"weight", "bias", "running_mean", "running_var"}
    assert isinstance(build_neck(make_cfg(**{"MODEL.HEADS.NECK": "none"}), 8), torch.nn.Identity)
