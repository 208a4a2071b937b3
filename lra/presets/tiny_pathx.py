"""CPU-sized Path-X: 400 generated 128x128 hard images (16,384 tokens), one small layer, a few steps.

Quadratic attention at 16K tokens is slow on a CPU; the suite records such runs as failures and goes on.
"""

GENERATE = {"resolution": 128, "difficulty": "hard", "n": 400, "seed": 0}

BASE = {
    "data.data_dir": "data/pathx-tiny",
    "data.max_length": 16384,
    "data.generate": GENERATE,
    "model.num_layers": 1,
    "model.num_heads": 2,
    "model.emb_dim": 32,
    "model.qkv_dim": 16,
    "model.mlp_dim": 32,
    "model.positions": "learned",
    "model.pooling": "mean",
    # SDPA with attention dropout has no fused CPU kernel: it would hold 2 x 16K x 16K weights per example.
    "model.attention_dropout": 0.0,
    "train.batch_size": 4,
    "train.eval_batch_size": 8,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 5,
    "train.weight_decay": 0.0,
    "train.grad_clip": 1.0,
    "train.steps": 20,
    "train.eval_every": 10,
    "train.checkpoint_every": 10,
}

MODELS: dict[str, dict] = {}
