"""The GPU campaign's dry run: every phase end to end on the CPU at tiny sizes, so the script is ready for a GPU."""

import json
import subprocess
import sys

from tests.helpers import REPO

SCRIPT = REPO / "benchmarks" / "gpu_campaign.py"


def test_dry_run_runs_every_phase(tmp_path):
    out = tmp_path / "campaign"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out), "--models", "transformer"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    phases = {p["phase"]: p for p in json.loads((out / "campaign.json").read_text())["phases"]}
    assert [name for name, p in phases.items() if p["status"] != "ok"] == [], phases
    assert set(phases) == {"smoke", "bench", "listops", "image"}
    smoke = json.loads((out / "smoke" / "results.json").read_text())
    assert {r["spec"]["model"] for r in smoke["results"] if r["status"] == "ok"} == {"reference", "transformer"}
    assert (out / "bench" / "table.md").is_file()
    for run in ("listops-transformer", "image-transformer"):
        results = json.loads((out / "runs" / run / "results.json").read_text())
        assert 0.0 <= results["test_acc_last"] <= 1.0
