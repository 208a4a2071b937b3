"""CPU protocol on real CIFAR-10 (grayscale, 1,024 pixels): LRA's image task scaled to a few minutes per model
on 2 cores (docs/presets.md has the measured cost of a step).

Kept from `paper`: all 1,024 pixels as tokens, learned positions, CLS pooling, AdamW (0.9, 0.98, 1e-9) without
weight decay, constant * linear_warmup * cosine_decay, the 45,000 / 5,000 / 10,000 splits. Scaled down: one
64-wide layer (LRA's Transformer: one 128-wide layer), batch 64 instead of 256, a short run at lr 1e-3 (LRA:
5e-4 over 35,000 steps), 250 steps, evaluation on fixed 1,000-image subsets of val and test, no attention
dropout (see small_text.py).
"""

BASE = {
    "data.max_length": 1024,
    "data.max_eval_examples": 1000,
    "model.num_layers": 1,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "model.attention_dropout": 0.0,
    "model.positions": "learned",
    "train.batch_size": 64,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 50,
    "train.weight_decay": 0.0,
    "train.steps": 250,
    "train.checkpoint_every": 50,
}

MODELS: dict[str, dict] = {
    "local": {"model.attention_options": {"block_size": 64}},
    "bigbird": {"model.attention_options": {"block_size": 64}},
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
}
