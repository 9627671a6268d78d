"""In-batch negatives across processes: the one collective the loss needs.

Under ``torchrun`` / ``accelerate launch`` each process holds a slice of the global
batch.  :func:`gather_with_grad` concatenates every process's passage vectors so that each
query is scored against every passage of the global batch, and its backward sums the
gradients that all processes computed for this process's slice.  DDP (owned by the
Trainer) then averages the parameter gradients; with equal slices that is the update of one
process on the whole batch.  (``torch.distributed.nn.functional.all_gather`` does the same
but is deprecated; Tevatron gathers without gradient and rescales the loss instead.)
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """Processes in the default group (1 when torch.distributed is not initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(``tensor`` concatenated over processes in rank order, differentiable; this process's row offset)."""
    if world_size() == 1:
        return tensor, 0
    return _GatherWithGrad.apply(tensor.contiguous()), dist.get_rank() * tensor.size(0)


def gather_without_grad(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` concatenated over processes in rank order, without gradient (ids, labels)."""
    if world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


def sum_over_processes(value: torch.Tensor) -> torch.Tensor:
    """Sum over processes, without gradient (token counts)."""
    if world_size() == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor):
        ctx.rank, ctx.rows = dist.get_rank(), tensor.size(0)
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]
