"""A training step captured once as a CUDA graph and replayed.

On a GPU, a spiking network of a few hundred neurons per layer is bound by
kernel launches, not by arithmetic: each time step launches some 160 small
kernels (forward and backward), one Python call and one launch each, and the
GPU waits for the host (`benchmarks/training_step.py`). A CUDA graph records
the kernels of a whole step (forward over all time steps, loss, backward)
once; every later step launches them all with one call.

    >>> step = CudaGraphStep(loss_fn, twin.parameters(), x, labels)  # doctest: +SKIP
    >>> for x, labels in loader:  # doctest: +SKIP
    ...     loss = step(x, labels)          # forward + backward, gradients in p.grad
    ...     optimizer.step()                # in place: the next replay reads the new values

What is captured is replayed as it was recorded, so ``loss_fn`` must take the
same path for every call: the same shapes (the last, smaller batch of an epoch
needs its own step or an eager call), and no decision on the values of tensors.
The twin is built for this: what it decides from values (which constant
writes are zero, the initial state on the device) it takes from the eager
calls that precede the capture. Schemes whose constants are computed on the
host (the ``exact`` scheme's propagators) cannot be captured and say so.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from ...errors import BackendError

__all__ = ["CudaGraphStep"]


class CudaGraphStep:
    """``loss_fn(*tensors)`` and its backward pass, captured as one CUDA graph.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(*tensors) -> loss`` (a tensor of one element): the forward
        pass (a `Twin` call, say) and the loss. Its path must not depend on
        the values of the tensors.
    parameters : iterable of tensors
        The tensors whose gradients the backward pass computes (for example
        ``twin.parameters()``); each needs ``requires_grad``.
    *example : tensors
        CUDA tensors with the shapes and dtypes of every later call (values
        are copied, not kept).
    warmup : int
        Eager calls before the capture (on a side stream, as CUDA graphs
        need): they also let the twin settle what it reads back from the GPU.

    Calling the step with tensors of the example's shapes and dtypes copies
    them into the graph's inputs (after checking that they are finite),
    replays the graph and returns the loss. The loss is the graph's own
    tensor, overwritten by the next call: ``float(loss)`` or ``loss.clone()``
    to keep it. Gradients are in each parameter's ``.grad``, as after
    ``loss.backward()`` from no gradients: each call replaces them (they do
    not accumulate over calls), also after ``optimizer.zero_grad()``.
    Optimizers update parameters in place, and the next replay reads the new
    values; replacing a parameter tensor (``p.data = ...``, loading a state
    dict that assigns new tensors) is not seen: capture a new step then.
    """

    def __init__(self, loss_fn: Callable, parameters: Iterable[torch.Tensor], *example: torch.Tensor, warmup: int = 2):
        if not torch.cuda.is_available():
            raise BackendError("CudaGraphStep needs a CUDA GPU; torch finds none (train eagerly on the CPU).")
        self.parameters = [p for p in parameters if p.requires_grad]
        if not self.parameters:
            raise BackendError("CudaGraphStep: none of the parameters requires a gradient.")
        if not example:
            raise BackendError("CudaGraphStep: give example tensors of the step's inputs (shapes, dtypes, device).")
        for k, x in enumerate(example):
            if not isinstance(x, torch.Tensor) or not x.is_cuda:
                raise BackendError(f"CudaGraphStep: example {k} must be a CUDA tensor, got {type(x).__name__ if not isinstance(x, torch.Tensor) else x.device}.")
        devices = {x.device for x in example} | {p.device for p in self.parameters}
        if len(devices) > 1:
            raise BackendError(f"CudaGraphStep: examples and parameters are on several devices ({', '.join(sorted(map(str, devices)))}).")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise BackendError(f"CudaGraphStep: warmup must be a positive number of calls, got {warmup!r}.")
        self.loss_fn = loss_fn
        self.inputs = [x.detach().clone() for x in example]
        device = self.inputs[0].device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                self._clear()
                self._loss_of(loss_fn(*self.inputs)).backward()
        torch.cuda.current_stream(device).wait_stream(side)
        self._clear()
        self.graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(self.graph):
                self.loss = self._loss_of(loss_fn(*self.inputs))
                self.loss.backward()
        except BackendError:
            raise
        except RuntimeError as exc:
            raise BackendError(f"CudaGraphStep: the step could not be captured as a CUDA graph ({str(exc).splitlines()[0]}); a step that reads values back to the host (.item(), printing, data-dependent Python branches) or copies from the host runs eagerly only.") from None
        # the graph's own loss tensor, without the autograd graph of the capture:
        # kept alive, that graph would keep the parameters' gradient
        # accumulators of the capture stream for later eager backward passes
        self.loss = self.loss.detach()
        # the gradient tensors the graph writes into (None: no gradient reaches it)
        self.grads = [p.grad for p in self.parameters]

    @staticmethod
    def _loss_of(value) -> torch.Tensor:
        if not isinstance(value, torch.Tensor) or value.numel() != 1 or not value.requires_grad:
            raise BackendError(f"CudaGraphStep: loss_fn must return a loss tensor of one element that depends on the parameters, got {type(value).__name__ if not isinstance(value, torch.Tensor) else f'shape {tuple(value.shape)}, requires_grad={value.requires_grad}'}.")
        return value

    def _clear(self):
        for p in self.parameters:
            p.grad = None

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        if len(tensors) != len(self.inputs):
            raise BackendError(f"CudaGraphStep: captured with {len(self.inputs)} tensors, called with {len(tensors)}.")
        for k, (x, static) in enumerate(zip(tensors, self.inputs)):
            if not isinstance(x, torch.Tensor) or x.shape != static.shape or x.dtype != static.dtype:
                got = f"shape {tuple(x.shape)}, {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
                raise BackendError(f"CudaGraphStep: tensor {k} must have shape {tuple(static.shape)} and dtype {static.dtype} (as captured), got {got}; capture another step for other shapes.")
            if x.is_floating_point() and not bool(torch.isfinite(x).all()):
                raise BackendError(f"CudaGraphStep: tensor {k} contains NaN or infinite values.")
        for x, static in zip(tensors, self.inputs):
            static.copy_(x)
        self.graph.replay()
        for p, g in zip(self.parameters, self.grads):
            p.grad = g
        return self.loss
