"""CPU protocol on real IMDb bytes: LRA's text task scaled to a few minutes per model on 2 cores.

Kept from `paper`: byte tokens, the released config's 1,000-byte length, CLS pooling, sinusoidal positions,
AdamW (0.9, 0.98, 1e-9) with weight decay 0.1, the constant * linear_warmup * rsqrt_decay schedule at base lr
0.05, and, as in LRA, the test reviews as the validation split. Scaled down: a 2-layer, 64-wide model, a
short run (250 steps, warmup 100), and evaluation on a fixed 1,000-review subset of the test set. No attention
dropout: on the CPU it forces SDPA off its fused kernel (about 5x slower); docs/presets.md lists each change.
"""

BASE = {
    "data.max_length": 1000,
    "data.max_eval_examples": 1000,
    "model.num_layers": 2,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "model.attention_dropout": 0.0,
    "train.warmup_steps": 100,
    "train.steps": 250,
    "train.checkpoint_every": 50,
}

MODELS: dict[str, dict] = {
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
}
