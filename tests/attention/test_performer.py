import math
from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.performer import PerformerAttention, PerformerOptions, orthogonal_gaussian, softmax_features
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def core(m, d=8, causal=False, kernel="softmax", redraw=0):
    # relu_deterministic draws no features, so it refuses a feature count or a redraw interval
    extra = {} if kernel == "relu_deterministic" else {"num_features": m, "redraw_interval": redraw}
    return PerformerAttention(PerformerOptions(kernel=kernel, **extra),
                              AttentionContext(2, d, 64, causal=causal)).double()


def explicit(q, k, v, phi, key_mask=None, causal=False):
    """phi(Q) phi(K)^T V / phi(Q) phi(K)^T 1, with the feature map written out and no stabiliser."""
    scores = phi(q) @ phi(k).transpose(-1, -2)
    if key_mask is not None:
        scores = scores * key_mask[:, None, None, :]
    if causal:
        scores = scores.tril()
    return scores @ v / scores.sum(-1, keepdim=True)


def favor(w):
    def phi(x):
        x = x * x.shape[-1] ** -0.25
        return torch.exp(x @ w.T - (x * x).sum(-1, keepdim=True) / 2) / w.shape[0] ** 0.5
    return phi


qkv = partial(random_qkv, length=19, scale=0.5)


@pytest.mark.parametrize("causal", [False, True])
def test_matches_explicit_form_with_fixed_features(causal):
    q, k, v = qkv()
    key_mask = padded_mask(2, 19, [11, 19])
    torch.manual_seed(0)
    attn = core(32, causal=causal)
    oracle = partial(explicit, phi=favor(attn.projection), key_mask=key_mask, causal=causal)
    want = oracle(q, k, v)
    torch.testing.assert_close(attn(q, k, v, key_mask), want, atol=1e-10, rtol=1e-8)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v))


@pytest.mark.parametrize("kernel", ["relu", "relu_deterministic"])
def test_relu_kernels_match_their_explicit_form(kernel):
    q, k, v = qkv(scale=1.0)
    torch.manual_seed(0)
    attn = core(16, kernel=kernel)
    if kernel == "relu":
        def phi(x):
            return torch.relu(x * 8 ** -0.25 @ attn.projection.T) + 1e-3
    else:
        def phi(x):
            return torch.relu(x) + 1e-3
    torch.testing.assert_close(attn(q, k, v), explicit(q, k, v, phi), atol=1e-10, rtol=1e-8)


def test_error_falls_as_features_grow_on_small_norm_inputs():
    errors, uniform = {16: 0.0, 1024: 0.0}, 0.0
    for seed in range(3):
        q, k = qkv(length=128, d=32, scale=0.5, seed=seed)[:2]
        v = qkv(length=128, d=32, scale=1.0, seed=seed + 10)[2]
        exact = reference_attention(q, k, v)
        uniform += (exact - v.mean(dim=2, keepdim=True)).pow(2).mean().item() / 3
        for m in errors:
            torch.manual_seed(seed)
            errors[m] += (core(m, d=32)(q, k, v) - exact).pow(2).mean().item() / 3
    assert errors[1024] < errors[16] / 10, errors
    assert errors[1024] < 0.5 * uniform, (errors, uniform)  # and well ahead of the uniform baseline mean(V)


def test_drawn_rows_are_haar_orthogonal_gaussian():
    """Over many blocks, every coordinate of every row position has mean 0 (a Q from Householder QR
    without the sign(diag R) correction puts about -0.8 on row i's i-th coordinate), the rows of a block
    are orthogonal, and the squared row norms are chi-square(d) (mean d, variance 2d)."""
    d, blocks = 8, 2000
    w = orthogonal_gaussian(blocks * d, d, torch.Generator().manual_seed(0)).view(blocks, d, d)
    se = w.std(dim=0) / blocks**0.5
    z = w.mean(dim=0) / se  # (row position, coordinate)
    assert z.abs().max() < 4.5, f"row means not 0: diagonal {torch.diagonal(w.mean(dim=0)).tolist()}"
    assert torch.diagonal(z).abs().max() < 4.0
    gram = w @ w.transpose(1, 2)
    off = gram - torch.diag_embed(torch.diagonal(gram, dim1=1, dim2=2))
    assert off.abs().max() < 1e-10
    sq_norms = w.pow(2).sum(-1).flatten()
    assert abs(sq_norms.mean().item() - d) < 4 * (2 * d / sq_norms.numel()) ** 0.5
    assert abs(sq_norms.var().item() / (2 * d) - 1) < 0.1


