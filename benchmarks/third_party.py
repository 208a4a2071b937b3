"""Layers of the best-known PyTorch package for each mechanism, built to the shapes of our layers.

Each builder returns a module mapping (B, L, dim) to (B, L, dim) with its own q/k/v/o projections, as
our MultiHeadAttention does, so `lra.bench` can time both the same way. PAIRS gives, per package, our
registry name and the options that make both compute the same kind of thing (same blocks, features,
landmarks, buckets). Our defaults already match, except Sinkhorn's block: the package needs a length divisible by
it, so the comparison adds our sinkhorn at block 64 (`lra_sinkhorn_block64`). The packages are the
optional `compare` extra: `pip install -e ".[compare]"`; none of them is a dependency of lra.
"""

from __future__ import annotations

from torch import Tensor, nn


class _WithProjections(nn.Module):
    """q/k/v/o projections around a package's core that takes (B, H, L, d) tensors."""

    def __init__(self, core: nn.Module, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.core, self.heads, self.head_dim = core, heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        y = self.core(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))


class _Call(nn.Module):
    """Calls a package's self-attention module that takes x alone, dropping any extra outputs."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        y = self.layer(x)
        return y[0] if isinstance(y, tuple) else y


def performer_pytorch(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from performer_pytorch import SelfAttention

    return _Call(SelfAttention(dim=dim, heads=heads, dim_head=head_dim, nb_features=256, qkv_bias=True))


def linformer(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from linformer import LinformerSelfAttention

    # share_kv=False: the package's share_kv=True makes the values equal the keys (one projection of x),
    # a cheaper layer than ours, whose share_kv only shares the sequence projection E.
    return _Call(LinformerSelfAttention(dim=dim, seq_len=length, k=16, heads=heads, dim_head=head_dim,
                                        share_kv=False))


def local_attention(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from local_attention import LocalAttention

    core = LocalAttention(window_size=50, look_backward=1, look_forward=1, autopad=True, dim=head_dim,
                          use_rotary_pos_emb=False)
    return _WithProjections(core, dim, heads, head_dim)


def reformer_pytorch(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from reformer_pytorch import LSHSelfAttention

    return _Call(LSHSelfAttention(dim=dim, heads=heads, dim_head=head_dim, bucket_size=32, n_hashes=1))


def sinkhorn_transformer(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from sinkhorn_transformer import SinkhornSelfAttention

    return _Call(SinkhornSelfAttention(dim=dim, bucket_size=64, max_seq_len=length, heads=heads, dim_head=head_dim,
                                       non_permutative=False, sinkhorn_iter=8, temperature=0.75))


def nystrom_attention(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    from nystrom_attention import NystromAttention

    return _Call(NystromAttention(dim=dim, dim_head=head_dim, heads=heads, num_landmarks=128, pinv_iterations=6,
                                  residual=False))


def lra_sinkhorn_block64(dim: int, heads: int, head_dim: int, length: int) -> nn.Module:
    """Our sinkhorn with sinkhorn-transformer's block (it needs a length divisible by the block; ours is 50)."""
    from lra.attention import build_mixer

    return build_mixer("sinkhorn", dim=dim, qkv_dim=heads * head_dim, num_heads=heads, max_len=length,
                       options=PAIRS["sinkhorn-transformer"][3])


# package -> (builder, import name, our registry name, our options that match the builder's settings,
# and, when those options are not our defaults, (row label, builder of our layer at them), else None)
PAIRS = {
    "performer-pytorch": (performer_pytorch, "performer_pytorch", "performer", {"num_features": 256}, None),
    "linformer": (linformer, "linformer", "linformer", {"projected_size": 16, "share_kv": True},
                  None),
    "local-attention": (local_attention, "local_attention", "local", {"block_size": 50}, None),
    "reformer-pytorch": (reformer_pytorch, "reformer_pytorch", "reformer", {"block_size": 32, "num_hashes": 1},
                         None),
    "sinkhorn-transformer": (sinkhorn_transformer, "sinkhorn_transformer", "sinkhorn",
                             {"block_size": 64, "sinkhorn_iterations": 8, "temperature": 0.75},
                             ("sinkhorn (block 64)", lra_sinkhorn_block64)),
    "nystrom-attention": (nystrom_attention, "nystrom_attention", "nystrom",
                          {"num_landmarks": 128, "pinv_iterations": 6}, None),
}
