"""CPU-sized byte-level IMDb: 1,024 bytes, a 2,000-review training subset, a small model."""

BASE = {
    "data.max_length": 1024,
    "data.max_examples": 2000,
    "model.num_layers": 2,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "train.batch_size": 16,
    "train.warmup_steps": 200,
    "train.steps": 400,
    "train.eval_every": 100,
    "train.checkpoint_every": 100,
}

MODELS: dict[str, dict] = {}
