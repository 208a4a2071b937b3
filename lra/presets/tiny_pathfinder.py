"""CPU-sized Pathfinder: 4,000 generated 32x32 hard images and a small model (docs/presets.md)."""

GENERATE = {"resolution": 32, "difficulty": "hard", "n": 4000, "seed": 0}

BASE = {
    "data.data_dir": "data/pathfinder-tiny",
    "data.max_length": 1024,
    "data.generate": GENERATE,
    "model.num_layers": 2,
    "model.num_heads": 2,
    "model.emb_dim": 32,
    "model.qkv_dim": 32,
    "model.mlp_dim": 64,
    "model.pooling": "mean",
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 50,
    "train.weight_decay": 0.0,
    "train.steps": 400,
    "train.eval_every": 100,
    "train.checkpoint_every": 100,
}

MODELS: dict[str, dict] = {
    "local": {"model.attention_options": {"block_size": 64}},
    "bigbird": {"model.attention_options": {"block_size": 64}},
    "sinkhorn": {"model.attention_options": {"block_size": 64}},
}
