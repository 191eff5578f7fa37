"""Embedding-I's chunked attention (paenet/token_attention.py) against scaled_dot_product_attention
without dropout, against the explicit masked formula with dropout, and its gradients (gradcheck)."""
import pytest
import torch
import torch.nn.functional as F

from paenet.reference_variant import ChannelTokenCrossAttention
from paenet.token_attention import ChunkedTokenAttention, rows_per_block, token_attention


def _sdpa(q, k, v):
    b, c = q.shape
    return F.scaled_dot_product_attention(q.view(b, 1, c, 1), k.view(b, 1, -1, 1), v.view(b, 1, -1, 1),
                                          scale=1.0).view(b, c)


def _inputs(b=3, c=37, n=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: (2 * torch.randn(*s, generator=g, dtype=dtype)).requires_grad_()  # noqa: E731
    return make(b, c), make(b, c + n), make(b, c + n)


@pytest.mark.parametrize("rows", [1, 4, 37, 100])
def test_without_dropout_equals_sdpa_forward_and_gradients(rows):
    q, k, v = _inputs()
    ours = ChunkedTokenAttention.apply(q, k, v, 0.0, rows)
    ref = _sdpa(q, k, v)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    for a, b in zip(torch.autograd.grad(ours, (q, k, v), grad), torch.autograd.grad(ref, (q, k, v), grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


def test_float32_at_a_realistic_width():
    q, k, v = _inputs(b=2, c=256, n=8, dtype=torch.float32)
    torch.testing.assert_close(token_attention(q, k, v, 0.0), _sdpa(q, k, v), rtol=1e-5, atol=1e-5)


def test_dropout_is_the_masked_rescaled_softmax_and_gradchecks():
    """Each probability kept with probability 1 - p (the mask drawn block by block from the default
    generator) and the kept ones scaled by 1 / (1 - p), as F.dropout on the probability matrix."""
    q, k, v = _inputs()
    p, rows = 0.3, 8
    torch.manual_seed(7)
    ours = ChunkedTokenAttention.apply(q, k, v, p, rows)
    torch.manual_seed(7)
    mask = torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=torch.bool)
    for i0 in range(0, q.shape[1], rows):
        mask[:, i0 : i0 + rows].bernoulli_(1 - p)
    assert 0.55 < mask.double().mean() < 0.85
    probs = torch.softmax(q[:, :, None] * k[:, None, :], dim=2) * mask / (1 - p)
    torch.testing.assert_close(ours, (probs @ v[:, :, None]).squeeze(2), rtol=0, atol=1e-12)

    def seeded(q, k, v):
        torch.manual_seed(11)
        return ChunkedTokenAttention.apply(q, k, v, p, 5)

    assert torch.autograd.gradcheck(seeded, (q, k, v))


def test_module_uses_it_in_training_on_cpu_only_with_dropout():
    torch.manual_seed(0)
    m = ChannelTokenCrossAttention(16, 3).double()
    x, c = torch.randn(4, 16, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    m.eval()
    plain = m(x, c)
    m.train()
    m.proj_drop.p = 0.0  # only the attention's own dropout left
    torch.manual_seed(3)
    trained = m(x, c)
    q = m.to_q(x)
    kv = m.to_kv(torch.cat([x, c], 1)).view(4, -1, 2)
    torch.manual_seed(3)
    expected = m.proj(token_attention(q, kv[..., 0].contiguous(), kv[..., 1].contiguous(), m.attn_drop) + x)
    torch.testing.assert_close(trained, expected, rtol=0, atol=1e-12)
    assert not torch.allclose(trained, plain)
    m.attn_drop = 0.0
    torch.testing.assert_close(m(x, c), plain, rtol=0, atol=1e-12)


def test_rows_per_block_bounds_the_block():
    assert rows_per_block(64, 2056) == 3 and rows_per_block(1, 10) == 52428 and rows_per_block(10**6, 10**6) == 1
