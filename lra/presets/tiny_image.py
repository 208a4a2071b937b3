"""CPU-sized CIFAR-10 grayscale: all 1,024 pixels, a 5,000-image subset, one small layer."""

BASE = {
    "data.max_length": 1024,
    "data.max_examples": 5000,
    "model.num_layers": 1,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "model.positions": "learned",
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
