"""The GPU campaign: everything a short loan of one GPU should measure, in priority order, within a budget.

    python benchmarks/gpu_campaign.py --out gpu-campaign                 # on the GPU machine (about 9 minutes)
    python benchmarks/gpu_campaign.py --out /tmp/campaign --dry-run      # tiny sizes on the CPU (tested)

Phases, each under OUT/ and each cut short, never the whole campaign, when its time is up:
1. smoke: every mechanism's attention layer forward and backward in bf16 at 4K tokens, each in its own
   process (`lra bench --mode attention`): a crash here is a CUDA bug that no CPU test can catch;
2. bench: `lra bench` whole training steps at the paper's batch 32 on 1K-4K tokens (Table 2), then 8K and
   16K for the mechanisms that still fit, with FLOP/s against the measured matmul peak;
3. listops: the paper ListOps Transformer trained to its 5,000 steps on data of the original size,
   generated on the CPU cores while phases 1-2 use the GPU;
4. image: the paper image Transformer as far as the time left allows (its full run is 35,000 steps).
OUT/campaign.json records each phase's command, status, exit code and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

LRA = [sys.executable, "-m", "lra"]


class Campaign:
    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.deadline, self.started = out, time.monotonic() + budget_s, time.monotonic()
        self.phases: list[dict] = []
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, cmd: list[str], share: float, floor_s: float = 20.0) -> bool:
        """Run cmd with `share` of the time left (at least floor_s, never past the deadline)."""
        limit = min(max(self.left() * share, floor_s), self.left())
        record = {"phase": name, "command": " ".join(cmd), "limit_s": round(limit, 1)}
        if limit < 5:
            record["status"] = "skipped: no time left"
            self.record(record)
            return False
        started = time.monotonic()
        with open(self.out / f"{name}.log", "w") as log:
            try:
                code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=limit).returncode
                record["status"] = "ok" if code == 0 else f"exit {code}"
            except subprocess.TimeoutExpired:
                record["status"] = "cut at its time limit"
        record["seconds"] = round(time.monotonic() - started, 1)
        self.record(record)
        return record["status"] == "ok"

    def record(self, record: dict) -> None:
        self.phases.append(record)
        summary = {"elapsed_s": round(time.monotonic() - self.started, 1), "phases": self.phases}
        (self.out / "campaign.json").write_text(json.dumps(summary, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-campaign")
    parser.add_argument("--budget-s", type=float, default=540.0, help="the whole campaign's seconds (default 540)")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: checks the script end to end")
    parser.add_argument("--models", default="all", help="mechanisms for phases 1-2 (default all)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    dry = args.dry_run
    device, dtype = ("cpu", "float32") if dry else ("cuda", "bfloat16")
    campaign = Campaign(out, args.budget_s)

    # ListOps data on the CPU cores while the GPU benches (96,000 rows take about 2 minutes on one core).
    listops_dir = out / "data" / "listops"
    sizes = (["--train", "64", "--val", "16", "--test", "16", "--min-length", "8", "--max-length", "60",
              "--max-depth", "3", "--max-args", "4"] if dry else [])
    generator = subprocess.Popen([*LRA, "data", "generate", "listops", "--out", str(listops_dir), *sizes, "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=open(out / "listops-data.log", "w"))

    common = ["--device", device, "--dtype", dtype, "--models", args.models, "--quiet"]
    campaign.run("smoke", [*LRA, "bench", "--mode", "attention", "--lengths", "64" if dry else "4096",
                           "--batch-size", "2" if dry else "8", "--repeats", "1" if dry else "3",
                           "--timeout", "60", "--out", str(out / "smoke"), *common], share=0.25)
    campaign.run("bench", [*LRA, "bench", "--task", "text", "--lengths", "64" if dry else "1024,2048,3072,4096",
                           "--batch-size", "2" if dry else "32", "--repeats", "1" if dry else "5",
                           "--timeout", "60", "--out", str(out / "bench"), *common], share=0.5)
    if not dry:
        campaign.run("bench-long", [*LRA, "bench", "--task", "text", "--lengths", "8192,16384", "--batch-size", "32",
                                    "--repeats", "3", "--timeout", "45", "--out", str(out / "bench-long"), *common],
                     share=0.3)

    try:
        generator.wait(timeout=max(campaign.left() * 0.2, 1.0))
    except subprocess.TimeoutExpired:
        generator.kill()
    listops_ready = generator.returncode == 0
    tiny = (["--preset", "tiny", "--set", "train.steps=6", "--set", "train.eval_every=3",
             "--set", "train.checkpoint_every=3", "--set", "data.max_length=60"] if dry else ["--preset", "paper"])
    train_common = ["--set", f"train.device={device}", "--quiet"]
    if not dry:
        train_common += ["--set", "train.precision=bf16"]
    if listops_ready:
        campaign.run("listops", [*LRA, "train", "--task", "listops", "--model", "transformer", *tiny,
                                 "--data-dir", str(listops_dir), "--out", str(out / "runs" / "listops-transformer"),
                                 *train_common], share=0.8)
    else:
        campaign.record({"phase": "listops", "status": "skipped: data generation did not finish (listops-data.log)"})

    # CIFAR-10 is not on the GPU machine unless brought along: the image phase runs where data/image exists.
    image_dir = Path(os.environ.get("LRA_DATA_DIR", "data")) / "image"
    if dry:
        from lra.data.fixtures import write_cifar

        image_dir = out / "data" / "image"
        archive = write_cifar(out / "data" / "cifar-src")
        subprocess.run([*LRA, "data", "prepare", "image", "--source", str(archive), "--data-dir", str(image_dir)],
                       check=True, stdout=subprocess.DEVNULL)
    if image_dir.is_dir():
        image = (["--preset", "tiny", "--set", "train.steps=4", "--set", "train.eval_every=2",
                  "--set", "train.checkpoint_every=2", "--set", "data.max_examples=0", "--set",
                  "train.batch_size=4"] if dry else ["--preset", "paper"])
        campaign.run("image", [*LRA, "train", "--task", "image", "--model", "transformer", *image,
                               "--data-dir", str(image_dir), "--out", str(out / "runs" / "image-transformer"),
                               *train_common], share=1.0)
    else:
        campaign.record({"phase": "image", "status": f"skipped: no prepared CIFAR-10 in {image_dir}"})
    print(json.dumps(json.loads((out / "campaign.json").read_text()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
