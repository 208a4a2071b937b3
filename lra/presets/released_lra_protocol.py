"""LRA's protocol facts per task, beside its configs (lra/presets/released_lra.py): tokenisation, vocabulary, classes,
splits, how much of each evaluation split is evaluated, and which parameters are tested.

Values are canonical strings or numbers that `lra.fidelity` derives for our side from the code (listops.tokenize,
text.byte_tokens, the split constants, lra.trainer.evaluate, lra.report.run_accuracy), so both sides compare.
"""

from __future__ import annotations

from lra.presets.released_lra import PIXEL_TASKS, ROOT, Fact, input_pipeline, train_script

# Probes whose tokenisation is recorded: what LRA's pipeline makes of them.
LISTOPS_PROBE = "( ( [MAX 2 ( [MIN 3 4 ] ) ] ) )"
BYTES_PROBE = "é!"  # UTF-8 c3 a9 21

_TESTED = {
    "listops": "--test_only restores the last checkpoint; checkpoint_freq 10000 > 5000 steps, so only the final "
               "step is saved",
    "text": "--test_only restores the last checkpoint; IMDb's test set is also its validation set, so the last "
            "parameters are reported (LRA issue #22)",
    "retrieval": "--test_only restores the last checkpoint (the test split is also evaluated at every evaluation)",
}
_SPLITS = {
    "listops": ("basic_train.tsv / basic_val.tsv / basic_test.tsv",
                "task_name + '_train.tsv' etc., run with --task_name=basic (README)"),
    "text": ("train / test / test", "TFDS imdb_reviews: IMDb has no validation split, test serves as validation"),
    "retrieval": ("new_aan_pairs.train.tsv / new_aan_pairs.eval.tsv / new_aan_pairs.test.tsv", ""),
    "image": ("train[:90%] / train[90%:] / test", "TFDS cifar10: 45,000 / 5,000 / 10,000"),
}
_PATHFINDER_SPLIT = ("80% / 10% / 10%, record order",
                     "TFDS slices {difficulty}[:80%], [80%:90%], [90%:] of the records in order; empty images dropped")
_EVAL = {
    "listops": ("all", "num_eval_steps 99999 covers the validation split; batches keep their remainder"),
    "text": ("all", "num_eval_steps -1; padded_batch keeps the remainder"),
    "retrieval": ("full batches only", "drop_remainder=True on validation and test; the test file is read shuffled"),
}
_PIXEL_EVAL = ("full batches only", "batch(drop_remainder=True) on validation and test: e.g. 9,984 of CIFAR-10's "
                                    "10,000 test images, 19,968 of Pathfinder's 20,000")
_CLASSES = {"listops": 10, "text": 2, "retrieval": 2, "image": 10}


def protocol_facts(task: str) -> dict[str, Fact]:
    pipeline, script = input_pipeline(task), train_script(task)
    pixel = task in PIXEL_TASKS
    facts = {
        "protocol.tested_checkpoint": Fact("last", script, _TESTED.get(task, "test() runs on the final parameters "
                                                                             "right after the training loop")),
        "protocol.evaluated_examples": Fact(*_eval(task, pipeline)),
        "data.num_classes": Fact(_CLASSES.get(task, 2), script if not pixel else pipeline),
        "data.splits": Fact(*_split(task, pipeline)),
    }
    if task == "listops":
        facts.update({
            "data.vocab_size": Fact(17, pipeline, "TokenTextEncoder over the 15 tokens seen in the first ~1,000 "
                                                  "validation rows: ids 1..15, OOV 16, pad 0"),
            "data.vocab_order": Fact("set order", pipeline, "token ids follow Python set iteration order, which "
                                                            "changes between processes (LRA issues #15, #60)"),
            "data.tokenisation": Fact("[MAX 2 [MIN 3 4 X X", pipeline,
                                      f"{LISTOPS_PROBE!r}: ']' becomes 'X', parentheses are deleted, whitespace "
                                      "split; operators like '[MAX' stay one token"),
        })
    elif task in ("text", "retrieval"):
        facts.update({
            "data.vocab_size": Fact(257, pipeline, "ByteTextEncoder: byte + 1, pad 0"),
            "data.tokenisation": Fact("196 170 34", pipeline, f"{BYTES_PROBE!r} as UTF-8 bytes + 1 "
                                                              "(tfds ByteTextEncoder)"),
        })
        if task == "retrieval":
            facts["data.first_bytes"] = Fact(10000, pipeline, "each text is cut to its first 10,000 bytes, then to "
                                                              "max_length")
    else:
        facts.update({
            "data.vocab_size": Fact(256, pipeline, "pixel intensities 0..255 are the tokens"),
            "data.pixel_offset": Fact(0, pipeline, "raw intensities: a black pixel (0) equals the pad id and the "
                                                   "encoders' `inputs > 0` mask drops it from attention"),
        })
        if task != "image":
            facts["data.difficulty"] = Fact(
                "hard", f"{ROOT}image/task_registry.py",
                "pathfinder32_hard and pathfinder128_hard (maintainers, LRA issue #11)" if task in ("pathfinder",
                                                                                                    "pathx")
                else "LRA names no difficulty for this resolution; hard as for 32 and 128 (LRA issue #11)")
    return facts


def _eval(task: str, pipeline: str) -> tuple[str, str, str]:
    value, note = _EVAL.get(task, _PIXEL_EVAL)
    return value, pipeline, note


def _split(task: str, pipeline: str) -> tuple[str, str, str]:
    value, note = _SPLITS.get(task, _PATHFINDER_SPLIT)
    return value, pipeline, note
