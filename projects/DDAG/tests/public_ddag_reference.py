"""Test-only reference: the forward of the public DDAG model, re-written from reading ``model_main.py``,
``attention.py`` and ``train_ddag.py`` of mangye16/DDAG (``embed_net(low_dim, class_num, drop, part,
wpa=True)``; no code copied), with that model's state-dict names, so that its state dict is a
public checkpoint's ``net``. Nothing of ``fastreid_ext`` or ``ddag`` is imported.

The ResNet stages are torchvision's with layer4's stride set to 1 (what its ``resnet50(last_conv_stride=1)``
computes; the AGW golden data, made with that ``resnet.py``, checks the same stages). Each stream
is a whole ResNet of which only some stages run, as in the public model.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet50


def _resnet():
    net = resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    return net


class _Holder(nn.Module):
    pass


class _PartAttention(nn.Module):
    def __init__(self, c, part):
        super().__init__()
        self.part = part
        self.fc1 = nn.Sequential(nn.Conv2d(c, c, 1))
        self.fc2 = nn.Conv2d(c, c, 1)
        self.fc3 = nn.Conv2d(c, c, 1)
        self.W = nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c))  # defined, never used
        self.bottleneck = nn.BatchNorm1d(c)
        self.gate = nn.Parameter(torch.full((part,), 1.0 / part))

    def forward(self, x, feat):
        b, c = x.shape[:2]
        p = F.adaptive_avg_pool2d(x, (self.part, 1)).view(b, 1, c, self.part).permute(0, 2, 1, 3)
        f1 = self.fc1(p).view(b, c, -1).permute(0, 2, 1)
        f2 = self.fc2(p).view(b, c, -1)
        f3 = self.fc3(p).view(b, c, -1).permute(0, 2, 1)
        att = F.softmax(torch.matmul(f1, f2), dim=-1)
        refined = torch.matmul(att, f3).permute(0, 2, 1).contiguous().view(b, c, self.part)
        weighted = torch.matmul(refined, F.softmax(self.gate, dim=-1))
        return self.bottleneck(weighted + feat)


class _GraphLayer(nn.Module):
    def __init__(self, fin, fout, drop, alpha, concat):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(fin, fout))
        self.a = nn.Parameter(torch.zeros(2 * fout, 1))
        self.fout, self.drop, self.alpha, self.concat = fout, drop, alpha, concat

    def forward(self, x, adj):
        h = torch.mm(x, self.W)
        n = h.shape[0]
        pairs = torch.cat([h.repeat(1, n).view(n * n, -1), h.repeat(n, 1)], dim=1).view(n, -1, 2 * self.fout)
        e = F.leaky_relu(torch.matmul(pairs, self.a).squeeze(2), self.alpha)
        att = F.softmax(torch.where(adj > 0, e, -9e15 * torch.ones_like(e)), dim=1)
        att = F.dropout(att, self.drop, training=self.training)
        out = torch.matmul(att, h)
        return F.elu(out) if self.concat else out


class PublicDDAG(nn.Module):
    def __init__(self, low_dim, class_num, drop=0.2, part=3, alpha=0.2, nheads=4):
        super().__init__()
        self.visible_module, self.thermal_module, self.base_resnet = _Holder(), _Holder(), _Holder()
        self.visible_module.visible, self.thermal_module.thermal, self.base_resnet.base = _resnet(), _resnet(), _resnet()
        self.drop = drop
        self.bottleneck = nn.BatchNorm1d(2048)
        self.classifier = nn.Linear(2048, class_num, bias=False)
        self.classifier1 = nn.Linear(2048, class_num, bias=False)
        self.classifier2 = nn.Linear(2048, class_num, bias=False)
        self.wpa = _PartAttention(2048, part)
        for i in range(nheads):
            self.add_module(f"attention_{i}", _GraphLayer(2048, low_dim, drop, alpha, True))
        self.nheads = nheads
        self.out_att = _GraphLayer(low_dim * nheads, class_num, drop, alpha, False)

    @staticmethod
    def _stem(net, x):
        return net.maxpool(net.relu(net.bn1(net.conv1(x))))

    def _features(self, x):
        base = self.base_resnet.base
        x = base.layer4(base.layer3(base.layer2(base.layer1(x))))
        pooled = F.adaptive_avg_pool2d(x, (1, 1)).view(x.shape[0], -1)
        feat = self.bottleneck(pooled)
        return x, pooled, feat, self.wpa(x, feat)

    def eval_features(self, images, modal):
        """(feat, feat_att) before the public code's L2 norm; modal 1 visible, 2 thermal."""
        stream = self.visible_module.visible if modal == 1 else self.thermal_module.thermal
        _, _, feat, feat_att = self._features(self._stem(stream, images))
        return feat, feat_att

    @staticmethod
    def adjacency(labels, n_class):
        one_hot = torch.index_select(torch.eye(n_class), 0, labels)
        adj = torch.mm(one_hot, one_hot.t()).float() + torch.eye(labels.shape[0])
        return adj.div(adj.pow(2).sum(1, keepdim=True).pow(0.5))

    def train_losses(self, x1, x2, labels, n_class, w_graph, margin=0.3):
        """The loss terms of ``train_ddag.py``'s step: id, triplet (per-anchor loop), part, w_G * graph."""
        x = torch.cat([self._stem(self.visible_module.visible, x1), self._stem(self.thermal_module.thermal, x2)])
        _, pooled, feat, feat_att = self._features(x)
        adj = self.adjacency(labels, n_class)
        g = F.dropout(pooled, self.drop, training=self.training)
        g = torch.cat([getattr(self, f"attention_{i}")(g, adj) for i in range(self.nheads)], dim=1)
        g = F.dropout(g, self.drop, training=self.training)
        log_probs = F.log_softmax(F.elu(self.out_att(g, adj)), dim=1)
        n = pooled.shape[0]
        dist = pooled.pow(2).sum(1, keepdim=True).expand(n, n)
        dist = (dist + dist.t() - 2 * pooled @ pooled.t()).clamp(min=1e-12).sqrt()
        mask = labels.expand(n, n).eq(labels.expand(n, n).t())
        d_ap = torch.stack([dist[i][mask[i]].max() for i in range(n)])
        d_an = torch.stack([dist[i][~mask[i]].min() for i in range(n)])
        tri = F.margin_ranking_loss(d_an, d_ap, torch.ones_like(d_an), margin=margin)
        return {"loss_cls": F.cross_entropy(self.classifier(feat), labels), "loss_triplet": tri,
                "loss_part": F.cross_entropy(self.classifier(feat_att), labels),
                "loss_graph": w_graph * F.nll_loss(log_probs, labels)}
