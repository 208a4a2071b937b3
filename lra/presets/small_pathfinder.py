"""CPU protocol on Pathfinder 32x32 (the generator's hard set), scaled to a few minutes per model on 2 cores.

Kept from `paper`: LRA's Transformer for the task (4 layers, emb 32, qkv 16, mlp 32, 4 heads), 1,024 pixels,
mean pooling, sinusoidal positions, AdamW (0.9, 0.98, 1e-9) without weight decay, warmup then cosine decay
at lr 1e-3, the 80/10/10 split. Scaled down: 20,000 images instead of 200,000, batch 64 instead of 512, a
short run (100 steps, warmup 30), evaluation on fixed 1,000-image subsets of val and test, no attention
dropout (see small_text.py). Data: `lra data generate pathfinder --out
data/pathfinder-small --n 20000`.
"""

GENERATE = {"resolution": 32, "difficulty": "hard", "n": 20000, "seed": 0}

BASE = {
    "data.data_dir": "data/pathfinder-small",
    "data.max_eval_examples": 1000,
    "data.max_length": 1024,
    "data.generate": GENERATE,
    "model.emb_dim": 32,
    "model.qkv_dim": 16,
    "model.mlp_dim": 32,
    "model.num_heads": 4,
    "model.attention_dropout": 0.0,
    "model.pooling": "mean",
    "train.batch_size": 64,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 30,
    "train.weight_decay": 0.0,
    "train.steps": 100,
    "train.eval_every": 25,
    "train.checkpoint_every": 25,
}

MODELS: dict[str, dict] = {
    "local": {"model.attention_options": {"block_size": 64}},
    "bigbird": {"model.attention_options": {"block_size": 64}},
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
}
