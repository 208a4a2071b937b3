"""Data parallelism with PyTorch DDP, started by `torchrun --nproc-per-node N -m lra train ...`.

Nothing here starts processes: torchrun sets RANK, WORLD_SIZE and LOCAL_RANK, and this module joins the
process group (gloo on CPU, nccl on CUDA). train.batch_size stays the global batch, as in LRA, and each
rank takes an equal share of it, so gradients averaged by DDP equal those of one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


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


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def sum_across(world: World, values: list[float]) -> list[float]:
    if world.size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
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
