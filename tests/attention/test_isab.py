import math

import torch

from lra.attention.base import AttentionContext
from lra.attention.isab import IsabAttention, IsabOptions
from tests.attention.helpers import padded_mask
from tests.helpers import assert_same_gradients


def test_both_stages_are_explicit_softmax_attention():
    torch.manual_seed(0)
    attn = IsabAttention(IsabOptions(num_inducing=3), AttentionContext(2, 4, 32)).double()
    q, k, v = (torch.randn(2, 2, 9, 4, dtype=torch.float64) for _ in range(3))
    key_mask = padded_mask(2, 9, [9, 5])
    out = attn(q, k, v, key_mask)
    inducing = attn.inducing.detach()

    def explicit(q, k, v):
        rows = []
        for b in range(2):
            n = int(key_mask[b].sum())
            memory = torch.softmax(inducing @ k[b, :, :n].transpose(-1, -2) / 2.0, -1) @ v[b, :, :n]
            rows.append(torch.softmax(q[b] @ memory.transpose(-1, -2) / math.sqrt(4), -1) @ memory)
        return torch.stack(rows)

    want = explicit(q, k, v)
    for b in range(2):
        torch.testing.assert_close(out[b], want[b], atol=1e-12, rtol=1e-10)
    assert_same_gradients(lambda q, k, v: attn(q, k, v, key_mask), explicit, (q, k, v))
