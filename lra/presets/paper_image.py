"""LRA image classification (CIFAR-10, grayscale pixels): lra_benchmarks/image/configs/cifar10/*.

The base config (1 layer, 1 head, emb 32) is overridden per model; the Transformer's num_heads=8 is the
fix of LRA issue #33 that reproduces 42.44. Schedule: constant * linear_warmup * cosine_decay over all
steps (200 epochs of 175 steps at batch 256). The BigBird file's `num_head=4` is a typo that never reached
the model, so its heads stay 1, as in the released run.

Mechanism settings as LRA ran them: the Performer is the generalized deterministic ReLU kernel; the
Reformer projects q/k/v to emb_dim (its qkv_dim is ignored in LRA) and, like BigBird's sparse path, has
no attention dropout.

Each row of MODELS gives all five dimensions, as LRA's per-model config files do; mechanisms without a
row (ours, not in LRA) run with the base config's. `reference`, the oracle of the attention tests, runs
with the Transformer's settings.
"""

from lra.presets.dims import dims

BASE = {
    "data.max_length": 1024,
    **dims(1, 1, 32, 32, 64),
    "model.dropout": 0.3,
    "model.attention_dropout": 0.2,
    "model.positions": "learned",
    "train.batch_size": 256,
    "train.lr": 5e-4,
    "train.schedule": "cosine",
    "train.warmup_steps": 175,
    "train.weight_decay": 0.0,
    "train.steps": 35000,
    "train.eval_every": 175,
    "train.checkpoint_every": 1750,
}

MODELS: dict[str, dict] = {
    "transformer": dims(1, 8, 128, 64, 128),
    "linear": dims(1, 8, 128, 64, 128),
    "linformer": dims(1, 8, 128, 64, 128),
    "performer": {**dims(1, 8, 128, 64, 128), "model.attention_options": {"kernel": "relu_deterministic"}},
    "sparse": dims(1, 8, 128, 64, 128),
    "synthesizer": {**dims(1, 8, 128, 64, 128), "model.attention_options": {"mode": "random"}},
    "bigbird": {**dims(1, 1, 128, 64, 128), "model.attention_dropout": 0.0,
                "model.attention_options": {"block_size": 64}},
    "local": {**dims(1, 2, 128, 64, 128), "model.pooling": "mean", "model.attention_options": {"block_size": 64}},
    "longformer": {**dims(4, 4, 128, 64, 128), "model.pooling": "mean"},
    "reformer": {**dims(4, 8, 64, 64, 64), "model.attention_dropout": 0.0},
    "sinkhorn": {**dims(1, 1, 32, 32, 64), "model.dropout": 0.1, "train.weight_decay": 0.7,
                 "model.attention_options": {"block_size": 64}},
}
# Not a copy: the oracle runs with whatever the Transformer runs with.
MODELS["reference"] = MODELS["transformer"]
