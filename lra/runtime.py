"""What the runners share: the environment a result was measured on, autocast, progress bars, and child
processes for one measurement or training each, with what happened to them.

`lra bench` and `lra suite` run each measurement or training in a child process so that a crash costs that
item only (`run_job` here, `serve_job` in the child). Telling out-of-memory from other failures needs
evidence, not guesses: an allocation failure names itself in the error text, and a SIGKILL counts as out of
memory only when the cgroup's `oom_kill` counter moved while the child ran (anything else may have sent it:
a user, a scheduler, a timeout).

torch is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lra.errors import LraError

# Error texts of failed allocations: PyTorch CPU and CUDA, Python's MemoryError, numpy.
ALLOCATION_FAILURES = ("out of memory", "can't allocate memory", "cannot allocate memory", "memoryerror",
                       "unable to allocate")
_MEMORY_EVENTS = (Path("/sys/fs/cgroup/memory.events"), Path("/sys/fs/cgroup/memory/memory.oom_control"))


def oom_kill_count() -> int | None:
    """The kernel's count of OOM kills in this cgroup, or None where it cannot be read."""
    for path in _MEMORY_EVENTS:
        try:
            for line in path.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return None


def is_allocation_failure(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in ALLOCATION_FAILURES)


def failure_status(returncode: int, error_text: str, oom_kills_before: int | None) -> tuple[str, str]:
    """(status, one-line reason) of a child that did not succeed: "oom", "killed" or "error"."""
    if returncode in (-signal.SIGKILL, 128 + signal.SIGKILL):
        after = oom_kill_count()
        if oom_kills_before is not None and after is not None and after > oom_kills_before:
            return "oom", "killed by the kernel's out-of-memory killer"
        return "killed", "killed by SIGKILL (no out-of-memory kill was recorded for it)"
    if returncode < 0:
        return "killed", f"killed by signal {signal.Signals(-returncode).name}"
    lines = error_text.strip().splitlines()
    reason = lines[-1][:300] if lines else f"exit code {returncode}"
    return ("oom" if is_allocation_failure(error_text) else "error"), reason


# ---------------------------------------------------------------- child processes

WORKER_FLAG = "--worker"


@dataclass
class JobOutcome:
    status: str  # "ok", or what went wrong: "timeout", "oom", "killed", "error"
    result: dict | None = None  # what the child printed, when "ok"
    reason: str = ""  # one line, when not "ok"


def run_job(module: str, job: dict, timeout_s: float | None = None) -> JobOutcome:
    """Run `python -m module --worker JOB_JSON` in a child process (its side: `serve_job`). The child's
    result is the last JSON object line of its stdout, after exit code 0; anything else is a failure."""
    cmd = [sys.executable, "-m", module, WORKER_FLAG, json.dumps(job)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    oom_kills = oom_kill_count()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return JobOutcome("timeout", reason=f"over {timeout_s:.0f} s")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode == 0 and lines:
        return JobOutcome("ok", result=json.loads(lines[-1]))
    status, reason = failure_status(proc.returncode, proc.stderr or proc.stdout, oom_kills)
    return JobOutcome(status, reason=reason)


def serve_job(argv: list[str], work: Callable[[dict], dict], usage: str) -> int | str:
    """The child's side of `run_job`, for `sys.exit(serve_job(sys.argv[1:], ...))`: work(job), printed as one
    JSON line; an LraError is one `lra: ` line on stderr and exit code 2 (anything else, a traceback)."""
    if len(argv) != 2 or argv[0] != WORKER_FLAG:
        return f"usage: {usage}"
    try:
        result = work(json.loads(argv[1]))
    except LraError as error:
        print(f"lra: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------- shared by the trainer and the benchmark

PRECISIONS = {"bf16": "bfloat16", "fp16": "float16"}  # train.precision's names of torch dtypes


def autocast(device, dtype: str):
    """torch.autocast to `dtype` (a torch dtype name, or train.precision's bf16/fp16); float32: nothing."""
    import torch

    dtype = PRECISIONS.get(dtype, dtype)
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, dtype))


def environment(device, dtype: str | None = None, cpu_count: bool = False) -> dict:
    """What a result was measured on: torch, Python, the device (with `dtype` when given), threads, CPU
    (with the core count if asked) and, on CUDA, the GPU's name."""
    import platform

    import torch

    device = torch.device(device)
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if dtype is not None:
        env["dtype"] = dtype
    env["threads"] = torch.get_num_threads()
    env["cpu"] = platform.processor() or platform.machine()
    if cpu_count:
        env["cpu_count"] = os.cpu_count()
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


def peak_memory_mb(device) -> float:
    """This process's peak memory so far: CUDA's max_memory_allocated, or on CPU the peak resident set (VmHWM:
    weights, activations, data and the Python runtime together)."""
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def progress_bar(enabled: bool, total: int, desc: str, initial: int = 0):
    """A tqdm bar on stderr, or None when not enabled."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=True)
