"""Multi-process training with torch.distributed (gloo on CPU, NCCL on GPU).

Each process takes an equal slice of every global batch.  Passage vectors are
gathered across processes with gradients (``torch.distributed.nn``), so every
query is scored against every passage of the global batch, and gradients are
averaged after backward.  With equal slices that is the same update as one
process on the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def gather(self, tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(tensor concatenated over processes, differentiable; this process's row offset)."""
        if not self.enabled:
            return tensor, 0
        return _GatherWithGrad.apply(tensor.contiguous()), self.rank * tensor.size(0)

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over processes, no gradient (counts, logging)."""
        if not self.enabled:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)
        return value

    def average_gradients(self, model: torch.nn.Module) -> None:
        if not self.enabled:
            return
        for param in model.parameters():
            if not param.requires_grad:
                continue
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            dist.all_reduce(param.grad)
            param.grad.div_(self.world_size)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every process's gradient for our slice.

    (``torch.distributed.nn.functional.all_gather`` does this but is deprecated.)
    """

    @staticmethod
    def forward(ctx, tensor):
        world = dist.get_world_size()
        ctx.rank, ctx.rows = dist.get_rank(), tensor.size(0)
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def init_distributed(device: torch.device | None = None) -> DistributedContext:
    """Join the process group that ``torchrun`` describes in the environment (or none)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistributedContext(rank=rank, world_size=world, local_rank=local_rank)


def shutdown(ctx: DistributedContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
