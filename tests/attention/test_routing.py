from functools import partial

import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.routing import RoutingAttention, RoutingOptions
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(clusters, block_size):
    torch.manual_seed(0)
    return RoutingAttention(RoutingOptions(num_clusters=clusters, block_size=block_size),
                            AttentionContext(2, 8, 64)).double()


qkv = partial(random_qkv, seed=6)


def test_one_cluster_and_a_covering_block_is_full_attention():
    q, k, v = qkv(19)
    key_mask = padded_mask(2, 19, [12, 19])
    attn = make(1, 64)
    got = attn(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask)
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), partial(reference_attention, key_mask=key_mask),
                          (q, k, v), rows=real)


def test_equals_attention_within_hand_assigned_clusters():
    attn = make(2, 6)
    q, k, v = qkv(12)
    # Route the first 6 positions to cluster 0 and the rest to cluster 1, for queries and keys alike.
    attn.route = lambda x, real: (torch.arange(12) >= 6).long().expand(*x.shape[:3])
    ids = torch.arange(12) // 6
    oracle = partial(reference_attention, pattern=(ids[:, None] == ids[None, :])[None, None])
    want = oracle(q, k, v)
    torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, oracle, (q, k, v))


def test_centroids_move_in_training_only_and_stay_unit():
    attn = make(3, 4)
    q, k, v = qkv(16)
    before = attn.centroids.clone()
    attn.eval()(q, k, v)
    assert torch.equal(attn.centroids, before)
    attn.train()(q, k, v)
    assert not torch.equal(attn.centroids, before)
    torch.testing.assert_close(attn.centroids.norm(dim=-1), torch.ones(2, 3, dtype=torch.float64))
