"""Several processes on one run, started by `torchrun --nproc-per-node N -m lra train ...`.

Nothing here starts processes: torchrun sets RANK, WORLD_SIZE and LOCAL_RANK, and this module joins the
process group (gloo on CPU, nccl on CUDA). `train.parallel` chooses how the processes share the work:
- data (DDP): each rank a share of the global batch (train.batch_size stays global, as in LRA), gradients
  averaged, so one step equals one process's step on the whole batch;
- tensor (DTensor tensor parallelism, Megatron's split): in every block the q/k/v projections and the first
  MLP layer are split by output channel (whole heads per rank) and the output projection and second MLP layer
  by input channel, summed across ranks; every rank computes the whole batch, everything else is replicated;
- fsdp (FSDP2, `fully_shard` per block and at the root): parameters, gradients and optimizer state sharded,
  each rank a share of the batch as under data.
Under tensor and fsdp a forward pass and a state dict need every rank: `collective` says so, and checkpoints
hold full (unsharded) tensors, so a run trained so evaluates, prunes or resumes the same as any other.
Tensor-parallel ranks share one random stream (the replicated activations must get the same dropout), so the
dropout masks of a rank's slice of heads and MLP channels repeat on the other ranks' slices: with dropout the
run is statistically, not exactly, the single-process one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from lra.errors import LraError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device_type: str) -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def data_shard(world: World, parallel: str) -> World:
    """The ranks among which each batch is split: all of them, or none under tensor parallelism."""
    return World() if parallel == "tensor" else world


def collective(world: World, parallel: str) -> bool:
    """Whether forward passes and state dicts need every rank (tensor and fsdp), not rank 0 alone."""
    return world.size > 1 and parallel != "data"


def wrap(model: nn.Module, world: World, parallel: str, device: torch.device) -> nn.Module:
    """The model as the processes share it; tensor and fsdp shard `model` in place and return it."""
    if world.size == 1:
        return model
    if parallel == "data":
        # Some mechanism options leave a projection unused (e.g. synthesizer without the dot product).
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (world.size,))
    # Sharding replaces the Parameter objects; the optimizer tags (lra.trainer.parameter_groups) are kept by name.
    tags = {name: p._optim for name, p in model.named_parameters() if hasattr(p, "_optim")}
    if parallel == "tensor":
        from torch.distributed.tensor.parallel import parallelize_module

        parallelize_module(model, mesh, tensor_parallel_plan(model, world.size))
    elif parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        from lra.model import Block

        for module in model.modules():
            if isinstance(module, Block):
                fully_shard(module, mesh=mesh)
        fully_shard(model, mesh=mesh)
    else:
        raise LraError(f"train.parallel={parallel!r}: expected data, tensor or fsdp")
    for name, p in model.named_parameters():
        if name in tags:
            p._optim = tags[name]
    return model


def tensor_parallel_plan(model: nn.Module, size: int) -> dict:
    """Megatron's split of every block: column-wise q/k/v and first MLP layer, row-wise output projections."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    from lra.attention.base import MultiHeadAttention
    from lra.model import Block

    plan: dict = {}
    for name, module in model.named_modules():
        if isinstance(module, MultiHeadAttention):
            core = type(module.core).__name__
            if any(True for _ in module.core.parameters()) or any(True for _ in module.core.buffers()):
                raise LraError(f"train.parallel=tensor splits attention heads across ranks, but the {core} core "
                               "holds parameters or buffers of its own, which are not split; use "
                               "train.parallel=data or fsdp")
            if module.num_heads % size:
                raise LraError(f"train.parallel=tensor: model.num_heads={module.num_heads} must divide among "
                               f"{size} processes")
            for proj in ("q_proj", "k_proj", "v_proj"):
                if getattr(module, proj) is not None:
                    plan[f"{name}.{proj}"] = ColwiseParallel()
            plan[f"{name}.out_proj"] = RowwiseParallel()
        elif isinstance(module, Block):
            if not isinstance(module.mlp, nn.Sequential):
                raise LraError("train.parallel=tensor does not split mixture-of-experts layers "
                               "(model.moe_experts); use train.parallel=data")
            hidden = module.mlp[0].out_features
            if hidden % size:
                raise LraError(f"train.parallel=tensor: model.mlp_dim={hidden} must divide among {size} processes")
            plan[f"{name}.mlp.0"] = ColwiseParallel()
            plan[f"{name}.mlp.3"] = RowwiseParallel()
    if not plan:
        raise LraError("train.parallel=tensor found no blocks to split in this model (a whole plugged encoder?); "
                       "use train.parallel=data or fsdp")
    return plan


def _is_sharded(model: nn.Module) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def clip_grad_norm(model: nn.Module, max_norm: float) -> None:
    """Global-norm clipping; under tensor parallelism the parameters mix DTensors and replicated tensors, which
    torch's fused norm refuses. Here the squares of the sharded gradients' local pieces are summed across
    ranks in one all-reduce, and those of replicated gradients (equal on every rank) are added once."""
    if not _is_sharded(model):
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        return
    from torch.distributed.tensor import DTensor

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    sharded = torch.zeros((), dtype=torch.float64, device=grads[0].device if grads else None)
    replicated = torch.zeros_like(sharded)
    for grad in grads:
        split = isinstance(grad, DTensor) and any(p.is_shard() for p in grad.placements)
        local = grad.to_local() if isinstance(grad, DTensor) else grad
        square = local.detach().double().pow(2).sum()
        if split:
            sharded += square
        else:
            replicated += square
    dist.all_reduce(sharded)
    total = float(sharded + replicated) ** 0.5
    coefficient = min(1.0, max_norm / (total + 1e-6))  # torch's rule
    for grad in grads:
        grad.mul_(coefficient)


# Full tensors gathered to rank 0's CPU memory only (the other ranks get an empty dict): the rank that writes
# the checkpoint holds the whole model once, the others never do, so sharding keeps its memory saving.
_GATHER = dict(full_state_dict=True, cpu_offload=True)


def model_state(model: nn.Module) -> dict:
    """Full (unsharded) weights, on rank 0 only when sharded; under tensor or fsdp every rank must call this
    together."""
    if not _is_sharded(model):
        return model.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(**_GATHER))


def load_model_state(model: nn.Module, weights: dict) -> None:
    """Load full weights into a plain or a sharded model (every rank, together, when sharded)."""
    if not _is_sharded(model):
        model.load_state_dict(weights)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(model, weights, options=StateDictOptions(full_state_dict=True))


def optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer's state; of a sharded model, in full on rank 0 and keyed by parameter name (every rank
    calls)."""
    if not _is_sharded(model):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(**_GATHER))


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    if not _is_sharded(model):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def sum_across(world: World, values: list[float]) -> list[float]:
    if world.size == 1:
        return values
    # NCCL reduces CUDA tensors only.
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def gather(world: World, obj):
    """Every rank's obj, in rank order (a one-element list without DDP)."""
    if world.size == 1:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def broadcast(world: World, obj):
    """Rank 0's obj on every rank."""
    if world.size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
