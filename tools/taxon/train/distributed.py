"""Running under `torchrun`: one process per GPU (or CPU process on gloo), the model sharded
with FSDP2 (`fully_shard`) per decoder layer and at the root. Without torchrun's environment
everything here is a no-op single process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    local_rank: int
    device: Any  # torch.device
    owns_group: bool = False  # this process group was started here, so it is ended here

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        return self.world > 1


def setup() -> Context:
    """Join the process group torchrun describes (nccl on GPUs, gloo on CPUs)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    owns_group = world > 1 and not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return Context(rank=rank, world=world, local_rank=local_rank, device=device, owns_group=owns_group)


def shard_model(model: Any, context: Context) -> Any:
    """FSDP2: each decoder layer its own unit (gathered only while it runs), the rest at the root."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(context.device.type, (context.world,))
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def decoder_layers(model: Any) -> list[Any]:
    """The repeated transformer blocks of a (possibly peft-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    blocks = set(getattr(base, "_no_split_modules", None) or [])
    return [module for module in base.modules() if type(module).__name__ in blocks]


def set_gradient_sync(model: Any, sync: bool, context: Context) -> None:
    """Skip the gradient reduce-scatter on all but the last row of a step (accumulation)."""
    if context.sharded:
        model.set_requires_gradient_sync(sync)


def all_sums(values: list[float], context: Context) -> list[float]:
    """Each value summed over the ranks, in one collective."""
    if not context.sharded:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    summed: list[float] = tensor.tolist()
    return summed


def all_gather_objects(value: Any, context: Context) -> list[Any]:
    if not context.sharded:
        return [value]
    import torch.distributed as dist

    gathered = [None] * context.world
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: Context) -> None:
    if context.sharded:
        import torch.distributed as dist

        dist.barrier()


def teardown(context: Context) -> None:
    if context.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
