"""PAE building blocks against their defining formulas (sizes chosen to be unlike 2048 / 8 / 18×9)."""
import torch

from paenet.reference_variant import ChannelTokenCrossAttention
from paenet.paper_variant import AttributeSpatialAttention
from paenet.reference_variant import SwitchNorm1d


def test_channel_token_attention_matches_materialised_formula():
    torch.manual_seed(0)
    c, n, b = 48, 3, 4
    m = ChannelTokenCrossAttention(c, n).eval()
    x0, a = torch.randn(b, c), torch.randn(b, n)
    q = m.to_q(x0)
    kv = m.to_kv(torch.cat([x0, a], 1))
    k, v = kv[:, 0::2], kv[:, 1::2]  # interleaved
    attn = torch.softmax(q[:, :, None] * k[:, None, :], dim=-1)  # B×C×(C+n), scale 1
    expected = m.proj(torch.einsum("bnm,bm->bn", attn, v) + x0)
    assert torch.allclose(m(x0, a), expected, atol=1e-5)


def test_switch_norm_running_stats_and_modes():
    torch.manual_seed(0)
    sn = SwitchNorm1d(5)
    x = torch.randn(6, 5)
    sn.train()
    y = sn(x)
    assert torch.allclose(sn.running_mean, 0.003 * x.mean(0, keepdim=True))
    assert torch.allclose(sn.running_var, 0.003 * x.var(0, keepdim=True))  # unbiased, old value weighted 0.997
    mean = 0.5 * x.mean(1, keepdim=True) + 0.5 * x.mean(0, keepdim=True)
    var = 0.5 * x.var(1, keepdim=True) + 0.5 * x.var(0, keepdim=True)
    assert torch.allclose(y, (x - mean) / (var + 1e-5).sqrt(), atol=1e-5)
    sn.eval()
    mean = 0.5 * x.mean(1, keepdim=True) + 0.5 * sn.running_mean
    var = 0.5 * x.var(1, keepdim=True) + 0.5 * sn.running_var
    assert torch.allclose(sn(x), (x - mean) / (var + 1e-5).sqrt(), atol=1e-5)


def test_paper_spatial_attention_uses_the_real_map():
    torch.manual_seed(0)
    c, b = 24, 3
    m = AttributeSpatialAttention(c, reduction=4)
    for h, w in ((5, 3), (7, 4)):
        fmap, f_e1, f_a = torch.randn(b, c, h, w), torch.randn(b, c), torch.randn(b, c)
        att = m.attention_map(fmap, f_e1, f_a)
        assert att.shape == (b, 1, h, w)
        assert torch.allclose(att.sum((2, 3)), torch.ones(b, 1), atol=1e-6)
        assert att.std() > 1e-3  # not the uniform 1/(H·W) of the official broadcast input
        x = fmap + f_e1[:, :, None, None]
        assert torch.allclose(m(fmap, f_e1, f_a), (x * att).sum((2, 3)), atol=1e-5)


def test_paper_heads_eq8_literal_and_learned():
    """Literal Eq. 8: W1 = σ([f_1 … f_n]) has no parameters and weighs n copies of f = pool(F);
    the learned option is σ(MLP(BN(concat))) weighing the f_i."""
    from paenet.paper_variant import PaperAttributeHeads

    torch.manual_seed(0)
    c, n, b = 40, 3, 4
    gates, pooled = torch.rand(b, n, c), torch.rand(b, c)
    literal = PaperAttributeHeads(c, n).eval()
    assert {k.split(".")[0] for k, _ in literal.named_parameters()} == {"fc_atr", "classifier_weight", "classifier_bias"}
    f_i = gates * pooled[:, None, :]
    f_atr = literal.fc_atr(torch.sigmoid(f_i) * pooled[:, None, :])
    expected = torch.stack([f_atr[:, i] @ literal.classifier_weight[i] + literal.classifier_bias[i] for i in range(n)], 1)
    assert torch.allclose(literal(gates, pooled), expected, atol=1e-6)
    learned = PaperAttributeHeads(c, n, weighting="learned", reduction=4).eval()
    assert hasattr(learned, "w1") and hasattr(learned, "concat_norm")
    w1 = torch.sigmoid(learned.w1(learned.concat_norm(f_i.flatten(1))))
    f_atr = learned.fc_atr(w1[:, None, :] * f_i)
    assert torch.allclose(learned.attribute_features(gates, pooled), f_atr, atol=1e-6)
    import pytest

    with pytest.raises(ValueError, match="AAL_WEIGHTING"):
        PaperAttributeHeads(c, n, weighting="other")
