"""LRA Pathfinder 64x64 (hard): lra_benchmarks/image/configs/pathfinder64/*.

2 layers, 4 heads, emb/qkv/mlp 32, CLS, learned positions, lr 1e-3 with warmup and cosine decay.
One epoch is 160,000 // 256 = 625 steps: LRA's warmup and eval cadence; 200 epochs.
"""

BASE = {
    "data.max_length": 4096,
    "model.num_layers": 2,
    "model.num_heads": 4,
    "model.emb_dim": 32,
    "model.qkv_dim": 32,
    "model.mlp_dim": 32,
    "model.positions": "learned",
    "train.batch_size": 256,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 625,
    "train.weight_decay": 0.0,
    "train.steps": 125000,
    "train.eval_every": 625,
    "train.checkpoint_every": 5000,
}

MODELS: dict[str, dict] = {
    # LRA's default Performer: the generalized, deterministic ReLU kernel (no random features).
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout.
    "reformer": {"model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
}
