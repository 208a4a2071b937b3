"""Our `paper` presets against the released LRA code, value by value (docs/fidelity.md).

`compare(task, model)` resolves `resolve_config(task, model, "paper")` and the mechanism's options
(`make_options`), reads on our side every value that lra.presets.released_lra records for (task, model), and gives a
`Row` per value: equal, or different with its reason from `DEVIATIONS`. A difference with no entry there is
unexplained, and tests/test_fidelity.py fails on it, as on an entry that no longer matches a difference.
`python -m lra.fidelity --out docs/fidelity.md` writes the tables (lra/fidelity_report.py renders them);
`--check` says whether the file is current.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import sys
from dataclasses import dataclass
from typing import Any

import torch

from lra.attention.base import MultiHeadAttention
from lra.attention.registry import build_mixer, get_spec, make_options
from lra.config import RunConfig
from lra.data import listops, pathfinder, retrieval, text
from lra.data.tasks import SPLITS, Split, get_task
from lra.model import build_model
from lra.presets import resolve_config
from lra.presets.deviations import DEVIATIONS, OPTION, Deviation
from lra.presets.released_lra import MODELS, TASKS, released_values
from lra.presets.released_lra_protocol import BYTES_PROBE, LISTOPS_PROBE


@dataclass(frozen=True)
class Row:
    task: str
    model: str
    key: str
    lra: Any
    source: str
    lra_note: str
    ours: Any
    ours_note: str
    equal: bool
    reason: str  # why a difference is deliberate; "" if equal or unexplained

    @property
    def status(self) -> str:
        return "equal" if self.equal else "different" if self.reason else "unexplained"


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def deviation_for(task: str, model: str, key: str, lra: Any, ours: Any) -> tuple[tuple, Deviation] | None:
    """The most specific DEVIATIONS entry covering this difference, if any."""
    for t, m in ((task, model), (task, "*"), ("*", model), ("*", "*")):
        entry = DEVIATIONS.get((t, m, key))
        if entry and (entry.lra is None or same(entry.lra, lra)) and (entry.ours is None or same(entry.ours, ours)):
            return (t, m, key), entry
    return None


@functools.cache
def _head(emb: int, mlp: int, classes: int, two_tower: bool, interaction: str, pooling: str) -> str:
    model_config = dataclasses.replace(RunConfig().model, attention_options={},
                                       num_layers=1, emb_dim=emb, qkv_dim=emb, num_heads=1, mlp_dim=mlp,
                                       interaction=interaction, pooling=pooling)
    with torch.random.fork_rng():
        model = build_model(model_config, vocab_size=8, num_classes=classes, max_len=8, two_tower=two_tower)
    return "-".join(f"Dense({layer.out_features})" if isinstance(layer, torch.nn.Linear) else "ReLU"
                    for layer in model.head)


@functools.cache
def _out_projection(model: str) -> bool:
    spec = get_spec(model)
    with torch.random.fork_rng():
        mixer = build_mixer(model, dim=16, qkv_dim=16, num_heads=2, max_len=64, options=spec.test_options)
    return isinstance(mixer, MultiHeadAttention) and mixer.out_proj is not None


def _evaluated_examples() -> str:
    """How many examples lra.trainer.evaluate feeds the model, on 5 examples in batches of 2."""
    from lra.trainer import evaluate

    seen = []

    class Counter(torch.nn.Module):
        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            seen.append(tokens.shape[0])
            return torch.zeros(tokens.shape[0], 2)

    evaluate(Counter(), Split(torch.ones(5, 3, dtype=torch.long), torch.zeros(5, dtype=torch.long)), 2,
             torch.device("cpu"))
    return "all" if sum(seen) == 5 else f"{sum(seen)} of 5"


def _splits(task: str) -> tuple[str, str]:
    if task == "listops":
        return " / ".join(listops.SPLIT_FILES[s] for s in SPLITS), "lra/data/listops.py SPLIT_FILES"
    if task == "text":
        return " / ".join(text.SPLIT_DIRS[s] for s in SPLITS), "lra/data/text.py SPLIT_DIRS"
    if task == "retrieval":
        return " / ".join(retrieval.FILES[s] for s in SPLITS), "lra/data/retrieval.py FILES"
    if task == "image":  # lra/data/image.py cuts the training batches at 9/10 (no named constant)
        return "train[:90%] / train[90%:] / test", "lra/data/image.py load_split: the first 9/10 of the training set"
    order = f"shuffled (seed {pathfinder.SPLIT_SEED})" if pathfinder.SPLIT_SEED is not None else "record order"
    return " / ".join(f"{f:.0%}" for f in pathfinder.FRACTIONS) + f", {order}", "lra/data/pathfinder.py"


def our_value(key: str, task: str, model: str, config: RunConfig) -> tuple[Any, str]:
    """Our value of `key` for (task, model) under `config`, with a note where it is not read as it stands."""
    spec, data = get_task(task), config.data
    if key.startswith(OPTION):
        return getattr(make_options(model, config.model.attention_options), key[len(OPTION):]), ""
    if key == "train.cycle_steps":
        cycle = config.train.cycle_steps
        return cycle or config.train.steps, "" if cycle else "train.cycle_steps=0: one cycle of train.steps"
    if key == "model.attention_dropout":
        rate = config.model.attention_dropout
        if get_spec(model).has_attention_weights:
            return rate, ""
        return 0.0, f"the preset's {rate:g} is not applied: build_mixer passes 0 to a mechanism with no weights"
    if key == "data.vocab_size":
        return spec.vocab_for(data), f"data.pixel_offset={data.pixel_offset}" if spec.pixel else ""
    if key == "data.num_classes":
        return spec.num_classes, ""
    if key == "data.vocab_order":
        return "sorted" if list(listops.VOCAB) == sorted(listops.VOCAB) else "fixed", "lra/data/listops.py VOCAB"
    if key == "data.tokenisation" and task == "listops":
        return " ".join(listops.tokenize(LISTOPS_PROBE)), "lra/data/listops.py tokenize"
    if key == "data.tokenisation":
        tokens = text.byte_tokens([BYTES_PROBE.encode()], len(BYTES_PROBE.encode()))[0]
        return " ".join(map(str, tokens.tolist())), "lra/data/text.py byte_tokens"
    if key == "data.first_bytes":
        return retrieval.FIRST_BYTES, "lra/data/retrieval.py FIRST_BYTES"
    if key == "data.splits":
        return _splits(task)
    if key == "protocol.tested_checkpoint":
        from lra.report import run_accuracy

        return inspect.signature(run_accuracy).parameters["checkpoint"].default, "lra.report.run_accuracy (Table 1)"
    if key == "protocol.evaluated_examples":
        return _evaluated_examples(), "lra.trainer.evaluate"
    if key == "model.head":
        m = config.model
        return _head(m.emb_dim, m.mlp_dim, spec.num_classes, spec.two_tower, m.interaction, m.pooling), ""
    if key == "model.out_projection":
        return _out_projection(model), ""
    section, _, name = key.partition(".")
    if section in ("model", "data", "train") and hasattr(getattr(config, section), name):
        return getattr(getattr(config, section), name), ""
    raise KeyError(f"no reading of {key!r} on our side: teach lra.fidelity.our_value")


def compare(task: str, model: str) -> list[Row]:
    config = resolve_config(task, model, "paper")
    rows = []
    for key, fact in released_values(task, model).items():
        ours, ours_note = our_value(key, task, model, config)
        equal = same(fact.value, ours)
        found = None if equal else deviation_for(task, model, key, fact.value, ours)
        rows.append(Row(task, model, key, fact.value, fact.source, fact.note, ours, ours_note, equal,
                        found[1].reason if found else ""))
    return rows


def all_rows() -> list[Row]:
    return [row for task in TASKS for model in MODELS for row in compare(task, model)]


def stale_deviations(rows: list[Row]) -> list[tuple[str, str, str]]:
    """DEVIATIONS entries that cover no difference."""
    used = set()
    for row in rows:
        if not row.equal:
            found = deviation_for(row.task, row.model, row.key, row.lra, row.ours)
            if found:
                used.add(found[0])
    return sorted(set(DEVIATIONS) - used)


if __name__ == "__main__":  # the command is the report's: python -m lra.fidelity --out docs/fidelity.md
    from lra.fidelity_report import main

    sys.exit(main())
