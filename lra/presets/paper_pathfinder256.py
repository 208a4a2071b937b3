"""LRA Pathfinder 256x256 (hard): lra_benchmarks/image/configs/pathfinder256/*.

2 layers, 4 heads, emb/qkv/mlp 32, CLS, learned positions, lr 1e-3 with warmup and cosine decay.
One epoch is 160,000 // 32 = 5,000 steps: LRA's warmup and eval cadence; 100 epochs.
"""

BASE = {
    "data.max_length": 65536,
    "model.num_layers": 2,
    "model.num_heads": 4,
    "model.emb_dim": 32,
    "model.qkv_dim": 32,
    "model.mlp_dim": 32,
    "model.positions": "learned",
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 5000,
    "train.weight_decay": 0.0,
    "train.steps": 500000,
    "train.eval_every": 5000,
    "train.checkpoint_every": 25000,
}

MODELS: dict[str, dict] = {
    # LRA's default Performer: the generalized, deterministic ReLU kernel (no random features).
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout.
    "reformer": {"model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
}
