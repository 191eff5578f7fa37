"""Test-only reference: the forward of the public MPANet model, re-written from reading
``models/baseline.py``, ``models/resnet.py`` and ``layers/loss/local_center_loss.py`` of
DoubtedSteam/MPANet (``Baseline(pattern_attention=True, modality_attention=2, mutual_learning=True,
drop_last_stride=True, classification=True, center_cluster=True)``; no code copied), with that model's
state-dict names, so that its state dict is a public checkpoint. Nothing of ``fastreid_ext`` or
``mpanet`` is imported.

The ResNet stages are torchvision's ResNet-50 with layer4's stride set to 1 (what its
``resnet50(drop_last_stride=True)`` computes: the same Bottleneck layout). Its MAM widths are fixed at
1024 and 2048, so the public model exists for ResNet-50 only.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet50


class _MAM(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.channel_attention = nn.Sequential(nn.Conv2d(c, c // r, 1, bias=False), nn.ReLU(),
                                               nn.Conv2d(c // r, c, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        m = self.channel_attention(x.mean(dim=(2, 3), keepdim=True))
        mu = x.mean(dim=(2, 3), keepdim=True)
        var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
        return m * x + (1 - m) * (x - mu) / torch.sqrt(var + 1e-5)


class _Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        net = resnet50(weights=None)
        net.layer4[0].conv2.stride = (1, 1)
        net.layer4[0].downsample[0].stride = (1, 1)
        for name in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(net, name))
        self.MAM3, self.MAM4 = _MAM(1024), _MAM(2048)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.MAM3(self.layer3(self.layer2(self.layer1(x))))
        return self.MAM4(self.layer4(x))


class PublicMPANet(nn.Module):
    def __init__(self, num_classes, parts=6, weight_sep=0.5, weight_sid=0.5, weight_kl=2.5, rate=0.2,
                 margin=0.7, k_size=8):
        super().__init__()
        self.backbone = _Backbone()
        self.parts = parts
        self.spatial_attention = nn.Conv2d(2048, parts, 1)
        d = 2048 * (parts + 1)
        self.visible_classifier = nn.Linear(d, num_classes, bias=False)
        self.infrared_classifier = nn.Linear(d, num_classes, bias=False)
        self.visible_classifier_ = nn.Linear(d, num_classes, bias=False)
        self.infrared_classifier_ = nn.Linear(d, num_classes, bias=False)
        self.bn_neck = nn.BatchNorm1d(d)
        self.classifier = nn.Linear(d, num_classes, bias=False)
        self.w = dict(sep=weight_sep, sid=weight_sid, kl=weight_kl, rate=rate, margin=margin, k=k_size)

    def _features(self, x):
        fmap = self.backbone(x)
        masks = torch.sigmoid(self.spatial_attention(fmap))
        parts = [(masks[:, i:i + 1] * fmap).mean(dim=(2, 3)) for i in range(self.parts)]
        return torch.cat(parts + [fmap.mean(dim=(2, 3))], 1), masks

    def eval_features(self, x):
        return self.bn_neck(self._features(x)[0])

    def train_losses(self, x, labels, infrared):
        """Its train_forward's terms, weighted as its total adds them (the modality CEs enter twice)."""
        w = self.w
        feat, masks = self._features(x)
        b = masks.shape[0]
        m = masks.view(b, self.parts, -1)
        sep = sum(float(0) + (m[:, i] * m[:, j]).sum() for i in range(self.parts) for j in range(i + 1, self.parts))
        sep = sep / (b * self.parts * (self.parts - 1) / 2)
        n = feat.shape[0]
        centers = torch.stack([feat[labels == labels[i]].mean(0) for i in range(n)])
        pull = (feat - centers).norm(dim=1).mean()
        pushes = []
        for i in range(0, n, w["k"]):
            others = labels != labels[i]
            pushes.append((w["margin"] - (centers[i] - centers[others]).norm(dim=1)).clamp(min=0).mean())
        cc = pull + torch.stack(pushes).mean()
        bn = self.bn_neck(feat)
        ce = F.cross_entropy(self.classifier(bn), labels)
        v, i_ = ~infrared, infrared
        lv, li = self.visible_classifier(bn[v]), self.infrared_classifier(bn[i_])
        sid = F.cross_entropy(lv, labels[v]) + F.cross_entropy(li, labels[i_])
        with torch.no_grad():
            self.infrared_classifier_.weight.copy_((1 - w["rate"]) * self.infrared_classifier_.weight
                                                   + w["rate"] * self.infrared_classifier.weight)
            self.visible_classifier_.weight.copy_((1 - w["rate"]) * self.visible_classifier_.weight
                                                  + w["rate"] * self.visible_classifier.weight)
            t = torch.cat([self.infrared_classifier_(bn[v]), self.visible_classifier_(bn[i_])])
        p = F.softmax(torch.cat([lv, li]), 1)
        kl = (p * (torch.log(p) - F.log_softmax(t, 1))).sum() / n
        return {"loss_sep": w["sep"] * sep, "loss_center_cluster": cc, "loss_cls": ce,
                "loss_sid": 2 * w["sid"] * sid, "loss_kl": w["kl"] * kl}
