"""LRA byte-level text classification (IMDb): lra_benchmarks/text_classification/configs/base_tc_config.py.

Length 4000 follows the paper's headline setup (Appendix A.1.2: "fixed max length of 4K"); the released
config's 1000 is the `released` preset. The lr peaks at 0.05/sqrt(8000) = 5.6e-4. IMDb has no validation
split: LRA validates on the test set and reports the last checkpoint (test_acc_last).
"""

BASE = {
    "data.max_length": 4000,
    "model.emb_dim": 256,
    "model.qkv_dim": 256,
    "model.num_heads": 4,
    "train.warmup_steps": 8000,
    "train.steps": 20000,
    "train.eval_every": 100,
    "train.checkpoint_every": 1000,
}

MODELS: dict[str, dict] = {
    # LRA's default Performer: the generalized, deterministic ReLU kernel (no random features).
    "performer": {"model.attention_options": {"kernel": "relu_deterministic"}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout.
    "reformer": {"model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
}
