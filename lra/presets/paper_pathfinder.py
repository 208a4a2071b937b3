"""LRA Pathfinder (32x32, hard = curv_contour_length_14): lra_benchmarks/image/configs/pathfinder32/*.

Base: MEAN pooling, sinusoidal positions, lr 1e-3 with linear warmup and cosine decay over 200 epochs of
312 steps at batch 512, attention dropout 0.1. Per-model layers/heads/emb/qkv/mlp and dropout below.

Mechanism settings as LRA ran them: the Performer is the generalized deterministic ReLU kernel; the
Reformer projects q/k/v to emb_dim (its qkv_dim is ignored in LRA) and, like BigBird's sparse path, has
no attention dropout.
"""


def _dims(layers: int, heads: int, emb: int, qkv: int, mlp: int, dropout: float = 0.2) -> dict:
    return {"model.num_layers": layers, "model.num_heads": heads, "model.emb_dim": emb, "model.qkv_dim": qkv,
            "model.mlp_dim": mlp, "model.dropout": dropout}


BASE = {
    "data.max_length": 1024,
    "data.difficulty": "hard",
    **_dims(4, 4, 32, 16, 32),
    "model.attention_dropout": 0.1,
    "model.positions": "sinusoidal",
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
    "transformer": _dims(4, 4, 32, 16, 32),
    "reference": _dims(4, 4, 32, 16, 32),
    "bigbird": {**_dims(4, 2, 64, 32, 64), "model.attention_dropout": 0.0,
                "model.attention_options": {"block_size": 64}},
    "linear": _dims(1, 2, 128, 64, 128),
    "linformer": _dims(1, 2, 32, 16, 32),
    "local": {**_dims(2, 4, 64, 32, 64, dropout=0.1), "model.attention_options": {"window": 64}},
    "longformer": _dims(2, 2, 32, 16, 32, dropout=0.1),
    "performer": {**_dims(4, 8, 32, 16, 32), "model.attention_options": {"kernel": "relu_deterministic"}},
    "reformer": {**_dims(2, 8, 64, 64, 64), "model.attention_dropout": 0.0},
    "sinkhorn": {**_dims(2, 4, 32, 16, 64), "model.attention_options": {"block_size": 64}},
    "sparse": _dims(1, 8, 32, 16, 32),
    "synthesizer": {**_dims(2, 4, 64, 32, 64), "model.attention_options": {"mode": "random"}},
}
