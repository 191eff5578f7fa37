"""One training step of the reference variant on official-format weights equals the official
computation: loss ``CE + 2·HcTri + BCE + 0.25·marginMMD(1.40)`` and the gradient of every parameter.

The "official" side is independent of the package: torchvision ResNet-50 stems and shared layers
loaded from the official state dict (official ``share_net = 3`` split, layer4 stride 1) and the
official head and loss formulas written out here on the official tensors (materialised channel
attention, SwitchNorm1d, ASENet gate, region branch, chunk-centred HcTri, per-identity margin MMD,
BCE on probabilities). Dropout is disabled on both sides; the backbone runs in NCHW on both sides
(channels-last alone moves train-mode gradients of a ResNet-50 by ~2 %, in the official model too).
"""
import pytest
import torch
import torch.nn.functional as F
import torchvision

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.modeling import build_model
from paenet.official_checkpoint import official_to_paenet
from paenet_testkit import make_batch

pytestmark = pytest.mark.slow
P, K, N_ATTR = 2, 4, 8


def _resnet(sd, prefix):
    net = torchvision.models.resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    own = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    missing = set(net.load_state_dict(own, strict=False).missing_keys)
    return net.train(), missing


def _gem(x):
    return (x.pow(3).mean((2, 3)) + 1e-12).pow(1 / 3)


def _bn(x, w, b):
    return F.batch_norm(x, None, None, w, b, training=True, momentum=0.0, eps=1e-5)


def _switch_norm(x, t):
    mw, vw = torch.softmax(t["mean_weight"], 0), torch.softmax(t["var_weight"], 0)
    mean = mw[0] * x.mean(1, keepdim=True) + mw[1] * x.mean(0, keepdim=True)
    var = vw[0] * x.var(1, keepdim=True) + vw[1] * x.var(0, keepdim=True)
    return (x - mean) / (var + 1e-5).sqrt() * t["weight"] + t["bias"]


def _hctri(feat, margin=0.3):
    centers = feat.view(2 * P, K, -1).mean(1)  # RGB id_1..id_P, IR id_1..id_P
    sq = (centers ** 2).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * centers @ centers.t()).clamp_min(1e-12).sqrt()
    idx = torch.arange(2 * P)
    pos = (idx[:, None] == idx[None, :]) | ((idx[:, None] - idx[None, :]).abs() == P)
    d_ap = d.masked_fill(~pos, float("-inf")).max(1).values
    d_an = d.masked_fill(pos, float("inf")).min(1).values
    return F.relu(d_ap - d_an + margin).mean()


def _margin_mmd(feat, margin=1.40):
    rgb, ir = feat[: P * K].view(P, K, -1), feat[P * K:].view(P, K, -1)
    total, values = 0.0, []
    for p in range(P):
        z = torch.cat([rgb[p], ir[p]])
        d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
        sigma = d.detach().sum() / ((2 * K) ** 2 - 2 * K)
        kern = sum(torch.exp(-d / (sigma * 2.0 ** (j - 2) + 1e-9)) for j in range(5))
        mmd2 = kern[:K, :K].mean() + kern[K:, K:].mean() - kern[:K, K:].mean() - kern[K:, :K].mean()
        values.append(float(mmd2.detach()))
        total = total + (mmd2 if mmd2 > margin else mmd2 * 0)
    return total / P, values


