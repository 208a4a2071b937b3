"""What happened to a child process: finished, out of memory, killed, or failed.

`lra bench` and `lra suite` run each measurement or training in a child process so that a crash costs that
item only. Telling out-of-memory from other failures needs evidence, not guesses: an allocation failure
names itself in the error text, and a SIGKILL counts as out of memory only when the cgroup's `oom_kill`
counter moved while the child ran (anything else may have sent it: a user, a scheduler, a timeout).
"""

from __future__ import annotations

import signal
from pathlib import Path

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
