"""Parameters and FLOPs (tools/complexity.py, the line every run logs): the parameter count against
sum(p.numel()), FLOPs of a small model against a hand count, and a real ResNet-18 baseline."""
import logging

import torch
import torchvision
from fvcore.nn import FlopCountAnalysis
from torch import nn

from fastreid_ext.modeling import build_model
from fastreid_ext.modeling.complexity import count_parameters, log_complexity, model_complexity


class _Small(nn.Module):
    """conv 3→4 (3x3, no bias) → global mean → linear 4→5; a classifier used in training only."""

    TRAINING_ONLY_PREFIXES = ("classifier.",)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5)
        self.classifier = nn.Linear(5, 7, bias=False)

    def forward(self, batch):
        pooled = self.conv(batch["images"]).mean(dim=(2, 3))
        return {"FC": self.fc(pooled), "POOL": pooled}


def test_small_model_flops_match_a_hand_count(make_cfg):
    cfg = make_cfg(**{"INPUT.SIZE_TEST": [16, 8]})
    info = model_complexity(_Small(), cfg)
    conv = (16 * 8 * 4) * (3 * 3 * 3)  # one multiply-add per output element and kernel tap
    linear = 4 * 5
    assert info["flops"] == conv + linear == 13844
    assert info["params"] == 3 * 4 * 9 + 4 * 5 + 5 + 5 * 7
    assert info["params_inference"] == 3 * 4 * 9 + 4 * 5 + 5  # the classifier is training-only
    assert info["input"] == [16, 8] and info["attribute_source"] is None


def test_resnet18_baseline_counts_and_mode_restored(caplog, make_cfg):
    cfg = make_cfg(depth=18, num_classes=10, **{"INPUT.SIZE_TEST": [64, 32]})
    model = build_model(cfg).train()
    bn = model.bottleneck
    before = [b.clone() for b in model.buffers()]
    info = model_complexity(model, cfg)
    assert info["params"] == sum(p.numel() for p in model.parameters())
    assert info["params_inference"] == info["params"] - 10 * model.feat_dim  # minus the identity classifier
    assert info["params"] == count_parameters(model)
    # independent reference: torchvision's ResNet-18 with layer4 at stride 1 (LAST_STRIDE 1), no fc; the
    # baseline pools with GeM (pow/mean: not counted by fvcore) instead of its average pool, then BNNeck
    ref = torchvision.models.resnet18()
    ref.layer4[0].conv1.stride = ref.layer4[0].downsample[0].stride = (1, 1)
    ref.fc = nn.Identity()
    counted = FlopCountAnalysis(ref.eval(), (torch.randn(1, 3, 64, 32),)).unsupported_ops_warnings(False)
    by_op = counted.by_operator()
    assert info["flops"] == counted.total() - by_op["adaptive_avg_pool2d"] + 2 * model.feat_dim
    assert by_op["conv"] == 124354560  # the convolutions alone: 0.124 GMAC
    assert model.training and bn.training  # mode restored, BN statistics untouched
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers()))
    with caplog.at_level(logging.INFO, logger="fastreid_ext.modeling.complexity"):
        assert log_complexity(model, cfg) == info
    assert "M parameters" in caplog.text and "GFLOPs" in caplog.text and "64x32" in caplog.text


def test_flops_grow_with_the_test_size(make_cfg):
    small = model_complexity(_Small(), make_cfg(**{"INPUT.SIZE_TEST": [16, 8]}))["flops"]
    large = model_complexity(_Small(), make_cfg(**{"INPUT.SIZE_TEST": [32, 16]}))["flops"]
    assert large - 20 == 4 * (small - 20)


def test_untraceable_model_logs_a_warning_instead_of_failing(caplog, make_cfg):
    class Broken(_Small):
        def forward(self, batch):
            raise RuntimeError("cannot trace")

    with caplog.at_level(logging.WARNING):
        assert log_complexity(Broken(), make_cfg()) is None
    assert "not counted" in caplog.text and "cannot trace" in caplog.text
