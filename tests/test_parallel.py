"""Model parallelism under torchrun (lra/distributed.py): tensor parallelism and FSDP on 2 CPU processes (gloo)
follow the single-process run, checkpoints hold full tensors, and an interrupted sharded run resumes."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from lra.distributed import tensor_parallel_plan
from lra.errors import LraError
from lra.trainer import build_for, evaluate_run, train
from tests.helpers import REPO, set_args

# Two layers, so that each block is split; no dropout, so that sharded and whole runs draw nothing differently.
EXACT = ["model.num_layers=2", "model.dropout=0", "model.attention_dropout=0", "train.steps=8", "train.eval_every=2",
         "train.grad_clip=1.0"]
PORTS = {"tensor": 29541, "fsdp": 29542}


def torchrun(script_args: list[str], port: int, timeout: float = 300) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
            *script_args]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def curve(run, key: str) -> list[float]:
    return [json.loads(line)[key] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("parallel", ["tensor", "fsdp"])
def test_two_processes_follow_one(parallel, fast_config, fast_overrides, tmp_path):
    extra = [*EXACT, *(["train.grad_accum=2"] if parallel == "fsdp" else [])]
    one = tmp_path / "one"
    train(fast_config(*extra), one, progress=False)
    two = tmp_path / "two"
    proc = torchrun(["-m", "lra", "train", "--task", "listops", "--preset", "tiny", "--out", str(two), "--quiet",
                     *set_args(fast_overrides(*extra, f"train.parallel={parallel}"))], PORTS[parallel])
    assert proc.returncode == 0, proc.stderr[-3000:]

    assert len(curve(one, "train_loss")) == 4
    torch.testing.assert_close(torch.tensor(curve(two, "train_loss")), torch.tensor(curve(one, "train_loss")),
                               atol=1e-5, rtol=1e-5)
    assert curve(two, "val_acc") == curve(one, "val_acc")
    results = json.loads((two / "results.json").read_text())
    assert results["processes"] == 2 and results["parallel"] == parallel
    assert results["parameters"] == json.loads((one / "results.json").read_text())["parameters"]
    # The checkpoint holds whole tensors, equal to the single process's, so one process evaluates it.
    a = torch.load(one / "last.pt", weights_only=False)["model"]
    b = torch.load(two / "last.pt", weights_only=False)["model"]
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], atol=1e-5, rtol=1e-4)
    assert evaluate_run(two)["accuracy"] == results["test_acc_last"]


INTERRUPTED = textwrap.dedent("""
    import sys
    from lra.presets import resolve_config
    from lra.trainer import train
    config = resolve_config("listops", "transformer", "tiny", sys.argv[2:])
    def stop(step):
        if step == 7:  # after the checkpoint of step 6, in the middle of the next interval
            raise SystemExit(3)
    train(config, sys.argv[1], progress=False, on_step=stop)