def test_favor_estimate_of_the_softmax_kernel_is_unbiased():
    """The mean over independent draws of m^-1 sum_r exp(w_r.(q' + k') - |q'|^2/2 - |k'|^2/2), read from
    softmax_features with its stabilisers undone, is exp(q.k / sqrt(d)) within a few standard errors.

    Each draw is one orthogonal block of d features. q = k along (1, ..., 1): the Haar distribution makes
    the estimate unbiased in every direction, and this one is where the uncorrected QR is worst (its
    estimate was about 20 standard errors low)."""
    d, draws = 8, 4000
    q = torch.full((1, 1, 1, d), 0.5, dtype=torch.float64)
    k = q.clone()
    w = orthogonal_gaussian(draws * d, d, torch.Generator().manual_seed(0))
    m = w.shape[0]
    fq = softmax_features(q, w, is_query=True)[0, 0, 0]
    fk = softmax_features(k, w, is_query=False)[0, 0, 0]
    stab_q = (q * d**-0.25 @ w.T).amax()  # the stabilisers softmax_features subtracted
    stab_k = (k * d**-0.25 @ w.T).amax()
    per_draw = (fq * fk * m * torch.exp(stab_q + stab_k)).view(draws, d).mean(-1)
    exact = math.exp((q * k).sum().item() / math.sqrt(d))
    se = per_draw.std().item() / draws**0.5
    assert abs(per_draw.mean().item() - exact) < 4 * se, (per_draw.mean().item(), exact, se)


def test_features_are_orthogonal_within_blocks():
    w = orthogonal_gaussian(20, 8, torch.Generator().manual_seed(0))
    unit = w / w.norm(dim=1, keepdim=True)
    for block in (unit[:8], unit[8:16], unit[16:]):
        torch.testing.assert_close(block @ block.T, torch.eye(len(block), dtype=torch.float64), atol=1e-12, rtol=0)
    assert not torch.allclose(w.norm(dim=1), w.norm(dim=1)[:1])  # chi-distributed norms, not all equal


def test_redraw_only_in_gradient_training_passes_and_reproducible():
    torch.manual_seed(5)
    attn = PerformerAttention(PerformerOptions(num_features=8, redraw_interval=2), AttentionContext(2, 4, 16))
    torch.manual_seed(5)
    twin = PerformerAttention(PerformerOptions(num_features=8, redraw_interval=2), AttentionContext(2, 4, 16))
    q = torch.randn(1, 2, 5, 4, requires_grad=True)
    first = attn.projection.clone()
    attn.eval()
    for _ in range(5):
        attn(q, q, q)
    attn.train()
    with torch.no_grad():
        for _ in range(5):
            attn(q, q, q)
    assert torch.equal(attn.projection, first) and int(attn.calls) == 0
    attn(q, q, q).sum().backward()
    assert torch.equal(attn.projection, first)
    out = attn(q, q, q)  # the second counted pass redraws after computing its output...
    assert not torch.equal(attn.projection, first) and int(attn.calls) == 2
    out.sum().backward()  # ...so its graph is intact
    for _ in range(2):
        twin.train()(q, q, q).sum().backward()
    assert torch.equal(twin.projection, attn.projection), "redraws are a function of (seed, count)"


def test_padded_keys_never_set_the_stabiliser():
    q, k, v = qkv()
    key_mask = padded_mask(2, 19, [9, 9])
    huge = k.clone()
    huge[:, :, 9:] = 1e3  # exp would underflow every real key if pads entered the key maximum
    torch.manual_seed(0)
    attn = core(16)
    torch.testing.assert_close(attn(q, huge, v, key_mask), attn(q, k, v, key_mask), atol=1e-12, rtol=1e-10)
    empty = torch.zeros(2, 19, dtype=torch.bool)
    assert torch.isfinite(attn(q, k, v, empty)).all()


def test_runs_in_float32_under_bfloat16_autocast():
    q, k, v = (t.float() for t in qkv(length=16))
    torch.manual_seed(0)
    attn = core(32).float()
    want = attn(q, k, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = attn(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=3e-2)
