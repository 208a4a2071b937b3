from functools import partial

import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.sinkhorn import SinkhornAttention, SinkhornOptions, log_sinkhorn
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(block, **kw):
    return SinkhornAttention(SinkhornOptions(block_size=block, **kw), AttentionContext(2, 8, 64)).eval()


qkv = partial(random_qkv, seed=5)


def block_diagonal(length, block):
    ids = torch.arange(length) // block
    return (ids[:, None] == ids[None, :])[None, None]


def test_identity_permutation_is_block_local_attention():
    attn = make(4)
    attn.permutation = lambda q_sum, k_sum: torch.eye(q_sum.shape[2], dtype=q_sum.dtype).expand(
        *q_sum.shape[:2], -1, -1)
    length = 22
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 13])
    got = attn(q, k, v, key_mask)
    oracle = partial(reference_attention, key_mask=key_mask, pattern=block_diagonal(length, 4))
    want = oracle(q, k, v)
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v), rows=real)


def test_one_block_is_full_attention():
    q, k, v = qkv(16)
    torch.testing.assert_close(make(16)(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    assert_same_gradients(make(16), reference_attention, (q, k, v))


def test_sinkhorn_is_doubly_stochastic_after_enough_iterations():
    logits = torch.randn(3, 6, 6, dtype=torch.float64)
    p = log_sinkhorn(logits, 30).exp()
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 6, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(p.sum(-2), torch.ones(3, 6, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(log_sinkhorn(logits, 0).exp(), logits.exp())


def test_hard_permutation_attends_to_the_permuted_block_and_its_own():
    attn = make(4)
    n, perm = 4, torch.tensor([2, 0, 3, 1])
    attn.permutation = lambda q_sum, k_sum: torch.eye(n, dtype=q_sum.dtype)[perm].expand(*q_sum.shape[:2], -1, -1)
    q, k, v = qkv(16)
    ids = torch.arange(16) // 4
    pattern = (ids[None, :] == ids[:, None]) | (ids[None, :] == perm[ids][:, None])
    oracle = partial(reference_attention, pattern=pattern[None, None])
    want = oracle(q, k, v)
    torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, oracle, (q, k, v))


def test_sortcut_and_training_noise():
    q, k, v = qkv(24)
    out = make(4, num_sortcut_blocks=2)(q, k, v)
    assert out.shape == v.shape and torch.isfinite(out).all()
    noisy = make(4).train()
    torch.manual_seed(0)
    a = noisy(q, k, v)
    torch.manual_seed(1)
    assert not torch.allclose(a, noisy(q, k, v)), "Gumbel noise in training"


def test_unpadded_fast_path_equals_the_masked_path():
    """No mask and L a multiple of the block skip the masking; an all-true mask takes the general path."""
    for sortcut in (0, 2):
        attn = make(4, num_sortcut_blocks=sortcut).double()
        q, k, v = qkv(24)
        fast = attn(q, k, v)
        general = attn(q, k, v, torch.ones(2, 24, dtype=torch.bool))
        torch.testing.assert_close(fast, general, rtol=1e-12, atol=1e-12)
        assert_same_gradients(attn, partial(attn, key_mask=torch.ones(2, 24, dtype=torch.bool)), (q, k, v),
                              params=list(attn.parameters()))
