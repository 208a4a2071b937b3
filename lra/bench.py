"""Efficiency benchmark: the paper's Table 2 (training steps/s and peak memory against length), truthfully.

Each (model, length) is measured in its own child process (`python -m lra.bench --worker SPEC`), so a
crash or out-of-memory is recorded and the sweep goes on, and CPU peak memory is that process's own.
This module measures and writes the raw results (results.json); lra.report renders them.

- Time: full training steps (forward, backward, AdamW step) after warm-up, synchronised on CUDA; the
  median over repeats, with min and max.
- Memory: CUDA `max_memory_allocated`; CPU the peak resident set (VmHWM) minus the idle process after
  importing torch, so both include parameters, gradients, optimizer state and activations.
- FLOPs: counted per step by torch.utils.flop_counter (matmuls, SDPA, convolutions; elementwise work is
  not counted), and divided by a matmul peak measured on the same device in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lra import runtime
from lra.safe_io import atomic_write_json


def baselines() -> list[str]:
    """The registry's speed baselines: naive attention (as in the paper), then SDPA."""
    from lra.attention import speed_baselines

    return speed_baselines()


@dataclass
class Spec:
    model: str
    length: int
    task: str = "text"
    batch_size: int = 32
    device: str = "cpu"
    dtype: str = "float32"
    mode: str = "train"  # train: whole model, training steps | attention: one attention layer
    repeats: int = 3
    warmup: int = 1
    threads: int = 0
    heads: int = 4  # attention mode only
    head_dim: int = 64  # attention mode only
    overrides: list = field(default_factory=list)  # train mode: `section.key=value` on the paper preset
    factory: str = ""  # attention mode: "file.py:function" building another package's layer instead


@dataclass
class Result:
    spec: dict
    status: str = "ok"  # ok | oom | error | timeout
    error: str = ""
    times_s: dict = field(default_factory=dict)  # phase -> {"median", "min", "max"}
    peak_memory_mb: float | None = None
    tokens_per_s: float | None = None
    flops_per_step: float | None = None
    parameters: int | None = None


