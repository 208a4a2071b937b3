"""The values that decide a run in the released LRA code, as data (google-research/long-range-arena at HEAD).

Every value is a `Fact`: the value in our key vocabulary (lra/config.py fields, `model.attention_options.NAME`
for a mechanism's options, and a few `data.*` / `model.*` / `protocol.*` facts of the pipelines and train
scripts), the file at HEAD it comes from, and a note where LRA's code arrives at it in a way its config does
not say. A value is what LRA's code actually runs with: a config value that the code ignores is recorded as
the value used, with the config's value in the note (the Reformer's qkv_dim, attention dropout in layers that
apply none, the ListOps schedule). Recorded by reading the configs, train scripts, input pipelines and model
modules; no LRA code is copied. `lra.fidelity` holds our presets against these values.

Path-X, Pathfinder-64 and Pathfinder-256 have only a Transformer config in the release: for the other
mechanisms their values are the base config's with the mechanism's own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lra.presets.dims import dims

LRA_REPO = "google-research/long-range-arena"
LRA_COMMIT = "cd31e5c6b8e5bceabd28de2d2afb23f7ae5d36d8"
ROOT = "lra_benchmarks/"

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx", "pathfinder64", "pathfinder256")
MODELS = ("transformer", "local", "sparse", "longformer", "linformer", "reformer", "sinkhorn", "synthesizer",
          "bigbird", "linear", "performer")
# Our registry name -> LRA's model_type.
LRA_MODEL_TYPE = {"transformer": "transformer", "local": "local", "sparse": "sparse_transformer",
                  "longformer": "longformer", "linformer": "linformer", "reformer": "reformer",
                  "sinkhorn": "sinkhorn", "synthesizer": "synthesizer", "bigbird": "bigbird",
                  "linear": "linear_transformer", "performer": "performer"}
PIXEL_TASKS = ("image", "pathfinder", "pathx", "pathfinder64", "pathfinder256")
PATHFINDER_RESOLUTION = {"pathfinder": 32, "pathx": 128, "pathfinder64": 64, "pathfinder256": 256}
_CONFIG_DIR = {"listops": "listops/configs", "text": "text_classification/configs", "retrieval": "matching/configs",
               "image": "image/configs/cifar10",
               **{t: f"image/configs/pathfinder{r}" for t, r in PATHFINDER_RESOLUTION.items()}}
_BASE_FILE = {"listops": "base_listops_config.py", "text": "base_tc_config.py", "retrieval": "base_match_config.py",
              "image": "base_cifar10_config.py",
              **{t: f"base_pathfinder{r}_config.py" for t, r in PATHFINDER_RESOLUTION.items()}}
_TASK_DIR = {"listops": "listops", "text": "text_classification", "retrieval": "matching"}
_ENCODER = {"transformer": "transformer/transformer.py", "local": "local/local.py",
            "sparse": "sparse_transformer/sparse_transformer.py", "longformer": "longformer/longformer.py",
            "linformer": "linformer/linformer.py", "reformer": "reformer/reformer.py",
            "sinkhorn": "sinkhorn_transformer/sinkhorn_transformer.py", "synthesizer": "synthesizer/synthesizer.py",
            "bigbird": "bigbird/bigbird.py", "linear": "linear_transformer/linear_transformer.py",
            "performer": "performer/performer.py"}
_ATTENTION = {"local": "local/local_attention.py", "sparse": "sparse_transformer/sparse_attention.py",
              "longformer": "longformer/longformer_attention.py", "linformer": "linformer/linformer_attention.py",
              "reformer": "reformer/reformer_attention.py", "sinkhorn": "sinkhorn_transformer/sinkhorn_attention.py",
              "synthesizer": "synthesizer/synthesizer_attention.py", "bigbird": "bigbird/bigbird_attention.py",
              "linear": "linear_transformer/linear_attention.py", "performer": "performer/performer_attention.py"}


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str  # path in the LRA repository at LRA_COMMIT
    note: str = ""


def base_file(task: str) -> str:
    return f"{ROOT}{_CONFIG_DIR[task]}/{_BASE_FILE[task]}"


def model_file(task: str, model: str) -> str | None:
    """The released per-model config of (task, model), or None where the release has none."""
    if task in ("pathx", "pathfinder64", "pathfinder256") and model != "transformer":
        return None
    stem = "sinkhorn_transformer" if model == "sinkhorn" and task in ("text", "retrieval") else LRA_MODEL_TYPE[model]
    return f"{ROOT}{_CONFIG_DIR[task]}/{stem}_base.py"


def train_script(task: str) -> str:
    return f"{ROOT}{_TASK_DIR.get(task, 'image')}/train.py"


def input_pipeline(task: str) -> str:
    return f"{ROOT}{_TASK_DIR.get(task, 'image')}/input_pipeline.py"


def encoder_module(model: str) -> str:
    return f"{ROOT}models/{_ENCODER[model]}"


def attention_module(model: str) -> str:
    return f"{ROOT}models/{_ATTENTION.get(model, 'transformer/transformer.py')}"


def _facts(source: str, values: dict[str, Any], note: str = "") -> dict[str, Fact]:
    return {key: Fact(value, source, note) for key, value in values.items()}


_ADAM = {"train.beta1": 0.9, "train.beta2": 0.98, "train.eps": 1e-9}


def _text_like(task: str, length: int, sizes: dict, steps: int, eval_every: int, warmup: int) -> dict[str, Fact]:
    """ListOps, Text, Retrieval: top-level config keys that their train.py passes on."""
    script = train_script(task)
    return {
        **_facts(base_file(task), {"data.max_length": length, **sizes, "train.batch_size": 32, "train.lr": 0.05,
                                   "train.weight_decay": 0.1, "train.steps": steps, "train.eval_every": eval_every,
                                   "train.seed": 0, "train.schedule": "rsqrt", "train.warmup_steps": warmup}),
        **_facts(script, _ADAM, "create_optimizer's Adam"),
        "train.grad_clip": Fact(0.0, script, "train_step clips no gradient"),
    }


def _listops() -> dict[str, Fact]:
    facts = _text_like("listops", 2000, dims(4, 8, 512, 512, 1024), 5000, 50, 1000)
    ignored = ("listops/train.py calls create_learning_rate_scheduler with the base lr only: config.factors and "
               "config.warmup are never read, the scheduler's defaults (constant * linear_warmup * rsqrt_decay, "
               "warmup 1000; utils/train_utils.py) apply, equal to the config's")
    facts.update(_facts(train_script("listops"), {"train.schedule": "rsqrt", "train.warmup_steps": 1000}, ignored))
    return facts


def _text() -> dict[str, Fact]:
    facts = _text_like("text", 1000, dims(4, 4, 256, 256, 1024), 20000, 100, 8000)
    facts["model.pooling"] = Fact("cls", base_file("text"), "classifier_pool='CLS'")
    return facts


def _retrieval() -> dict[str, Fact]:
    facts = _text_like("retrieval", 4000, dims(4, 4, 128, 128, 512), 5000, 100, 8000)
    facts["model.pooling"] = Fact("first", base_file("retrieval"),
                                  "pooling_mode='CLS' reads position 0 of each tower: the dual encoders build "
                                  "their shared encoder with classifier=False, so no CLS token is prepended")
    return facts


def _pixels(task: str, epochs: int, train_examples: int, batch: int, sizes: dict, dropout: float, pooling: str,
            learned: bool, lr: float, clip: float, image_side: int) -> dict[str, Fact]:
    """The image configs: steps, warmup, eval cadence and cosine cycle are derived from one epoch."""
    epoch = train_examples // batch
    return {
        **_facts(base_file(task), {
            **sizes, "model.dropout": dropout, "model.attention_dropout": 0.2 if task == "image" else 0.1,
            "model.pooling": pooling, "model.positions": "learned" if learned else "sinusoidal",
            "train.batch_size": batch, "train.lr": lr, "train.weight_decay": 0.0, "train.steps": epoch * epochs,
            "train.eval_every": epoch, "train.warmup_steps": epoch, "train.cycle_steps": epoch * epochs,
            "train.schedule": "cosine", "train.seed": 0}),
        "train.grad_clip": Fact(clip, base_file(task), f"grad_clip_norm={clip:g}: global-norm clipping in "
                                "image/train.py" if clip else "grad_clip_norm=None: no clipping"),
        "data.max_length": Fact(image_side * image_side, input_pipeline(task),
                                f"{image_side}x{image_side} one-channel images flattened by image/train.py"),
        **_facts(train_script(task), _ADAM, "create_optimizer's Adam"),
    }


_UNMASKED = "MEAN averages every position, padding included (models/layers/common_layers.py)"

TASK_BASE: dict[str, dict[str, Fact]] = {
    "listops": _listops(),
    "text": _text(),
    "retrieval": _retrieval(),
    "image": _pixels("image", 200, 45000, 256, dims(1, 1, 32, 32, 64), 0.3, "cls", True, 5e-4, 0.0, 32),
    "pathfinder": _pixels("pathfinder", 200, 160000, 512, dims(1, 2, 32, 16, 32), 0.1, "mean_unmasked", False,
                          1e-3, 0.0, 32),
    "pathx": _pixels("pathx", 200, 160000, 64, dims(1, 2, 32, 16, 32), 0.1, "mean_unmasked", True, 1e-3, 1.0, 128),
    "pathfinder64": _pixels("pathfinder64", 200, 160000, 256, dims(2, 4, 32, 32, 32), 0.1, "cls", True, 1e-3, 0.0,
                            64),
    "pathfinder256": _pixels("pathfinder256", 100, 160000, 32, dims(2, 4, 32, 32, 32), 0.1, "cls", True, 1e-3, 0.0,
                             256),
}

# Per-model config files: what each sets, in our keys (model_type aside).
_IMAGE = {
    "transformer": dims(1, 8, 128, 64, 128),
    "linear": dims(1, 8, 128, 64, 128),
    "linformer": dims(1, 8, 128, 64, 128),
    "performer": dims(1, 8, 128, 64, 128),
    "sparse": dims(1, 8, 128, 64, 128),
    "synthesizer": {**dims(1, 8, 128, 64, 128), "model.attention_options.mode": "random"},
    # `num_head = 4` in the file is not a model argument: the heads stay at the base config's 1.
    "bigbird": {"model.num_layers": 1, "model.emb_dim": 128, "model.qkv_dim": 64, "model.mlp_dim": 128,
                "model.attention_options.block_size": 64},
    "local": {**dims(1, 2, 128, 64, 128), "model.pooling": "mean_unmasked", "model.attention_options.block_size": 64},
    "longformer": {**dims(4, 4, 128, 64, 128), "model.pooling": "mean_unmasked"},
    "reformer": dims(4, 8, 64, 32, 64),
    "sinkhorn": {"model.num_layers": 1, "train.weight_decay": 0.7, "model.dropout": 0.1,
                 "model.attention_options.block_size": 64},
}
_PATHFINDER = {
    "transformer": {**dims(4, 4, 32, 16, 32), "model.dropout": 0.2},
    "bigbird": {**dims(4, 2, 64, 32, 64), "model.dropout": 0.2, "model.attention_options.block_size": 64},
    "linear": {**dims(1, 2, 128, 64, 128), "model.dropout": 0.2},
    "linformer": {**dims(1, 2, 32, 16, 32), "model.dropout": 0.2},
    "local": {**dims(2, 4, 64, 32, 64), "model.dropout": 0.1, "model.attention_options.block_size": 64},
    "longformer": {**dims(2, 2, 32, 16, 32), "model.dropout": 0.1},
    "performer": {**dims(4, 8, 32, 16, 32), "model.dropout": 0.2},
    "reformer": {**dims(2, 8, 64, 32, 64), "model.dropout": 0.2},
    "sinkhorn": {**dims(2, 4, 32, 16, 64), "model.dropout": 0.2, "model.attention_options.block_size": 64},
    "sparse": {**dims(1, 8, 32, 16, 32), "model.dropout": 0.2},
    "synthesizer": {**dims(2, 4, 64, 32, 64), "model.dropout": 0.2, "model.attention_options.mode": "random"},
}
_LISTOPS_PERFORMER = {"model.attention_options.kernel": "softmax", "model.attention_options.num_features": 2}
MODEL_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "listops": {"performer": _LISTOPS_PERFORMER},
    "image": _IMAGE,
    "pathfinder": _PATHFINDER,
}
_OVERRIDE_NOTES = {
    ("image", "bigbird", "model.num_heads"): "the file sets `num_head=4`, which is not a model argument: flax "
                                             "rejects the unknown keyword, or, ignored, heads stay at the base 1",
    ("listops", "performer", "model.attention_options.kernel"): "attention_fn_cls='softmax' (FAVOR+), "
                                                                "ortho_scaling=0",
}


def _encoder_defaults(model: str) -> dict[str, Fact]:
    """What the model modules use where a train script passes nothing (ListOps, Text, Retrieval)."""
    source = encoder_module(model)
    pooling = "mean_unmasked" if model == "sinkhorn" else "cls"
    return {**_facts(source, {"model.dropout": 0.1, "model.attention_dropout": 0.1, "model.positions": "sinusoidal"},
                     "the encoder's default (dropout_rate, attention_dropout_rate, learn_pos_emb=False)"),
            "model.pooling": Fact(pooling, source, "the encoder's default classifier_pool; listops/train.py never "
                                                   "passes config.pooling_mode")}


def _mechanism_defaults(task: str, model: str) -> dict[str, Fact]:
    """A mechanism's own settings: module defaults that no released config changes (unless MODEL_OVERRIDES)."""
    enc, att = encoder_module(model), attention_module(model)
    opt = "model.attention_options."
    if model == "local":
        return {opt + "block_size": Fact(50, enc, "block_size=50"),
                **_facts(att, {opt + "look_backward": 0, opt + "look_forward": 0},
                         "each block attends only to itself (no look-around)")}
    if model == "sparse":
        return {**_facts(f"{ROOT}utils/train_utils.py", {opt + "pattern": "fixed", opt + "block_size": 50,
                                                         opt + "summary_size": 10},
                         "get_model forces Fixed1Pattern(block_size=50) + Fixed2Pattern(block_size=50, c=10)"),
                opt + "causal_pattern": Fact(True, att, "every pattern is intersected with the lower triangle")}
    if model == "longformer":
        return {opt + "window": Fact(512, enc, "sliding_window_size=512"),
                opt + "num_global_tokens": Fact(0, enc, "global_mask=None: no global attention")}
    if model == "linformer":
        note = "text's config sets low_rank_features=32 at the top level, which text_classification/train.py " \
               "never passes on" if task == "text" else ""
        return {opt + "projected_size": Fact(16, att, note or "low_rank_features=16"),
                opt + "share_kv": Fact(True, att, "one projection kernel for keys and values")}
    if model == "reformer":
        return {opt + "block_size": Fact("len/10", att, "n_buckets=10, n_hashes=1: the sorted sequence is cut "
                                                         "into 10 chunks of length/10"),
                opt + "num_hashes": Fact(1, att)}
    if model == "sinkhorn":
        sort = "sort_activation='softmax': one softmax over the sorting net's block scores, no Sinkhorn iterations"
        return {opt + "block_size": Fact(50, enc, "block_size=50"),
                opt + "sinkhorn_iterations": Fact("none", att, sort),
                opt + "temperature": Fact(1.0, att, sort),
                opt + "num_sortcut_blocks": Fact(0, att, "no SortCut")}
    if model == "synthesizer":
        note = "the encoder's defaults (synthesizer_mode='random', ignore_dot_product=False)" + (
            "; text's config sets synthesizer_mode/ignore_dot_product/k at the top level, never passed on"
            if task == "text" else "")
        return {**_facts(enc, {opt + "mode": "random", opt + "mix_dot_product": True}, note),
                opt + "trainable_random": Fact(True, att, "the random table is a parameter")}
    if model == "bigbird":
        return {opt + "block_size": Fact(64, enc, "_DEFAULT_BLOCK_SIZE"),
                **_facts(att, {opt + "num_random_blocks": 3, opt + "num_window_blocks": 3},
                         "num_rand_blocks=3; a band of 3 blocks, global first and last blocks")}
    if model == "linear":
        return {opt + "eps": Fact(1e-6, att, "eps=1e-6 in the denominator")}
    if model == "performer":
        if task == "listops":
            note = "make_fast_softmax_attention's defaults"
            return {opt + "eps": Fact(1e-6, att, note + " (numerical_stabilizer=1e-6)"),
                    opt + "redraw_interval": Fact("every call", att, note + " (redraw_features=True: new "
                                                  "features on every call, seeded from the query sum)")}
        return {opt + "kernel": Fact("relu_deterministic", enc,
                                     "_DEFAULT_ATTENTION_FN_CLS='generalized': make_fast_generalized_attention with "
                                     "features_type='deterministic', kernel_fn=relu, kernel_epsilon=0.001"),
                opt + "eps": Fact(0.0, att, "numerical_stabilizer=0.0 of the generalized attention")}
    return {}