""")


def test_interrupted_tensor_parallel_run_resumes_to_the_same_weights(fast_overrides, tmp_path):
    sets = fast_overrides(*EXACT, "train.parallel=tensor", "train.checkpoint_every=3")
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = torchrun(["-m", "lra", "train", "--task", "listops", "--preset", "tiny", "--out", str(whole), "--quiet",
                     *set_args(sets)], 29543)
    assert done.returncode == 0, done.stderr[-3000:]
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    stopped = torchrun([str(script), str(broken), *sets], 29544)
    assert stopped.returncode != 0
    assert torch.load(broken / "last.pt", weights_only=False)["step"] == 6
    assert not (broken / "results.json").exists()
    resumed = torchrun(["-m", "lra", "train", "--resume", "--out", str(broken), "--quiet"], 29545)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = torch.load(whole / "last.pt", weights_only=False)
    b = torch.load(broken / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 8
    for name in a["model"]:
        torch.testing.assert_close(b["model"][name], a["model"][name], atol=1e-6, rtol=1e-6)
    assert curve(broken, "val_acc") == curve(whole, "val_acc")
    assert [json.loads(x)["step"] for x in (broken / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6, 8]


def test_tensor_parallel_refuses_a_core_with_its_own_parameters_and_keeps_other_mixers_whole(fast_config):
    with pytest.raises(LraError, match="linformer|Linformer"):
        tensor_parallel_plan(build_for(fast_config(model="linformer")), 2)
    # A mixer that is not multi-head attention stays replicated; only the MLP is split.
    assert sorted(tensor_parallel_plan(build_for(fast_config(model="s4d")), 2)) == [
        "encoder.blocks.0.mlp.0", "encoder.blocks.0.mlp.3"]


def test_tensor_parallel_plan_splits_heads_and_mlp(fast_config):
    plan = tensor_parallel_plan(build_for(fast_config("model.num_layers=2")), 2)
    styles = {name: type(style).__name__ for name, style in plan.items()}
    for i in range(2):
        block = f"encoder.blocks.{i}"
        assert styles[f"{block}.mixer.q_proj"] == styles[f"{block}.mixer.k_proj"] == "ColwiseParallel"
        assert styles[f"{block}.mixer.v_proj"] == styles[f"{block}.mlp.0"] == "ColwiseParallel"
        assert styles[f"{block}.mixer.out_proj"] == styles[f"{block}.mlp.3"] == "RowwiseParallel"
    assert len(plan) == 12
    with pytest.raises(LraError, match="num_heads=2 must divide among 4"):
        tensor_parallel_plan(build_for(fast_config()), 4)
    with pytest.raises(LraError, match="mixture-of-experts"):
        tensor_parallel_plan(build_for(fast_config("model.moe_experts=2")), 2)


@pytest.mark.parametrize("sets, message", [
    (["train.parallel=tensor", "train.precision=fp16"], "use train.precision=bf16"),
    (["train.parallel=fsdp", "model.moe_experts=2"], "model.moe_experts cannot be combined with train.parallel=fsdp"),
    (["train.parallel=fsdp", "model.reversible=true"], "model.reversible cannot be combined with train.parallel=fsdp"),
])
def test_combinations_that_cannot_work_are_refused_before_a_run_starts(sets, message, fast_config, tmp_path):
    with pytest.raises(LraError, match=message):
        train(fast_config(*sets), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


SPLIT_CLIPPING = textwrap.dedent("""
    import copy, os
    import torch, torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import parallelize_module
    from lra.distributed import clip_grad_norm, tensor_parallel_plan
    from lra.presets import resolve_config
    from lra.trainer import build_for
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29547", RANK="0", WORLD_SIZE="1")
    dist.init_process_group("gloo")
    sets = ["model.num_layers=1", "model.emb_dim=16", "model.qkv_dim=16", "model.mlp_dim=32", "model.num_heads=2",
            "data.max_length=40", "model.dropout=0", "model.attention_dropout=0"]
    torch.manual_seed(0)
    whole = build_for(resolve_config("listops", "transformer", "tiny", sets))
    split = copy.deepcopy(whole)
    parallelize_module(split, init_device_mesh("cpu", (1,)), tensor_parallel_plan(split, 1))
    tokens = torch.randint(1, 10, (4, 20))
    for model in (whole, split):
        model(tokens).pow(2).sum().backward()
    torch.nn.utils.clip_grad_norm_(whole.parameters(), 0.5)
    clip_grad_norm(split, 0.5)
    for (name, a), b in zip(whole.named_parameters(), split.parameters()):
        b = b.grad.full_tensor() if hasattr(b.grad, "full_tensor") else b.grad
        torch.testing.assert_close(b, a.grad, rtol=1e-5, atol=1e-7, msg=name)
    total = torch.cat([p.grad.flatten() for p in whole.parameters()]).norm()
    assert abs(float(total) - 0.5) < 1e-4, float(total)
    dist.destroy_process_group()
    print("ok")
""")


def test_clipping_over_split_and_replicated_gradients_equals_torchs(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SPLIT_CLIPPING], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