def _official_step(sd, batch):
    """Official train-mode forward and total loss on official-named tensors (requires_grad)."""
    t = {k: v.clone().float().requires_grad_(v.is_floating_point() and "running" not in k) for k, v in sd.items()
         if not k.endswith("num_batches_tracked")}
    visible, _ = _resnet(sd, "visible_module.visible.")
    thermal, _ = _resnet(sd, "thermal_module.thermal.")
    shared, _ = _resnet(sd, "base_resnet.base.")

    def stem(net, x):
        return net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))

    images, half = batch["images"], batch["images"].shape[0] // 2
    x = torch.cat([stem(visible, images[:half]), stem(thermal, images[half:])])
    fmap = shared.layer4(shared.layer3(x))
    f = _bn(_gem(fmap), t["bottleneck.weight"], t["bottleneck.bias"])
    a = batch["attributes"]
    # Embedding-I: pre-norm cross transformer over per-channel scalar tokens
    ct = "cross_transformer1."
    x0 = F.layer_norm(f, f.shape[1:], t[ct + "x_norm1.weight"], t[ct + "x_norm1.bias"])
    c = _switch_norm(a, {k: t[ct + "c_norm1." + k] for k in ("mean_weight", "var_weight", "weight", "bias")})
    q = x0 @ t[ct + "attn.to_q.weight"].t()
    kv = torch.cat([x0, c], 1) @ t[ct + "attn.to_kv.weight"].t()
    k_, v_ = kv[:, 0::2], kv[:, 1::2]
    attn = torch.softmax(q[:, :, None] * k_[:, None, :], dim=-1)
    o = torch.einsum("bnm,bm->bn", attn, v_)
    x1 = x0 + F.linear(o + x0, t[ct + "attn.proj.weight"], t[ct + "attn.proj.bias"])
    h = F.layer_norm(x1, x1.shape[1:], t[ct + "x_norm2.weight"], t[ct + "x_norm2.bias"])
    h = F.linear(F.gelu(F.linear(h, t[ct + "mlp.fc1.weight"], t[ct + "mlp.fc1.bias"])), t[ct + "mlp.fc2.weight"],
                 t[ct + "mlp.fc2.bias"])
    f_e1 = x1 + h
    # Embedding-II is the identity; Embedding-III: one L2-normalised gate
    wa = F.relu(a @ t["ASENet.mask_fc2.weight"].t())
    g = torch.sigmoid(F.linear(F.relu(F.linear(torch.cat([f_e1, wa], 1), t["ASENet.fc1.weight"], t["ASENet.fc1.bias"])),
                               t["ASENet.fc2.weight"], t["ASENet.fc2.bias"]))
    atr = g / g.norm(dim=1, keepdim=True)
    # region branch and heads
    w2 = torch.sigmoid(_bn(fmap * atr[:, :, None, None], t["region.bn.weight"], t["region.bn.bias"]))
    f_id = _gem(torch.sigmoid(fmap * w2))
    f_bn = _bn(f_id, t["region.bottleneck.weight"], t["region.bottleneck.bias"])
    logits = f_bn @ t[f"class_{N_ATTR}.classifier.0.weight"].t()
    p_attr = torch.sigmoid(torch.cat([atr @ t[f"class_{i}.classifier.0.weight"].t() for i in range(N_ATTR)], 1))
    mmd, mmd_values = _margin_mmd(f_id)
    total = (F.cross_entropy(logits, batch["targets"]) + 2 * _hctri(f_id) + F.binary_cross_entropy(p_attr, a)
             + 0.25 * mmd)
    leaves = {k: v for k, v in t.items() if v.requires_grad}
    for prefix, net in (("visible_module.visible.", visible), ("thermal_module.thermal.", thermal),
                        ("base_resnet.base.", shared)):
        leaves.update({prefix + n: p for n, p in net.named_parameters() if prefix + n in sd})
    return total, leaves, mmd_values


def test_training_step_equals_the_official_computation(make_cfg, official_checkpoint):
    path, sd = official_checkpoint
    cfg = make_cfg(opts=["MODEL.HEADS.NUM_CLASSES", "395", "MODEL.BACKBONE.CHANNELS_LAST", "False",
                         "INPUT.SIZE_TRAIN", "[64, 32]", "INPUT.SIZE_TEST", "[64, 32]"])
    torch.manual_seed(0)
    model = build_model(cfg)
    ReidCheckpointer(model).load(str(path), checkpointables=[])
    for m in model.modules():  # dropout off, as on the official side
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, "attn_drop"):
            m.attn_drop = 0.0
    batch = make_batch(num_ids=P, k=K, num_attributes=N_ATTR, size=(64, 32), seed=1)
    batch["attribute_mask"] = torch.ones_like(batch["attribute_mask"])  # the official code has no mask
    model.train()
    losses = model(batch)
    assert set(losses) == {"loss_cls", "loss_hctri", "loss_mmd", "loss_attr"}
    ours = sum(losses.values())
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    our_grads = dict(zip(params, torch.autograd.grad(ours, list(params.values()), allow_unused=True)))

    reference, leaves, mmd_values = _official_step(sd, batch)
    ref_grads = dict(zip(leaves, torch.autograd.grad(reference, list(leaves.values()), allow_unused=True)))
    ref_grads = {k: (g if g is not None else torch.zeros_like(leaves[k])) for k, g in ref_grads.items()}
    mapped, _ = official_to_paenet(ref_grads, N_ATTR)

    assert torch.allclose(ours, reference, rtol=1e-5, atol=1e-6), (ours.item(), reference.item())
    assert set(params) <= set(mapped), sorted(set(params) - set(mapped))
    worst = ("", 0.0)
    for name, g in our_grads.items():
        g = torch.zeros_like(params[name]) if g is None else g
        ref = mapped[name].view_as(g)
        err = float((g - ref).norm() / ref.norm().clamp_min(1e-12))
        if ref.norm() > 1e-8 and err > worst[1]:
            worst = (name, err)
        assert err <= 1e-4 or float((g - ref).abs().max()) <= 1e-7, f"{name}: relative gradient error {err:.3g}"
    print(f"loss {ours.item():.6f} vs {reference.item():.6f}; per-identity MMD² {mmd_values}; worst gradient {worst}")
