"""Exact attention: the SDPA core and the oracle agree with each other and with torch's own MHA."""

import torch
from torch import nn

from lra.attention import build_mixer, reference_attention


def test_reference_matches_explicit_formula():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 9, 4, dtype=torch.float64) for _ in range(3))
    key_mask = torch.ones(2, 9, dtype=torch.bool)
    key_mask[1, 5:] = False
    out = reference_attention(q, k, v, key_mask)
    for b in range(2):
        n = int(key_mask[b].sum())
        weights = torch.softmax(q[b] @ k[b, :, :n].transpose(-1, -2) / 2.0, dim=-1)
        torch.testing.assert_close(out[b], weights @ v[b, :, :n])


def test_reference_fully_masked_row_is_zero_and_causal_is_lower_triangular():
    q, k, v = (torch.randn(1, 1, 5, 4, dtype=torch.float64) for _ in range(3))
    pattern = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    pattern[..., 2, :] = False
    out = reference_attention(q, k, v, pattern=pattern)
    assert (out[..., 2, :] == 0).all()
    causal = reference_attention(q, k, v, causal=True)
    torch.testing.assert_close(causal[..., 0, :], v[..., 0, :])


def _pair(causal=False):
    torch.manual_seed(0)
    fast = build_mixer("transformer", dim=24, qkv_dim=24, num_heads=3, max_len=64, causal=causal)
    slow = build_mixer("reference", dim=24, qkv_dim=24, num_heads=3, max_len=64, causal=causal)
    slow.load_state_dict(fast.state_dict())
    return fast.double().eval(), slow.double().eval()


def test_sdpa_equals_oracle_with_padding_and_causal():
    for causal in (False, True):
        fast, slow = _pair(causal)
        x = torch.randn(3, 31, 24, dtype=torch.float64)
        mask = torch.ones(3, 31, dtype=torch.bool)
        mask[1, 20:] = False
        mask[2, 3:] = False
        torch.testing.assert_close(fast(x, mask), slow(x, mask), atol=1e-12, rtol=1e-12)


def test_equals_torch_multihead_attention_with_copied_weights():
    fast, _ = _pair()
    fast = fast.float()
    mha = nn.MultiheadAttention(24, 3, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([fast.q_proj.weight, fast.k_proj.weight, fast.v_proj.weight]))
        mha.out_proj.weight.copy_(fast.out_proj.weight)
    x = torch.randn(2, 17, 24)
    mask = torch.ones(2, 17, dtype=torch.bool)
    mask[0, 12:] = False
    expected, _ = mha(x, x, x, key_padding_mask=~mask, need_weights=False)  # its polarity: True = ignore
    out = fast(x, mask)
    torch.testing.assert_close(out[mask], expected[mask], atol=1e-6, rtol=1e-5)


def test_key_permutation_invariance_and_query_equivariance():
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 2, 12, 8, dtype=torch.float64) for _ in range(3))
    perm = torch.randperm(12)
    out = reference_attention(q, k, v)
    torch.testing.assert_close(reference_attention(q, k[:, :, perm], v[:, :, perm]), out)
    torch.testing.assert_close(reference_attention(q[:, :, perm], k, v), out[:, :, perm])
