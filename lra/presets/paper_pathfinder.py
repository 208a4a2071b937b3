"""LRA Pathfinder (32x32, hard = curv_contour_length_14): lra_benchmarks/image/configs/pathfinder32/*.

Base: MEAN pooling, sinusoidal positions, lr 1e-3 with linear warmup and cosine decay over 200 epochs of
312 steps at batch 512, attention dropout 0.1. Per-model layers/heads/emb/qkv/mlp and dropout below.

Mechanism settings as LRA ran them: the Performer is the generalized deterministic ReLU kernel; the
Reformer projects q/k/v to emb_dim (its qkv_dim is ignored in LRA) and, like BigBird's sparse path, has
no attention dropout.

Each row of MODELS gives all five dimensions, as LRA's per-model config files do, and a dropout only
where it is not the base 0.2. `reference`, the oracle of the attention tests, runs with the Transformer's
settings.
"""

from lra.presets.dims import dims

BASE = {
    "data.max_length": 1024,
    # LRA's Transformer (4 layers, the default): the size of every mechanism without a row in MODELS.
    "model.num_heads": 4,
    "model.emb_dim": 32,
    "model.qkv_dim": 16,
    "model.mlp_dim": 32,
    "model.dropout": 0.2,
    "model.pooling": "mean",
    "train.batch_size": 512,
    "train.lr": 1e-3,
    "train.schedule": "cosine",
    "train.warmup_steps": 312,
    "train.weight_decay": 0.0,
    "train.steps": 62400,
    "train.eval_every": 312,
    "train.checkpoint_every": 3120,
}

MODELS: dict[str, dict] = {
    "transformer": dims(4, 4, 32, 16, 32),
    "bigbird": {**dims(4, 2, 64, 32, 64), "model.attention_dropout": 0.0,
                "model.attention_options": {"block_size": 64}},
    "linear": dims(1, 2, 128, 64, 128),
    "linformer": dims(1, 2, 32, 16, 32),
    "local": {**dims(2, 4, 64, 32, 64), "model.dropout": 0.1, "model.attention_options": {"block_size": 64}},
    "longformer": {**dims(2, 2, 32, 16, 32), "model.dropout": 0.1},
    "performer": {**dims(4, 8, 32, 16, 32), "model.attention_options": {"kernel": "relu_deterministic"}},
    "reformer": {**dims(2, 8, 64, 64, 64), "model.attention_dropout": 0.0},
    "sinkhorn": {**dims(2, 4, 32, 16, 64), "model.attention_options": {"block_size": 64}},
    "sparse": dims(1, 8, 32, 16, 32),
    "synthesizer": {**dims(2, 4, 64, 32, 64), "model.attention_options": {"mode": "random"}},
}
# Not a copy: the oracle runs with whatever the Transformer runs with.
MODELS["reference"] = MODELS["transformer"]
