"""Test-only reference: the eval forward of the published HCT PCB model, re-written from reading
``model_mine.py`` of hijune6/Hetero-center-triplet-loss-for-VT-Re-ID (``embed_net(class_num,
no_local='off', gm_pool='on', share_net=s, pcb='on', local_feat_dim=D, num_strips=S)``; no code copied).

It keeps that model's state-dict names, so a state dict of this module is a state dict of a
published checkpoint: ``visible_module.visible.*`` / ``thermal_module.thermal.*`` (stem and layers
before ``share_net``), ``base_resnet.base.layer{s..4}``, ``local_conv_list.i.{0,1}`` (1×1 conv with
bias, BatchNorm2d; ReLU at .2) and ``fc_list.i`` (Linear with bias). The ResNet stages are torchvision's
with layer4's stride set to 1, which is what its ``resnet50(last_conv_stride=1)`` computes (the AGW
golden data, made with that ``resnet.py``, checks the same stages). Written independently of
``fastreid_ext``: nothing of the package is imported.

Eval forward, ``modal`` 1 (visible) or 2 (thermal): the modality's stream, the shared layers, then
for each of S equal horizontal stripes ``(mean over the stripe's positions of x**p + 1e-12)**(1/p)``
with p = 10 as hard-coded in its PCB path, the stripe's 1×1 conv + BN + ReLU, and the L2-normalised
concatenation of the S reduced vectors. ``features()`` returns that concatenation before the norm.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet50

_STEM = ("conv1", "bn1", "relu", "maxpool")


def _resnet_stride1():
    net = resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    return net


class _Holder(nn.Module):
    """An attribute-only container (the published code uses a ModuleList the same way)."""


class PublicHCTPCB(nn.Module):
    def __init__(self, class_num, share_net=2, local_feat_dim=256, num_strips=6, gem_p=10.0):
        super().__init__()
        self.share_net, self.num_strips, self.gem_p = share_net, num_strips, gem_p
        for outer, inner in (("visible_module", "visible"), ("thermal_module", "thermal")):
            src, holder = _resnet_stride1(), _Holder()
            stream = _Holder()
            for name in _STEM + tuple(f"layer{i}" for i in range(1, share_net)):
                setattr(stream, name, getattr(src, name))
            setattr(holder, inner, stream)
            setattr(self, outer, holder)
        src = _resnet_stride1()
        self.base_resnet = _Holder()
        self.base_resnet.base = _Holder()
        for i in range(share_net, 5):
            setattr(self.base_resnet.base, f"layer{i}", getattr(src, f"layer{i}"))
        self.local_conv_list = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2048, local_feat_dim, 1), nn.BatchNorm2d(local_feat_dim), nn.ReLU(inplace=True))
            for _ in range(num_strips))
        self.fc_list = nn.ModuleList(nn.Linear(local_feat_dim, class_num) for _ in range(num_strips))

    def _stream(self, x, modal):
        stream = self.visible_module.visible if modal == 1 else self.thermal_module.thermal
        for name in _STEM + tuple(f"layer{i}" for i in range(1, self.share_net)):
            x = getattr(stream, name)(x)
        for i in range(self.share_net, 5):
            x = getattr(self.base_resnet.base, f"layer{i}")(x)
        return x

    def features(self, x, modal):
        fmap = self._stream(x, modal)
        assert fmap.shape[2] % self.num_strips == 0
        rows = fmap.shape[2] // self.num_strips
        parts = []
        for i in range(self.num_strips):
            stripe = fmap[:, :, i * rows:(i + 1) * rows, :].reshape(fmap.shape[0], fmap.shape[1], -1)
            pooled = (stripe.pow(self.gem_p).mean(-1) + 1e-12).pow(1.0 / self.gem_p)
            parts.append(self.local_conv_list[i](pooled[:, :, None, None]).reshape(fmap.shape[0], -1))
        return torch.cat(parts, 1)

    def forward(self, x, modal):
        return F.normalize(self.features(x, modal), dim=1)
