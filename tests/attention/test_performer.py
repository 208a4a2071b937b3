import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.performer import PerformerAttention, PerformerOptions, orthogonal_gaussian


def core(m, d=8, causal=False, kernel="softmax"):
    return PerformerAttention(PerformerOptions(nb_features=m, kernel=kernel, redraw_interval=0, eps=0.0),
                              AttentionContext(2, d, 64, causal=causal)).double()


def explicit(q, k, v, w, key_mask=None, causal=False):
    """phi(Q) phi(K)^T V / normaliser written out with exp(w.x - |x|^2/2) / sqrt(m)."""
    d = q.shape[-1]
    q, k = q * d ** -0.25, k * d ** -0.25
    phi = lambda x: torch.exp(x @ w.T - (x * x).sum(-1, keepdim=True) / 2) / w.shape[0] ** 0.5  # noqa: E731
    scores = phi(q) @ phi(k).transpose(-1, -2)
    if key_mask is not None:
        scores = scores * key_mask[:, None, None, :]
    if causal:
        scores = scores.tril()
    return scores @ v / scores.sum(-1, keepdim=True)


def test_matches_explicit_form_with_fixed_features():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 19, 8, dtype=torch.float64) * 0.5 for _ in range(3))
    key_mask = torch.ones(2, 19, dtype=torch.bool)
    key_mask[0, 11:] = False
    for causal in (False, True):
        attn = core(32, causal=causal)
        mask = None if causal else key_mask
        want = explicit(q, k, v, attn.projection.double(), mask, causal)
        torch.testing.assert_close(attn(q, k, v, mask), want, atol=1e-10, rtol=1e-8)


def test_error_falls_as_features_grow_on_small_norm_inputs():
    errors = {}
    for m in (16, 1024):
        total = 0.0
        for seed in range(3):
            torch.manual_seed(seed)
            q, k, v = (torch.randn(1, 2, 128, 32, dtype=torch.float64) * s for s in (0.5, 0.5, 1.0))
            attn = core(m, d=32)
            total += (attn(q, k, v) - reference_attention(q, k, v)).pow(2).mean().item()
        errors[m] = total / 3
    assert errors[1024] < errors[16] / 10, errors


def test_features_are_orthogonal_within_blocks():
    w = orthogonal_gaussian(16, 8, torch.Generator().manual_seed(0)).double()
    for block in (w[:8], w[8:]):
        gram = block @ block.T
        off_diagonal = gram - torch.diag(torch.diag(gram))
        assert off_diagonal.abs().max() < 1e-5


def test_redraw_happens_in_training_only():
    attn = PerformerAttention(PerformerOptions(nb_features=8, redraw_interval=2), AttentionContext(2, 4, 16))
    q = torch.randn(1, 2, 5, 4)
    before = attn.projection.clone()
    attn.eval()
    for _ in range(5):
        attn(q, q, q)
    assert torch.equal(attn.projection, before)
    attn.train()
    for _ in range(3):
        attn(q, q, q)
    assert not torch.equal(attn.projection, before) and int(attn.calls) == 3


def test_relu_kernel_is_a_normalised_positive_average():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 10, 8, dtype=torch.float64) for _ in range(3))
    out = core(16, kernel="relu")(q, k, v)
    assert (out <= v.amax(dim=2, keepdim=True) + 1e-9).all() and (out >= v.amin(dim=2, keepdim=True) - 1e-9).all()
