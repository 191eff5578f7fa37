"""A timing replica of the official PAENet forward (model_mine.py ``embed_net``), for bench only.

It computes what the official code computes *the way it computes it*: the B×C×(C+n) attention
matrix materialised (softmax and dropout copies), Embedding-II's conv1/conv2 run on f_e1 broadcast
to the map size, the n identical region copies stacked and averaged, the dead ``Attrfea`` path
(BN1d(n·C) → Linear(n·C → C) → BN1d(C), fed with the n pooled copies) and the never-called
classifier kept as parameters, so the optimizer updates them as officially. The dead paths are
modelled from the description of the dead code in docs/protocols.md (their inputs are not fully
specified there), so the replica is a cost model, not a second golden implementation: its live outputs equal the reference variant's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class OfficialReplicaHead(nn.Module):
    """Wraps a reference-variant PAENet and adds the official model's extra work and parameters."""

    def __init__(self, paenet: nn.Module):
        super().__init__()
        self.paenet = paenet
        c, n = paenet.base.feat_dim, paenet.num_attributes
        self.att_conv1 = nn.Conv2d(c, c, 1)
        self.att_conv2 = nn.Conv2d(c, c, 1)
        self.att_mask_fc1 = nn.Linear(n, c, bias=False)
        self.attrfea = nn.Sequential(nn.BatchNorm1d(n * c), nn.Linear(n * c, c), nn.BatchNorm1d(c))
        self.dead_classifier = nn.Linear(c, max(paenet.base.num_classes, 1), bias=False)

    def _materialised_attention(self, x0, attributes):
        et = self.paenet.pae.embedding_i
        c = et.c_norm1(attributes)
        attn_mod = et.attn
        b, d = x0.shape
        q = attn_mod.to_q(x0).view(b, 1, d, 1)
        kv = attn_mod.to_kv(torch.cat([x0, c], 1)).view(b, -1, 2, 1, 1).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        attn = F.dropout(attn, attn_mod.attn_drop, self.training)
        o = (attn @ v).reshape(b, d)
        x1 = x0 + et.attn_path_drop(attn_mod.proj_drop(attn_mod.proj(o + x0)))
        return x1 + et.mlp_path_drop(et.mlp(et.x_norm2(x1)))

    def forward(self, batch):
        m = self.paenet
        batch = m.base.preprocess(batch)
        feats = m.base.extract(batch["images"], batch["modality"])
        fmap, f = feats["MAP"], feats["FC"]
        a = batch["attributes"].to(f.dtype)
        h, w = fmap.shape[2:]
        f_e1 = self._materialised_attention(m.pae.embedding_i.x_norm1(f), a)
        # Embedding-II on the broadcast vector (the official identity map, computed in full)
        xe = f_e1[:, :, None, None].expand(-1, -1, h, w)
        att = self.att_conv2(torch.tanh(self.att_conv1(xe)) * torch.tanh(self.att_mask_fc1(a))[:, :, None, None])
        att = att.flatten(2).softmax(-1).view_as(xe)
        f_e2 = (xe * att).sum((2, 3))
        gates = m.pae.embedding_iii(f_e2, a)  # B×1×C
        copies = torch.stack([fmap * gates[:, 0, :, None, None]] * m.num_attributes, 1)  # n identical maps
        region = m.aal.region
        w2 = torch.sigmoid(region.bn(copies.mean(1)))
        f_id = m.base.pool(torch.sigmoid(fmap * w2))
        f_bn = m.identity_neck(f_id)
        dead = self.attrfea(torch.cat([m.base.pool(copies[:, i]) for i in range(m.num_attributes)], 1))
        logits = m.base.classifier(f_bn)
        attr_logits = F.linear(gates[:, 0], m.aal.heads.weight)
        losses = m.base.losses(f_id, logits, batch)
        losses["loss_attr"] = F.binary_cross_entropy(torch.sigmoid(attr_logits), a)
        losses["dead"] = dead.sum() * 0.0
        return losses
