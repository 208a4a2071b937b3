"""`lra check MODEL`: the registry battery's properties, runnable on any mixer before it gets GPU hours.

Each check builds the mixer (or a two-layer classifier around it) at small sizes on the CPU and reports pass,
fail or skip with one line of detail. The properties are those the test battery asserts for the zoo:
shapes and dtypes, padding invariance (unless declared length-dependent), zeroed padded rows, batch
composition invariance of the classifier, no causal leak (when it claims a causal mode), finite gradients,
bf16 autocast, and determinism in evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from lra.attention import build_mixer, get_spec
from lra.config import ModelConfig
from lra.errors import LraError
from lra.model import build_model

DIM, QKV, HEADS, LENGTH, BATCH = 32, 32, 4, 48, 3
VOCAB, CLASSES = 20, 5


@dataclass
class CheckResult:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str


class Skip(Exception):
    pass


def _mixer(name: str, options: dict, causal: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_mixer(name, dim=DIM, qkv_dim=QKV, num_heads=HEADS, max_len=LENGTH, causal=causal,
                       options=options).eval()


def _inputs() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, LENGTH, DIM, generator=generator)
    mask = torch.ones(BATCH, LENGTH, dtype=torch.bool)
    mask[1, LENGTH - 11 :] = False  # one sequence with trailing padding
    mask[2, LENGTH // 2 :] = False
    return x, mask


def _close(a: Tensor, b: Tensor, tol: float = 1e-4) -> float:
    """Largest difference relative to the larger magnitude; 0 when equal."""
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-6)
    return float((a - b).abs().max()) / scale


def check_shapes(name: str, options: dict) -> str:
    x, mask = _inputs()
    with torch.no_grad():
        out = _mixer(name, options)(x, mask)
    if out.shape != x.shape or out.dtype != x.dtype:
        raise AssertionError(f"output {tuple(out.shape)} {out.dtype}, expected {tuple(x.shape)} {x.dtype}")
    if not torch.isfinite(out).all():
        raise AssertionError("output has non-finite values")
    return f"(B, L, D) = {tuple(out.shape)}, {out.dtype}"


def check_padded_rows(name: str, options: dict) -> str:
    x, mask = _inputs()
    with torch.no_grad():
        out = _mixer(name, options)(x, mask)
    worst = float(out[~mask].abs().max())
    if worst > 0:
        raise AssertionError(f"padded rows are not zero (max |value| {worst:.2e})")
    return "outputs at padded positions are 0"


def check_padding_invariance(name: str, options: dict) -> str:
    if get_spec(name).length_dependent:
        raise Skip("declared length_dependent: outputs may depend on the padded length")
    x, mask = _inputs()
    mixer = _mixer(name, options)
    real = int(mask[1].sum())
    with torch.no_grad():
        padded = mixer(x[1:2], mask[1:2])[0, :real]
        alone = mixer(x[1:2, :real], mask[1:2, :real])[0]
        garbage = x[1:2].clone()
        garbage[0, real:] = 1e3  # what sits under the padding must not matter either
        under = mixer(garbage, mask[1:2])[0, :real]
    diff = max(_close(padded, alone), _close(padded, under))
    if diff > 1e-4:
        raise AssertionError(f"real positions change with trailing padding (relative difference {diff:.1e})")
    return f"relative difference {diff:.1e} with and without 11 padded positions"


def check_batch_composition(name: str, options: dict) -> str:
    torch.manual_seed(0)
    config = ModelConfig(attention=name, attention_options=dict(options), num_layers=2, emb_dim=DIM, qkv_dim=QKV,
                         mlp_dim=2 * DIM, num_heads=HEADS, dropout=0.0, attention_dropout=0.0, pooling="mean")
    model = build_model(config, vocab_size=VOCAB, num_classes=CLASSES, max_len=LENGTH).eval()
    generator = torch.Generator().manual_seed(2)
    tokens = torch.randint(1, VOCAB, (BATCH, LENGTH), generator=generator)
    tokens[0, 30:] = 0  # a shorter example among longer ones
    with torch.no_grad():
        together = model(tokens)[0]
        alone = model(tokens[:1])[0]
    diff = _close(together, alone)
    if diff > 1e-4:
        raise AssertionError(f"an example's logits depend on the rest of its batch (relative difference {diff:.1e})")
    return f"logits alone vs in a batch: relative difference {diff:.1e}"


def check_causal(name: str, options: dict) -> str:
    if not get_spec(name).causal:
        raise Skip("declares no causal mode")
    x, _ = _inputs()
    mixer = _mixer(name, options, causal=True)
    changed = x.clone()
    t = LENGTH // 2
    changed[:, t:] = torch.randn_like(changed[:, t:])
    with torch.no_grad():
        before, after = mixer(x, None)[:, :t], mixer(changed, None)[:, :t]
    diff = _close(before, after)
    if diff > 1e-5:
        raise AssertionError(f"positions before {t} see later tokens (relative difference {diff:.1e})")
    return f"changing tokens from position {t} leaves earlier outputs equal ({diff:.1e})"


def check_gradients(name: str, options: dict) -> str:
    x, mask = _inputs()
    x.requires_grad_(True)
    mixer = _mixer(name, options).train()
    mixer(x, mask).square().sum().backward()
    grads = [p.grad for p in mixer.parameters() if p.requires_grad]
    if x.grad is None or not torch.isfinite(x.grad).all():
        raise AssertionError("the input gradient is missing or non-finite")
    bad = sum(1 for g in grads if g is not None and not torch.isfinite(g).all())
    if bad:
        raise AssertionError(f"{bad} parameter gradients are non-finite")
    missing = sum(1 for g in grads if g is None)
    return f"{len(grads) - missing} parameter gradients finite" + (f", {missing} unused" if missing else "")


def check_bf16(name: str, options: dict) -> str:
    x, mask = _inputs()
    mixer = _mixer(name, options)
    with torch.no_grad():
        reference = mixer(x, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = mixer(x, mask)
    if not torch.isfinite(low).all():
        raise AssertionError("non-finite output under bf16 autocast")
    # Not a pass/fail threshold: hashing and clustering may route a token differently in bf16 (reformer,
    # routing differ by tens of percent for that reason alone), so the difference is reported, not judged.
    return f"finite; relative difference to float32 {_close(low.float(), reference):.1e}"


def check_eval_determinism(name: str, options: dict) -> str:
    x, mask = _inputs()
    mixer = _mixer(name, options)
    with torch.no_grad():
        first, second = mixer(x, mask), mixer(x, mask)
    if not torch.equal(first, second):
        raise AssertionError(f"two evaluations differ (relative difference {_close(first, second):.1e})")
    return "two forward passes in eval mode are equal"


CHECKS: dict[str, Callable[[str, dict], str]] = {
    "shapes and dtype": check_shapes,
    "padded rows zero": check_padded_rows,
    "padding invariance": check_padding_invariance,
    "batch composition": check_batch_composition,
    "causal, no leak": check_causal,
    "finite gradients": check_gradients,
    "bf16 autocast": check_bf16,
    "eval determinism": check_eval_determinism,
}


CLASSIFIER_CHECKS = (check_batch_composition,)


def run_checks(name: str, options: dict | None = None) -> list[CheckResult]:
    """Every check on mechanism `name` (registered or module.path:Class) with `options`."""
    encoder = get_spec(name).kind == "encoder"  # an unknown or broken name is one LraError line, here
    results = []
    for title, check in CHECKS.items():
        if encoder and check not in CLASSIFIER_CHECKS:
            results.append(CheckResult(title, "skip", "a whole encoder: checked through the classifier only"))
            continue
        try:
            results.append(CheckResult(title, "pass", check(name, dict(options or {}))))
        except Skip as reason:
            results.append(CheckResult(title, "skip", str(reason)))
        except LraError as error:
            results.append(CheckResult(title, "fail", str(error)))
        except Exception as error:  # the mixer's own exception is the finding
            results.append(CheckResult(title, "fail", f"{type(error).__name__}: {error}".splitlines()[0]))
    return results


def format_checks(name: str, results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"lra check {name}", ""]
    lines += [f"{r.name:<{width}}  {r.status.upper():4s}  {r.detail}" for r in results]
    failed = sum(r.status == "fail" for r in results)
    lines += ["", f"{len(results) - failed} of {len(results)} passed or skipped; {failed} failed"]
    return "\n".join(lines)
