"""CPU protocol on ListOps at LRA's distribution and lengths (500-2,000 tokens, depth 10, up to 10 arguments),
scaled to a few minutes per model on 2 cores.

Kept from `paper`: the generator's distribution, the 2,000-token length, the vocabulary and tokenisation, CLS
pooling, sinusoidal positions, AdamW (0.9, 0.98, 1e-9) with weight decay 0.1, rsqrt decay at base lr 0.05.
Scaled down: 20,000 training expressions instead of 96,000, a 2-layer, 64-wide model, a short run (120 steps,
warmup 60), evaluation on fixed 1,000-row subsets of val and test, no attention dropout (see small_text.py).
Data: `lra data generate listops --out data/listops-small
--train 20000 --val 1000 --test 2000`.
"""

GENERATE = {"n_train": 20000, "n_val": 1000, "n_test": 2000, "seed": 0,
            "min_length": 500, "max_length": 2000, "max_depth": 10, "max_args": 10}

BASE = {
    "data.data_dir": "data/listops-small",
    "data.max_eval_examples": 1000,
    "data.generate": GENERATE,
    "model.num_layers": 2,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "model.attention_dropout": 0.0,
    "train.warmup_steps": 60,
    "train.steps": 120,
    "train.eval_every": 30,
    "train.checkpoint_every": 30,
}

MODELS: dict[str, dict] = {
    "performer": {"model.attention_options": {"num_features": 2}},
}
