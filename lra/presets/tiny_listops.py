"""CPU-sized ListOps: shallower, shorter generated expressions and a small Transformer.

It keeps the task (the same operators, vocabulary, tokenisation, CLS head and LRA's optimizer and rsqrt
schedule) and shrinks everything that costs time; docs/presets.md lists each change against `paper`.
"""

GENERATE = {"n_train": 8000, "n_val": 500, "n_test": 1000, "seed": 0,
            "min_length": 8, "max_length": 100, "max_depth": 4, "max_args": 5}

BASE = {
    "data.data_dir": "data/listops-tiny",
    "data.max_length": 100,
    "data.generate": GENERATE,
    "model.num_layers": 2,
    "model.emb_dim": 64,
    "model.qkv_dim": 64,
    "model.mlp_dim": 128,
    "model.num_heads": 4,
    "train.warmup_steps": 300,
    "train.steps": 1200,
    "train.eval_every": 200,
    "train.checkpoint_every": 200,
}

MODELS: dict[str, dict] = {
    # Sequences average ~18 tokens here: LRA's 50-token blocks would attend mostly to padding.
    "local": {"model.attention_options": {"block_size": 16}},
}
