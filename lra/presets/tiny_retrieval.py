"""CPU-sized AAN retrieval: 512 bytes per document, a 2,000-pair subset, a small two-tower model."""

BASE = {
    "data.max_length": 512,
    "data.max_examples": 2000,
    "model.num_layers": 2,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "model.pooling": "first",
    "train.batch_size": 16,
    "train.warmup_steps": 200,
    "train.steps": 300,
    "train.eval_every": 100,
    "train.checkpoint_every": 100,
}

MODELS: dict[str, dict] = {}