def _rss_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, spec: Spec, device) -> dict:
    for _ in range(spec.warmup):
        fn()
    _sync(device)
    samples = []
    for _ in range(spec.repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        samples.append(time.perf_counter() - start)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def _count_flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def measure(spec: Spec) -> Result:
    """Runs inside the child process."""
    import torch

    from lra.attention import build_mixer
    from lra.data.tasks import get_task
    from lra.presets import resolve_config
    from lra.trainer import build_for

    if spec.threads > 0:
        torch.set_num_threads(spec.threads)
    device = torch.device(spec.device)
    baseline_kb = _rss_kb("VmRSS")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    result = Result(spec=asdict(spec))

    if spec.mode == "train":
        task = get_task(spec.task)
        config = resolve_config(spec.task, spec.model, "paper", [f"data.max_length={spec.length}", *spec.overrides])
        model = build_for(config).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
        shape = (spec.batch_size, 2, spec.length) if task.two_tower else (spec.batch_size, spec.length)
        tokens = torch.randint(1, task.vocab_for(config.data), shape, device=device)
        labels = torch.randint(0, task.num_classes, (spec.batch_size,), device=device)

        from lra.act import ponder_cost
        from lra.moe import auxiliary_loss

        model.train()

        def step() -> None:
            with runtime.autocast(device, spec.dtype):
                logits = model(tokens)
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
                loss = loss + config.model.moe_loss_weight * auxiliary_loss(model)
                loss = loss + config.model.ponder_weight * ponder_cost(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        result.parameters = sum(p.numel() for p in model.parameters())
        result.times_s["step"] = _timed(step, spec, device)
        result.peak_memory_mb = _peak_mb(device, baseline_kb)
        result.flops_per_step = _count_flops(step)  # after the peak is read: counting may change kernels
        tokens_per_step = spec.batch_size * spec.length * (2 if task.two_tower else 1)
        result.tokens_per_s = tokens_per_step / result.times_s["step"]["median"]
    else:
        dim = spec.heads * spec.head_dim
        if spec.factory:
            layer = _load_factory(spec.factory)(dim=dim, heads=spec.heads, head_dim=spec.head_dim,
                                                length=spec.length).to(device)
        else:
            layer = build_mixer(spec.model, dim=dim, qkv_dim=dim, num_heads=spec.heads, max_len=spec.length).to(device)
        x = torch.randn(spec.batch_size, spec.length, dim, device=device, requires_grad=True)
        holder = {}

        def forward() -> None:
            with runtime.autocast(device, spec.dtype):
                holder["out"] = layer(x)

        def backward() -> None:
            holder["out"].float().sum().backward()

        def both() -> None:
            forward()
            backward()

        result.parameters = sum(p.numel() for p in layer.parameters())
        result.times_s["forward"] = _timed(forward, spec, device)
        # Backward needs a fresh graph each time: time forward+backward and subtract the forward median.
        result.times_s["both"] = _timed(both, spec, device)
        fwd = result.times_s["forward"]["median"]
        result.times_s["backward"] = {k: max(v - fwd, 0.0) for k, v in result.times_s["both"].items()}
        result.tokens_per_s = spec.batch_size * spec.length / result.times_s["both"]["median"]
        result.peak_memory_mb = _peak_mb(device, baseline_kb)
        result.flops_per_step = _count_flops(both)
    return result


def _load_factory(factory: str):
    """The function named by "path/to/file.py:function" (for layers of other packages, see benchmarks/)."""
    import importlib.util

    path, _, name = factory.rpartition(":")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if module_spec is None or module_spec.loader is None or not name:
        raise ValueError(f"bench factory {factory!r}: expected path/to/file.py:function")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def _peak_mb(device, baseline_kb: int) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return (_rss_kb("VmHWM") - baseline_kb) / 1024


def matmul_peak_flops(device: str, dtype: str = "float32", size: int = 2048, repeats: int = 5) -> float:
    """Achieved FLOP/s of a large square matmul: the practical peak of this device, measured now."""
    import torch

    dev = torch.device(device)
    dt = getattr(torch, dtype)
    a, b = torch.randn(size, size, device=dev, dtype=dt), torch.randn(size, size, device=dev, dtype=dt)
    (a @ b).sum().item()
    best = float("inf")
    for _ in range(repeats):
        _sync(dev)
        start = time.perf_counter()
        a @ b
        _sync(dev)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def run_one(spec: Spec, timeout_s: float) -> Result:
    """Measure in a child process; failures become a Result with a status instead of an exception."""
    outcome = runtime.run_job("lra.bench", asdict(spec), timeout_s)
    if outcome.status == "ok":
        return Result(**outcome.result)
    return Result(spec=asdict(spec), status=outcome.status, error=outcome.reason)


def environment(device: str, dtype: str, threads: int) -> dict:
    """The sweep's environment (with its dtype and the CPU's core count), after setting `threads`."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return runtime.environment(device, dtype, cpu_count=True)


def run_sweep(
    models: list[str], lengths: list[int], *, task: str = "text", batch_size: int = 32, device: str = "cpu",
    dtype: str = "float32", mode: str = "train", repeats: int = 3, warmup: int = 1, threads: int = 0,
    timeout_s: float = 600.0, out: Path | None = None, progress: bool = True, note: str = "",
    specs: list[Spec] | None = None,
) -> dict:
    """Measure every (model, length); baselines first so ratios can be formed. Writes out/results.json if
    `out` is given (lra.report.write_bench renders it). `specs`, when given, are measured instead (their own
    models and options; the sweep's settings label them)."""
    first = baselines()
    ordered = [m for m in first if m in models] + [m for m in models if m not in first]
    if specs is None:
        specs = [Spec(model=m, length=n, task=task, batch_size=batch_size, device=device, dtype=dtype, mode=mode,
                      repeats=repeats, warmup=warmup, threads=threads) for m in ordered for n in lengths]
    env = environment(device, dtype, threads)
    env["matmul_peak_flops"] = matmul_peak_flops(device, dtype)
    results = []
    bar = runtime.progress_bar(progress, len(specs), "bench")
    started = time.perf_counter()
    for spec in specs:
        if bar is not None:
            bar.set_postfix(model=spec.model, length=spec.length)
        results.append(asdict(run_one(spec, timeout_s)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    sweep = {"environment": env, "task": task, "mode": mode, "batch_size": batch_size, "lengths": lengths,
             "repeats": repeats, "warmup": warmup, "sweep_time_s": round(time.perf_counter() - started, 1),
             "note": note, "baselines": first, "results": results}
    if out is not None:
        atomic_write_json(Path(out) / "results.json", sweep)
    return sweep


def _measure_job(job: dict) -> dict:
    """The child's work: the Result of one Spec, an error row when measuring fails."""
    try:
        return asdict(measure(Spec(**job)))
    except Exception as error:  # reported back to the parent as an error row
        traceback.print_exc()
        text = f"{type(error).__name__}: {error}"
        status = "oom" if runtime.is_allocation_failure(text) else "error"
        return asdict(Result(spec=job, status=status, error=text.splitlines()[0][:300]))


if __name__ == "__main__":
    sys.exit(runtime.serve_job(sys.argv[1:], _measure_job,
                               "python -m lra.bench --worker SPEC_JSON  (use `lra bench` instead)"))
