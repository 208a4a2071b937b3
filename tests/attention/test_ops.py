import pytest
import torch

from lra.attention.ops import block_attention, block_attention_ref
from tests.helpers import assert_same_gradients


def blocks(seed=0, b=2, h=3, n=4, w=5, keys=7, d=8):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, n, w, d, generator=g, dtype=torch.float64)
    k, v = (torch.randn(b, h, n, keys, d, generator=g, dtype=torch.float64) for _ in range(2))
    return q, k, v, g


KEEP_SHAPES = [None, (1, 1, 4, 1, 7), (2, 1, 4, 1, 7), (1, 1, 4, 5, 7), (2, 3, 4, 5, 7)]


@pytest.mark.parametrize("keep_shape", KEEP_SHAPES)
def test_block_attention_equals_its_reference(keep_shape):
    q, k, v, g = blocks()
    keep = None if keep_shape is None else torch.rand(keep_shape, generator=g) > 0.3
    if keep is not None:
        keep[..., 0] = True  # every query keeps a key here; the empty case is tested below
    torch.testing.assert_close(block_attention(q, k, v, keep), block_attention_ref(q, k, v, keep),
                               atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("keep", [*KEEP_SHAPES, "bias", "empty row"])
def test_block_attention_gradients_equal_its_reference(keep):
    """One random output gradient through the fused kernel and through the written-out reference: the same
    gradients of q, k and v, for every mask broadcast, a float bias, and a query with no kept key."""
    q, k, v, g = blocks(seed=1)
    if keep == "bias":
        keep = torch.randn(2, 3, 4, 5, 7, generator=g, dtype=torch.float64)
    elif keep == "empty row":
        keep = torch.ones(2, 3, 4, 5, 7, dtype=torch.bool)
        keep[1, 2, 3, 4] = False
    elif keep is not None:
        keep = torch.rand(keep, generator=g) > 0.3
        keep[..., 0] = True
    assert_same_gradients(lambda q, k, v: block_attention(q, k, v, keep),
                          lambda q, k, v: block_attention_ref(q, k, v, keep), (q, k, v))


def test_a_query_with_no_kept_key_gets_zeros_and_finite_gradients():
    q, k, v, _ = blocks()
    q.requires_grad_(True)
    keep = torch.ones(2, 3, 4, 5, 7, dtype=torch.bool)
    keep[1, 2, 3, 4] = False
    out = block_attention(q, k, v, keep)
    assert torch.equal(out[1, 2, 3, 4], torch.zeros(8, dtype=out.dtype))
    torch.testing.assert_close(out, block_attention_ref(q, k, v, keep), atol=1e-12, rtol=1e-10)
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_dropout_zeroes_weights_only_when_asked():
    q, k, v, _ = blocks()
    torch.manual_seed(0)
    dropped = block_attention(q, k, v, None, dropout=0.5)
    assert not torch.allclose(dropped, block_attention_ref(q, k, v, None))
    torch.testing.assert_close(block_attention(q, k, v, None, dropout=0.0), block_attention_ref(q, k, v, None))
