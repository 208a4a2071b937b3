"""Exact attention: the SDPA core and the oracle agree with each other and with torch's own MHA."""

import torch
from torch import nn

from lra.attention import build_mixer, reference_attention
from tests.attention.helpers import padded_mask
from tests.helpers import assert_same_gradients


def test_reference_matches_explicit_formula():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 9, 4, dtype=torch.float64) for _ in range(3))
    key_mask = padded_mask(2, 9, [9, 5])
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


def _as_function(mixer, names, mask):
    """The mixer as a function of (x, *parameters), the parameters given in the order of `names`."""
    return lambda x, *params: torch.func.functional_call(mixer, dict(zip(names, params)), (x, mask))


def test_sdpa_equals_oracle_with_padding_and_causal():
    for causal in (False, True):
        fast, slow = _pair(causal)
        x = torch.randn(3, 31, 24, dtype=torch.float64)
        mask = padded_mask(3, 31, [31, 20, 3])
        torch.testing.assert_close(fast(x, mask), slow(x, mask), atol=1e-12, rtol=1e-12)
        # and the same gradients of x and of every (shared) projection weight
        names, params = zip(*fast.named_parameters())
        assert [n for n, _ in slow.named_parameters()] == list(names)
        assert_same_gradients(_as_function(fast, names, mask), _as_function(slow, names, mask), (x, *params))


def test_equals_torch_multihead_attention_with_copied_weights():
    fast, _ = _pair()
    fast = fast.float()
    mha = nn.MultiheadAttention(24, 3, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([fast.q_proj.weight, fast.k_proj.weight, fast.v_proj.weight]))
        mha.out_proj.weight.copy_(fast.out_proj.weight)
    x = torch.randn(2, 17, 24)
    mask = padded_mask(2, 17, [12, 17])
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