def _code_effects(task: str, model: str, facts: dict[str, Fact]) -> None:
    """Where the model code overrides or ignores the config: the value it actually runs with."""
    att = attention_module(model)
    if model == "reformer":
        qkv, emb = facts["model.qkv_dim"].value, facts["model.emb_dim"].value
        facts["model.qkv_dim"] = Fact(emb, att, "" if qkv == emb else f"config qkv_dim {qkv} is ignored: q/k/v "
                                                                      "are projected to the input width emb_dim")
    if model in ("reformer", "bigbird", "performer", "linear"):
        rate = facts["model.attention_dropout"].value
        facts["model.attention_dropout"] = Fact(0.0, att, f"config rate {rate} is not applied: the layer drops no "
                                                          "attention weights")
    if model == "sinkhorn" and facts["model.pooling"].value == "cls":
        facts["model.pooling"] = Fact("cls", facts["model.pooling"].source,
                                      "SinkhornTransformerEncoder supports only MEAN and raises ValueError for CLS, "
                                      "so this released config does not run")
    classes = facts["data.num_classes"].value
    mlp = facts["model.mlp_dim"].value
    if task == "retrieval":
        facts["model.head"] = Fact(f"Dense({mlp})-ReLU-Dense({mlp // 2})-ReLU-Dense({classes})",
                                   f"{ROOT}models/layers/common_layers.py", "classifier_head_dual")
    elif model == "sinkhorn":
        facts["model.head"] = Fact(f"Dense({classes})", encoder_module(model), "one Dense on the pooled mean")
    else:
        facts["model.head"] = Fact(f"Dense({mlp})-ReLU-Dense({classes})", f"{ROOT}models/layers/common_layers.py",
                                   "classifier_head")
    facts["model.out_projection"] = Fact(model != "reformer", att, "the LSH attention returns the heads' values "
                                         "with no output projection" if model == "reformer" else "")


def released_values(task: str, model: str) -> dict[str, Fact]:
    """Every recorded value that decides a run of `model` on `task` in the released code."""
    from lra.presets.released_lra_protocol import protocol_facts

    if task not in TASKS or model not in MODELS:
        raise KeyError(f"no released LRA values for ({task!r}, {model!r})")
    facts = _encoder_defaults(model) if task in ("listops", "text", "retrieval") else {}
    facts.update(TASK_BASE[task])
    facts.update(_mechanism_defaults(task, model))
    source = model_file(task, model)
    for key, value in MODEL_OVERRIDES.get(task, {}).get(model, {}).items():
        facts[key] = Fact(value, source, _OVERRIDE_NOTES.get((task, model, key), ""))
    for (t, m, key), note in _OVERRIDE_NOTES.items():
        if (t, m) == (task, model) and key not in MODEL_OVERRIDES.get(task, {}).get(model, {}):
            facts[key] = Fact(facts[key].value, source, note)
    if task == "retrieval":
        facts["model.interaction"] = Fact("concat", encoder_module(model), "the dual encoder's interaction=None "
                                          "gives [u, v]; matching/train.py never passes interaction")
    facts.update(protocol_facts(task))
    _code_effects(task, model, facts)
    return facts
