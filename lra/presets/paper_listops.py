"""The released LRA ListOps config: lra_benchmarks/listops/configs/base_listops_config.py at HEAD.

The paper's appendix says 6 layers and FFN 2048; the repository (which its maintainers call the one for
reproducing the results) has 4 layers and 1024. ListOps' train.py ignores config.factors/warmup and uses
the scheduler defaults: constant * linear_warmup * rsqrt_decay with warmup 1000.

The defaults of lra/config.py are this config (length 2000, 4 layers, emb/qkv 512, mlp 1024, 8 heads,
dropout 0.1, CLS, sinusoidal positions, batch 32, lr 0.05, rsqrt with warmup 1000, weight decay 0.1,
5000 steps), so BASE is empty.
"""

BASE: dict = {}

MODELS: dict[str, dict] = {
    # LRA's listops performer config: FAVOR+ softmax kernel with nb_features=2 (sic), our num_features.
    "performer": {"model.attention_options": {"num_features": 2}},
    # LRA's Reformer and BigBird (sparse path) apply no attention dropout.
    "reformer": {"model.attention_dropout": 0.0},
    "bigbird": {"model.attention_dropout": 0.0},
    # LRA's Sinkhorn encoder only pools by MEAN (no CLS token), whatever the task config says.
    "sinkhorn": {"model.pooling": "mean"},
}
