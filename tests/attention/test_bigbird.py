import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.bigbird import BigBirdAttention, BigBirdOptions


def make(block=4, randoms=2, max_len=64):
    torch.manual_seed(0)
    return BigBirdAttention(BigBirdOptions(block_size=block, num_random_blocks=randoms),
                            AttentionContext(2, 8, max_len))


@pytest.mark.parametrize("length", [40, 37])
def test_equals_dense_attention_under_its_mask(length):
    attn = make()
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3))
    key_mask = torch.ones(2, length, dtype=torch.bool)
    key_mask[1, 25:] = False
    got = attn(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask, pattern=attn.dense_mask(length))
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    mask = attn.dense_mask(length)[0, 0]
    assert mask[:4].all() and mask[:, :4].all(), "the first block is global both ways"
    assert not mask.all(), "the pattern is sparse at this length"


def test_three_blocks_or_fewer_is_full_attention():
    attn = make(block=8, randoms=0)
    q, k, v = (torch.randn(1, 2, 24, 8, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)


def test_block_table_has_no_duplicates_and_includes_window_and_globals():
    table, valid = make().block_table(10)
    for row in range(10):
        ids = table[row][valid[row]].tolist()
        assert len(ids) == len(set(ids))
        assert {max(row - 1, 0), row, min(row + 1, 9), 0, 9} <= set(ids)
