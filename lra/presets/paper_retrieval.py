"""LRA byte-level document retrieval (AAN): lra_benchmarks/matching/configs/base_match_config.py.

Two towers share one encoder, no cross-attention; each reads position 0 (no CLS token is prepended).
The head combines [u, v, u*v, u-v] as in the paper (Eq. 1); the released code passed only [u, v]:
`--set model.interaction=concat` reproduces that. Warmup (8000) exceeds the 5000 steps, as released, so
the lr never reaches its peak.
"""

BASE = {
    "data.max_length": 4000,
    "model.emb_dim": 128,
    "model.qkv_dim": 128,
    "model.mlp_dim": 512,
    "model.num_heads": 4,
    "model.pooling": "first",
    "train.warmup_steps": 8000,
    "train.eval_every": 100,
    "train.checkpoint_every": 1000,
}

MODELS: dict[str, dict] = {
    # LRA's default Performer: the generalized, deterministic ReLU kernel (no random features).
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout.
    "reformer": {"model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
}
