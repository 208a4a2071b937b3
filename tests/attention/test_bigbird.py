from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.bigbird import BigBirdAttention, BigBirdOptions
from tests.attention.helpers import padded_mask, random_qkv
from tests.attention.memory import LargestAllocation
from tests.helpers import assert_same_gradients


def make(block=4, randoms=2, max_len=64, seed=0, heads=2):
    torch.manual_seed(seed)
    return BigBirdAttention(BigBirdOptions(block_size=block, num_random_blocks=randoms),
                            AttentionContext(heads, 8, max_len))


qkv = partial(random_qkv, seed=1)


@pytest.mark.parametrize("length", [40, 37, 64, 23])
def test_equals_dense_attention_under_its_mask(length):
    attn = make()
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 15])
    key_mask[1, 6] = False  # a pad inside a window block
    got = attn(q, k, v, key_mask)
    mask = attn.dense_mask(length)
    want = reference_attention(q, k, v, key_mask, pattern=mask)
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(lambda q, k, v: attn(q, k, v, key_mask),
                          lambda q, k, v: reference_attention(q, k, v, key_mask, pattern=mask), (q, k, v), rows=real)
    last = (length - 1) // 4 * 4
    assert mask[:, :, :4].all() and mask[..., :4].all(), "the first block is global both ways"
    assert mask[:, :, last:].all() and mask[..., last:].all(), "the last block is global both ways"
    assert length < 32 or not mask.all(), "the pattern is sparse at this length"


@pytest.mark.parametrize("length,block,randoms", [(24, 8, 0), (20, 8, 0), (20, 4, 3), (8, 4, 2)])
def test_five_blocks_or_fewer_is_full_attention(length, block, randoms):
    # Window (3) plus the two global blocks cover every block up to 5 blocks; no random block is allowed.
    attn = make(block=block, randoms=randoms)
    q, k, v = qkv(length, batch=1)
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, reference_attention, (q, k, v))
    assert attn.dense_mask(length).all()


def test_row_key_counts_and_no_random_overlaps():
    n, r, block = 12, 2, 4
    attn = make(block=block, randoms=r, max_len=n * block)
    table, used = attn.block_table(n)
    mask = attn.dense_mask(n * block)[0]
    for h in range(2):
        counts = mask[h].sum(dim=-1).view(n, block)
        assert (counts[[0, n - 1]] == n * block).all()
        assert (counts[[1, n - 2]] == (4 + r) * block).all()
        assert (counts[2:n - 2] == (5 + r) * block).all()
        for row in range(1, n - 1):
            ids = table[h, row][used[h, row]].tolist()
            assert len(ids) == len(set(ids)), "a key block is gathered twice"
            randoms = table[h, row, -r:].tolist()
            assert used[h, row, -r:].all()
            assert not set(randoms) & {0, n - 1, row - 1, row, row + 1}


def test_random_blocks_are_a_fixed_deterministic_draw_per_head():
    first, again, other = make(seed=3), make(seed=3), make(seed=4)
    assert torch.equal(first.block_table(14)[0], again.block_table(14)[0])
    assert not torch.equal(first.block_table(14)[0], other.block_table(14)[0])
    table = first.block_table(16)[0]
    assert not torch.equal(table[0], table[1]), "heads draw their own random blocks"
    assert torch.equal(first.block_table(11)[0], first.block_table(11)[0])
    for length in (44, 50):  # other lengths: a consistent table, still exact
        q, k, v = qkv(length, batch=1)
        pattern = first.dense_mask(length)
        want = reference_attention(q, k, v, pattern=pattern)
        torch.testing.assert_close(first(q, k, v), want, atol=1e-12, rtol=1e-10)
        assert_same_gradients(first, lambda q, k, v, p=pattern: reference_attention(q, k, v, pattern=p), (q, k, v))


def test_longer_than_max_len_is_refused():
    q, k, v = qkv(70, batch=1)
    with pytest.raises(ValueError, match="max_len"):
        make(max_len=64)(q, k, v)


def test_memory_is_linear_in_length_and_no_dense_matrix():
    block, r = 16, 1
    sizes = []
    for length in (512, 1024):
        attn = make(block=block, randoms=r, max_len=length)
        q, k, v = (t.float() for t in qkv(length, batch=1))
        with LargestAllocation() as probe:
            attn(q, k, v, torch.ones(1, length, dtype=torch.bool))
        sizes.append(probe.bytes)
        assert probe.bytes <= 2 * length * (5 + r) * block * 4  # heads x L x gathered keys logits
    assert sizes[1] <= 2 * sizes[0]
