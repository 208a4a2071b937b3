"""Helpers shared by several test files (fixtures live in conftest.py; these are imported by name)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from lra.config import ModelConfig
from lra.data import listops, pathfinder

REPO = Path(__file__).resolve().parents[1]

# The fast training config of the `fast_config` and `fast_overrides` fixtures: a run of seconds on listops.
FAST = [
    "model.num_layers=1", "model.emb_dim=16", "model.qkv_dim=16", "model.mlp_dim=32", "model.num_heads=2",
    "train.batch_size=8", "train.steps=12", "train.eval_every=4", "train.checkpoint_every=3",
    "train.warmup_steps=4", "train.threads=1", "data.max_length=40",
]


# ------------------------------------------------------------------ the command line

def one_line_error(capsys, *fragments: str) -> str:
    """stderr holds exactly one `lra: error:` line, with no traceback, naming every fragment."""
    err = capsys.readouterr().err
    assert err.startswith("lra: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def set_args(items: Sequence[str]) -> list[str]:
    """Each key=value item as `--set key=value`."""
    return [arg for item in items for arg in ("--set", item)]


def train_argv(task: str, out: Path, *sets: str, data_dir: Path | None = None) -> list[str]:
    """Arguments of `lra train --task TASK --preset tiny` (for lra.cli.main or `python -m lra`)."""
    where = [] if data_dir is None else ["--data-dir", str(data_dir)]
    return ["train", "--task", task, "--preset", "tiny", *where, "--out", str(out), "--quiet", *set_args(sets)]


def run_lra(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """`python -m lra ARGS` in a child process, from the repository root; text output captured."""
    return subprocess.run([sys.executable, "-m", "lra", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def run_python(code: str, *args: str, timeout: float | None = 120, check: bool = False
               ) -> subprocess.CompletedProcess:
    """`python -c CODE ARGS` (CODE dedented) in a child process, from the repository root; text output captured."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=check)


# ------------------------------------------------------------------ small data

def write_small_listops(out: Path, n_train: int, n_val: int, n_test: int, seed: int = 0) -> Path:
    """Generated ListOps splits of short sequences (4 to 40 tokens, depth 3, at most 4 arguments)."""
    listops.write_listops(out, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, min_length=4,
                          max_length=40, max_depth=3, max_args=4)
    return Path(out)


def write_listops_tsv(folder: Path, rows: str, **splits: str) -> Path:
    """basic_{train,val,test}.tsv under folder, each the header and `rows` unless given by split name."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        (folder / f"basic_{split}.tsv").write_text("Source\tTarget\n" + splits.get(split, rows))
    return folder


def copy_pathfinder(src: Path, dst: Path) -> Path:
    """A copy of a generated pathfinder32 set (without its cache); returns the copy's difficulty folder."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".cache"))
    return dst / pathfinder.folder_for(32, "hard")


# ------------------------------------------------------------------ training

def stop_at(step: int, error: type[BaseException] = KeyboardInterrupt) -> Callable[[int], None]:
    """An on_step callback for lra.trainer.train that raises `error` when the run reaches `step`."""

    def on_step(current: int) -> None:
        if current == step:
            raise error

    return on_step


# ------------------------------------------------------------------ models

def small_model_config(**overrides) -> ModelConfig:
    """A ModelConfig of a few thousand parameters without dropout; overrides replace its fields."""
    base = dict(num_layers=2, emb_dim=16, qkv_dim=16, mlp_dim=24, num_heads=2, dropout=0.0, attention_dropout=0.0)
    return ModelConfig(**{**base, **overrides})


# ------------------------------------------------------------------ fast paths against their references

def assert_same_gradients(fast: Callable[..., torch.Tensor], ref: Callable[..., torch.Tensor],
                          inputs: Sequence[torch.Tensor], params: Sequence[torch.Tensor] = (),
                          rows: torch.Tensor | None = None, seed: int = 0, rtol: float = 1e-9) -> None:
    """The same random output gradient pushed back through `fast(*inputs)` and `ref(*inputs)` gives the same
    gradients of the inputs and of `params` (tensors both functions use), to rtol of each gradient's largest entry
    (of 1.0 where the reference gradient is zero).

    rows: a bool mask broadcastable to the output; the output gradient is zero outside it (rows where the two
    functions are not meant to agree, such as padded queries, then take no part). Call it in float64.
    """
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    grads = []
    for fn in (fast, ref):
        for t in (*leaves, *params):
            t.grad = None
        out = fn(*leaves)
        grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
        if rows is not None:
            grad_out = grad_out * rows.expand_as(out)
        # backward(), not autograd.grad: a custom backward (lra.reversible) accumulates parameter gradients
        # into .grad itself, as the training step reads them
        out.backward(grad_out)
        grads.append([None if t.grad is None else t.grad.clone() for t in (*leaves, *params)])
    for t in params:
        t.grad = None
    names = [f"input {i}" for i in range(len(leaves))] + [f"parameter {i}" for i in range(len(params))]
    scales = []
    for name, got, want in zip(names, *grads):
        assert (got is None) == (want is None), f"{name}: a gradient on one path only"
        if want is None:
            continue
        scales.append(want.abs().max().item())  # a zero gradient (v's alone, say) is compared to 1.0 instead
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * (scales[-1] or 1.0),
                                   msg=lambda m, n=name: f"{n}: {m}")
    assert max(scales, default=0.0) > 0, "every reference gradient is zero: the comparison proves nothing"
