"""LRA Path-X (Pathfinder 128x128, hard, 16,384 pixels): lra_benchmarks/image/configs/pathfinder128/*.

Gradient clipping 1.0 is set only here in LRA. 200 epochs of 2,500 steps at batch 64.
"""

BASE = {
    "data.max_length": 16384,
    "model.num_layers": 1,
    "model.num_heads": 2,
    "model.emb_dim": 32,
    "model.qkv_dim": 16,
    "model.mlp_dim": 32,
    "model.positions": "learned",
    "model.pooling": "mean",
    "train.batch_size": 64,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 2500,
    "train.weight_decay": 0.0,
    "train.grad_clip": 1.0,
    "train.steps": 500000,
    "train.eval_every": 2500,
    "train.checkpoint_every": 25000,
}

MODELS: dict[str, dict] = {
    # LRA's default Performer: the generalized, deterministic ReLU kernel (no random features).
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout; LRA's Reformer
    # projects q/k/v to emb_dim, not qkv_dim.
    "reformer": {"model.qkv_dim": 32, "model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
}
