import math

import pytest
import torch

from lra.attention.base import AttentionContext
from lra.attention.reformer import SELF_LOGIT, ReformerAttention, ReformerOptions
from tests.attention.helpers import padded_mask
from tests.helpers import assert_same_gradients


def make(bucket, hashes=1):
    torch.manual_seed(0)
    return ReformerAttention(ReformerOptions(block_size=bucket, num_hashes=hashes), AttentionContext(2, 8, 64))


def dense_shared_qk(q, v, key_mask=None):
    """softmax(q . normalize(q) / sqrt(d)) v with the self logit at -5e4, written densely."""
    keys = torch.nn.functional.normalize(q, dim=-1)
    logits = q @ keys.transpose(-1, -2) / math.sqrt(q.shape[-1])
    length = q.shape[2]
    logits = logits.masked_fill(torch.eye(length, dtype=torch.bool), SELF_LOGIT)
    keep = torch.ones(1, 1, length, length, dtype=torch.bool)
    if key_mask is not None:
        keep = keep & key_mask[:, None, None, :]
    return logits.masked_fill(~keep, float("-inf")).softmax(-1) @ v


def test_two_chunks_see_every_key_so_it_is_exact():
    g = torch.Generator().manual_seed(1)
    q, v = (torch.randn(2, 2, 16, 8, generator=g, dtype=torch.float64) for _ in range(2))
    key_mask = padded_mask(2, 16, [16, 11])
    for hashes in (1, 3):  # every round sees every key: the combination equals one round
        attn = make(bucket=8, hashes=hashes)
        assert attn.n_buckets(16) == 2
        got = attn(q, q, v, key_mask)
        want = dense_shared_qk(q, v, key_mask)
        real = key_mask[:, None, :, None].expand_as(got)
        torch.testing.assert_close(got[real], want[real], atol=1e-10, rtol=1e-8)
        assert_same_gradients(lambda q, v, a=attn: a(q, q, v, key_mask),
                              lambda q, v: dense_shared_qk(q, v, key_mask), (q, v), rows=real)


def test_angular_lsh_symmetry_and_identical_vectors_share_a_bucket():
    attn = make(bucket=4)
    x = torch.nn.functional.normalize(torch.randn(1, 1, 10, 8, dtype=torch.float64), dim=-1)
    real = torch.ones(1, 10, dtype=torch.bool)
    n_b = 6
    plus, minus = attn.buckets(x, n_b, real), attn.buckets(-x, n_b, real)
    assert torch.equal(minus, (plus + n_b // 2) % n_b)
    twice = attn.buckets(torch.cat([x, x], dim=2), n_b, torch.ones(1, 20, dtype=torch.bool))
    assert torch.equal(twice[..., :10], twice[..., 10:])


def test_gradcheck_through_sort_and_unsort():
    attn = make(bucket=2, hashes=2)
    q = torch.randn(1, 1, 8, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 1, 8, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: attn(a, a, b), (q, v))


@pytest.mark.parametrize("length, padded", [(32, False), (29, False), (32, True)])
def test_one_round_through_the_fused_kernel_equals_the_log_sum_exp_path(monkeypatch, length, padded):
    g = torch.Generator().manual_seed(3)
    q, v = (torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(2))
    key_mask = None
    if padded:
        key_mask = padded_mask(2, length, [length, 20])
    attn = make(4)
    fused = attn(q, q, v, key_mask)
    original = ReformerAttention._round

    def log_sum_exp_path(q, v):
        with monkeypatch.context() as patch:
            patch.setattr(ReformerAttention, "_round",
                          lambda self, *args, with_lse: original(self, *args, with_lse=True))
            return attn(q, q, v, key_mask)

    torch.testing.assert_close(log_sum_exp_path(q, v), fused, atol=1e-12, rtol=1e-10)
    assert_same_gradients(lambda q, v: attn(q, q, v, key_mask), log_sum_exp_path, (q, v))
