"""The LRA encoder and classifiers, as the released LRA code builds them, with any registered mixer inside.

Faithful to the released Flax code: token embedding N(0, 1) without sqrt(d) scaling, a zero-initialised
CLS token at position 0, sinusoidal or learned positions, pre-LN blocks with LayerNorm eps 1e-6, a final
LayerNorm, GELU (tanh), xavier-uniform dense kernels, and a Dense(mlp_dim)-ReLU-Dense(classes) head.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from lra.act import AdaptiveDepth
from lra.attention import build_mixer, get_spec, make_options
from lra.config import ModelConfig
from lra.errors import LraError
from lra.moe import SwitchFeedForward
from lra.reversible import reversible, reversible_ref

LAYER_NORM_EPS = 1e-6
POOLINGS = ("cls", "mean", "mean_unmasked", "first")
INTERACTIONS = ("nli", "concat")


def sinusoidal_table(length: int, dim: int) -> Tensor:
    position = torch.arange(length, dtype=torch.float64)[:, None]
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq[: dim // 2])
    return table.float()


def _lecun_normal_(weight: Tensor) -> None:
    # flax's lecun_normal: truncated normal at 2 std, rescaled so the variance is 1/fan_in.
    std = math.sqrt(1.0 / weight.shape[1]) / 0.87962566103423978
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def _dense(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.normal_(layer.bias, std=1e-6)
    return layer


class Embeddings(nn.Module):
    def __init__(self, vocab_size: int, dim: int, max_len: int, positions: str, use_cls: bool, dropout: float):
        super().__init__()
        if positions not in ("sinusoidal", "learned"):
            raise LraError(f"model.positions={positions!r}: expected 'sinusoidal' or 'learned'")
        self.max_len = max_len
        self.tokens = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.tokens.weight, std=1.0)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if use_cls else None
        total = max_len + int(use_cls)
        if positions == "learned":
            self.positions = nn.Parameter(torch.randn(1, total, dim) * 0.02)
        else:
            self.register_buffer("positions", sinusoidal_table(total, dim)[None], persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        if tokens.shape[1] > self.max_len:
            raise LraError(f"sequence of length {tokens.shape[1]} exceeds the model's max_len={self.max_len}")
        mask = tokens > 0
        x = self.tokens(tokens)
        if self.cls is not None:
            # LRA copies the first token's mask bit to CLS; we always keep CLS real, so a pixel sequence
            # that starts with a black (pad-id) pixel still has a usable summary token.
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        x = x + self.positions[:, : x.shape[1]]
        return self.dropout(x), mask


class Block(nn.Module):
    """x + Dropout(Mixer(LN(x))), then x + MLP(LN(x))."""

    def __init__(self, config: ModelConfig, max_len: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.emb_dim, eps=LAYER_NORM_EPS)
        self.mixer = build_mixer(
            config.attention, dim=config.emb_dim, qkv_dim=config.qkv_dim, num_heads=config.num_heads,
            max_len=max_len, causal=config.causal, attention_dropout=config.attention_dropout,
            options=config.attention_options,
        )
        self.norm2 = nn.LayerNorm(config.emb_dim, eps=LAYER_NORM_EPS)
        if config.moe_experts > 0:
            self.mlp = SwitchFeedForward(config.emb_dim, config.mlp_dim, config.moe_experts, config.dropout, _dense)
        else:
            self.mlp = nn.Sequential(
                _dense(config.emb_dim, config.mlp_dim), nn.GELU(approximate="tanh"), nn.Dropout(config.dropout),
                _dense(config.mlp_dim, config.emb_dim), nn.Dropout(config.dropout),
            )
        self.dropout = nn.Dropout(config.dropout)

    def attend(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return self.dropout(self.mixer(self.norm1(x), mask))

    def feed_forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        h = self.norm2(x)
        return self.mlp(h, mask) if isinstance(self.mlp, SwitchFeedForward) else self.mlp(h)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.attend(x, mask)
        return x + self.feed_forward(x, mask)


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int, max_len: int):
        super().__init__()
        if config.pooling not in POOLINGS:
            raise LraError(f"model.pooling={config.pooling!r}: expected one of {', '.join(POOLINGS)}")
        use_cls = config.pooling == "cls"
        self.embed = Embeddings(vocab_size, config.emb_dim, max_len, config.positions, use_cls, config.dropout)
        # Adaptive depth owns its one block (applied up to num_layers times); the layer loop is then empty.
        self.adaptive: AdaptiveDepth | None = None
        if config.adaptive_depth:
            self.adaptive = AdaptiveDepth(Block(config, max_len + int(use_cls)), config.emb_dim, config.num_layers,
                                          config.halt_threshold, checkpoint_steps=config.checkpoint_blocks)
        distinct = 0 if config.adaptive_depth else 1 if config.share_layers else config.num_layers
        self.blocks = nn.ModuleList(Block(config, max_len + int(use_cls)) for _ in range(distinct))
        self.layers = [i % distinct for i in range(config.num_layers)] if distinct else []
        self.norm = nn.LayerNorm(config.emb_dim, eps=LAYER_NORM_EPS)
        self.pooling = config.pooling
        self.checkpoint_blocks = config.checkpoint_blocks
        self.reversible = config.reversible

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        x, mask = self.embed(tokens)
        # A batch without padding takes the unmasked fast path (flash attention on GPU).
        attn_mask = None if bool(mask.all()) else mask
        if self.adaptive is not None:
            x = self.adaptive(x, attn_mask)
        elif self.reversible:
            pairs = [(partial(self.blocks[i].attend, mask=attn_mask), partial(self.blocks[i].feed_forward,
                      mask=attn_mask)) for i in self.layers]
            if torch.is_grad_enabled():
                x = reversible(x, pairs, list(self.blocks.parameters()))
            else:
                x = reversible_ref(x, pairs)
        else:
            for i in self.layers:
                if self.checkpoint_blocks and torch.is_grad_enabled():
                    x = checkpoint(self.blocks[i], x, attn_mask, use_reentrant=False)
                else:
                    x = self.blocks[i](x, attn_mask)
        return self.norm(x), mask

    def encode(self, tokens: Tensor) -> Tensor:
        return pool(*self.forward(tokens), self.pooling)


def pool(x: Tensor, mask: Tensor, pooling: str) -> Tensor:
    """(B, L, D) features -> (B, D): position 0 (cls, first), the mean over real tokens, or over all."""
    if pooling in ("cls", "first"):
        return x[:, 0]
    if pooling == "mean_unmasked":
        return x.mean(dim=1)
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class PluggedEncoder(nn.Module):
    """A registered SequenceEncoder (a user's whole model) with lra's pooling after it."""

    def __init__(self, config: ModelConfig, vocab_size: int, max_len: int):
        super().__init__()
        if config.pooling not in POOLINGS:
            raise LraError(f"model.pooling={config.pooling!r}: expected one of {', '.join(POOLINGS)}")
        spec = get_spec(config.attention)
        self.model = spec.cls(make_options(config.attention, config.attention_options), config, vocab_size, max_len)
        self.pooling = config.pooling

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        x, mask = self.model(tokens)
        if x.dim() != 3 or mask.shape != x.shape[:2]:
            raise LraError(f"encoder {type(self.model).__name__} returned features {tuple(x.shape)} and mask "
                           f"{tuple(mask.shape)}; expected (B, L, D) and (B, L)")
        return x, mask.bool()

    def encode(self, tokens: Tensor) -> Tensor:
        return pool(*self.forward(tokens), self.pooling)


def make_encoder(config: ModelConfig, vocab_size: int, max_len: int) -> nn.Module:
    """lra's encoder with the configured mixer in every block, or a registered whole encoder."""
    if get_spec(config.attention).kind == "encoder":
        return PluggedEncoder(config, vocab_size, max_len)
    return Encoder(config, vocab_size, max_len)


def _head(d_in: int, widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, width in enumerate(widths):
        dense = nn.Linear(d_in, width)
        _lecun_normal_(dense.weight)
        nn.init.zeros_(dense.bias)
        layers.append(dense)
        if i < len(widths) - 1:
            layers.append(nn.ReLU())
        d_in = width
    return nn.Sequential(*layers)


class Classifier(nn.Module):
    """tokens (B, L) -> logits (B, classes)."""

    def __init__(self, config: ModelConfig, vocab_size: int, num_classes: int, max_len: int):
        super().__init__()
        self.encoder = make_encoder(config, vocab_size, max_len)
        self.head = _head(config.emb_dim, [config.mlp_dim, num_classes])

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.encoder.encode(tokens))


class TwoTowerClassifier(nn.Module):
    """tokens (B, 2, L) -> logits: one shared encoder per document, no cross-attention (retrieval)."""

    def __init__(self, config: ModelConfig, vocab_size: int, num_classes: int, max_len: int):
        super().__init__()
        if config.interaction not in INTERACTIONS:
            raise LraError(f"model.interaction={config.interaction!r}: expected one of {', '.join(INTERACTIONS)}")
        self.encoder = make_encoder(config, vocab_size, max_len)
        # With adaptive depth both documents go through the encoder as one batch, so that the ponder cost of
        # the last forward (lra.act.ponder_cost) covers both; halting is per token and a halted token is
        # frozen, so a document halts as it would alone.
        self.joint = config.adaptive_depth
        self.interaction = config.interaction
        width = config.emb_dim * (4 if config.interaction == "nli" else 2)
        self.head = _head(width, [config.mlp_dim, config.mlp_dim // 2, num_classes])

    def forward(self, tokens: Tensor) -> Tensor:
        if self.joint:
            both = self.encoder.encode(tokens.flatten(0, 1)).view(tokens.shape[0], 2, -1)
            u, v = both[:, 0], both[:, 1]
        else:
            u = self.encoder.encode(tokens[:, 0])
            v = self.encoder.encode(tokens[:, 1])
        features = [u, v, u * v, u - v] if self.interaction == "nli" else [u, v]
        return self.head(torch.cat(features, dim=-1))


def build_model(
    config: ModelConfig, *, vocab_size: int, num_classes: int, max_len: int, two_tower: bool = False
) -> nn.Module:
    cls = TwoTowerClassifier if two_tower else Classifier
    return cls(config, vocab_size, num_classes, max_len)


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits.float(), labels)
