"""Spike functions with surrogate gradients, the spike-gated select, and the spikes of a run as events.

The forward pass of everything here is exact: a spike is the boolean Brian2
computed, and a spike-gated write is ``where(spike, new, old)``, bit for bit.
Only the backward pass is a training device: the Heaviside step gets a
surrogate derivative, and a spike-gated write passes ``new - old`` to the spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ...registry import Registry

__all__ = ["Surrogate", "SURROGATES", "spike", "spike_events", "spike_where", "unbroadcast"]


def _exponential(x, alpha, c):
    # SLAYER-style kernel of the SE-adLIF paper: (c*alpha/2)*exp(-alpha*|x|)
    return 0.5 * c * alpha * torch.exp(-alpha * torch.abs(x))


def _boxcar(x, alpha, c):
    # 1 on |x| <= 1/(2*alpha) (alpha = 1: the boxcar of Bittar & Garner, width 1)
    return c * (torch.abs(x) <= 0.5 / alpha).to(x.dtype)


def _sigmoid(x, alpha, c):
    sig = torch.sigmoid(alpha * x)
    return c * alpha * sig * (1 - sig)


def _arctan(x, alpha, c):
    return c * alpha / (math.pi * (1 + (alpha * x) ** 2))


#: Surrogate derivatives by name: ``f(x, alpha, c)`` with x = lhs - rhs of the threshold.
#: surrogate kind -> its derivative ``(x, alpha, c)``
SURROGATES = Registry("surrogate", {"exponential": _exponential, "boxcar": _boxcar, "sigmoid": _sigmoid, "arctan": _arctan}, error=ValueError)


@dataclass(frozen=True)
class Surrogate:
    """A surrogate derivative of the Heaviside spike function (a training knob).

    Parameters
    ----------
    name : {"exponential", "boxcar", "sigmoid", "arctan"}
    alpha : float
        Sharpness (1/width) in units of the thresholded quantity.
    c : float
        Scale of the derivative.
    """

    name: str = "exponential"
    alpha: float = 5.0
    c: float = 0.4

    def __post_init__(self):
        SURROGATES.check(self.name, "surrogate kind")
        if not self.alpha > 0 or not self.c >= 0:
            raise ValueError(f"Surrogate needs alpha > 0 and c >= 0, got alpha={self.alpha}, c={self.c}.")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return SURROGATES[self.name](x, self.alpha, self.c)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fired, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return fired.to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None, None


def spike(x: torch.Tensor, fired: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """Spikes as floats: forward ``fired`` (exact), backward ``surrogate'(x)``."""
    if x.shape != fired.shape:
        x = torch.broadcast_to(x, fired.shape)
    return _Spike.apply(x, fired, surrogate)


def unbroadcast(grad: torch.Tensor, shape) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for k, size in enumerate(shape):
        if size == 1 and grad.shape[k] != 1:
            grad = grad.sum(k, keepdim=True)
    return grad


class _SpikeWhere(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, new, old, mask):
        ctx.save_for_backward(mask, new, old)
        ctx.shapes = (s.shape, new.shape, old.shape)
        return torch.where(mask, new, old)

    @staticmethod
    def backward(ctx, grad):
        mask, new, old = ctx.saved_tensors
        s_shape, new_shape, old_shape = ctx.shapes
        zero = torch.zeros((), dtype=grad.dtype, device=grad.device)
        g_new = unbroadcast(torch.where(mask, grad, zero), new_shape) if ctx.needs_input_grad[1] else None
        g_old = unbroadcast(torch.where(mask, zero, grad), old_shape) if ctx.needs_input_grad[2] else None
        g_s = unbroadcast(grad * (new - old), s_shape) if ctx.needs_input_grad[0] else None
        return g_s, g_new, g_old, None


def spike_where(s: torch.Tensor, new, old, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``where(s > 0, new, old)`` exactly; the gradient reaches ``s`` as ``new - old``.

    ``mask``, if given, is ``s > 0`` already computed by the caller.
    """
    ref = s
    new = new if isinstance(new, torch.Tensor) else torch.tensor(new, dtype=ref.dtype, device=ref.device)
    old = old if isinstance(old, torch.Tensor) else torch.tensor(old, dtype=ref.dtype, device=ref.device)
    if mask is None:
        mask = s > 0
    if not (s.requires_grad and torch.is_grad_enabled()):
        return torch.where(mask, new, old)
    return _SpikeWhere.apply(s, new, old, mask)


def spike_events(per_step: list, size: int, chunk: int = 1024) -> torch.Tensor:
    """The spikes of a run as events: ``(n_spikes, 3)`` int64 rows ``(step,
    sample, neuron)``, what ``torch.nonzero(spikes > 0)`` gives of the dense
    ``(n_steps, batch, size)`` tensor, in the same order, without making it.

    Each entry of ``per_step`` is one step's spikes: a ``(batch, size)``
    tensor, or the numpy flat positions of its spikes (`arrivals.found_positions`).
    Runs of tensors are stacked ``chunk`` steps at a time.

    >>> import numpy as np, torch
    >>> spike_events([torch.tensor([[0., 1., 1.]]), np.array([0, 2]), np.array([], dtype=np.int64)], size=3).tolist()
    [[0, 0, 1], [0, 0, 2], [1, 0, 0], [1, 0, 2]]
    """
    parts, begin, n = [], 0, len(per_step)
    while begin < n:
        end = begin + 1
        if isinstance(per_step[begin], np.ndarray):
            while end < n and isinstance(per_step[end], np.ndarray):
                end += 1
            flat = per_step[begin:end]
            counts = np.fromiter(map(len, flat), np.int64, end - begin)
            sample, neuron = np.divmod(np.concatenate(flat).astype(np.int64, copy=False), size)
            steps = np.repeat(np.arange(begin, end, dtype=np.int64), counts)
            parts.append(torch.from_numpy(np.stack([steps, sample, neuron], 1)))
        else:
            while end < n and end - begin < chunk and not isinstance(per_step[end], np.ndarray):
                end += 1
            found = torch.nonzero(torch.stack(per_step[begin:end]) > 0)
            found[:, 0] += begin
            parts.append(found)
        begin = end
    return torch.cat(parts) if parts else torch.zeros((0, 3), dtype=torch.int64)
