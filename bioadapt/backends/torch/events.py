"""Event-driven product of spike vectors with weight matrices.

A dense pathway adds ``spikes @ W`` to its target every step. Spikes are
sparse (a few percent of the entries of a spike vector are non-zero at
biological rates), so on the CPU the twin computes the forward product and
the weight gradient from the events alone, as an event-driven simulator
does:

- forward: for each row (sample), the sum of the rows of ``W`` of the
  neurons that fired (``embedding_bag``, one bag per row);
- backward, weight gradient: for each neuron, the sum of the output
  gradients of the rows in which it fired (``embedding_bag``, one bag per
  neuron);
- backward, spike gradient (for the surrogate): ``grad @ W.T``, dense, as
  the surrogate derivative is non-zero for every neuron.

Non-binary entries (input counts) weight their event. Where the product is
small or events are not sparse enough for this to pay (`EVENTS_FROM_SIZE`,
`DENSE_ABOVE`), and on CUDA tensors (where index-based sums are atomic,
hence not deterministic, and dense products are fast), the ordinary matrix
product is used. The sums are the same numbers added in another order than
``spikes @ W``, so results agree to rounding (the dense pathway is not
Brian2's summation order either; the ``exact`` synaptic mode is). A given
input always takes the same branch, so repeated runs are bitwise identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["Events", "spike_product", "pays", "DENSE_ABOVE", "EVENTS_FROM_SIZE"]

# When the events pay (forward and backward on one CPU core, float32; see
# benchmarks/events.py and its results): from about 2 million multiply-adds of
# the dense product (rows x N x M; 64 x 256 spikes times 256 x 256 weights:
# 213 us instead of 302 us at 2 % events, 272 instead of 301 at 10 %; a
# 64 x 256 x 20 product is twice as fast dense) up to about 10 % non-zero
# entries (at 20 %, events still win slightly for 64 rows but lose 1.3x for
# 16000 rows).
EVENTS_FROM_SIZE = 2**21
DENSE_ABOVE = 0.1


class Events:
    """The non-zero entries of a 2-d spike tensor, found once and shared by
    every product with it (a population's spikes reach several pathways)."""

    __slots__ = ("rows", "cols", "values", "starts", "_by_column")

    def __init__(self, spikes: torch.Tensor, binary: bool):
        self.rows, self.cols = spikes.nonzero(as_tuple=True)  # sorted by row
        self.values = None if binary else spikes.detach()[self.rows, self.cols]
        # each row's events form one bag of rows of W
        self.starts = torch.searchsorted(self.rows, torch.arange(spikes.shape[0], device=spikes.device))
        self._by_column = None

    def by_column(self, n_cols: int):
        """Events sorted by column: (rows, column starts, values), for the weight gradient."""
        if self._by_column is None:
            order = torch.argsort(self.cols, stable=True)
            starts = torch.searchsorted(self.cols[order], torch.arange(n_cols, device=self.cols.device))
            self._by_column = (self.rows[order], starts, None if self.values is None else self.values[order])
        return self._by_column

    @staticmethod
    def find(spikes: torch.Tensor, binary: bool) -> "Events | None":
        """Events of ``spikes (R, N)``, or None where they are too dense to pay."""
        if spikes.device.type != "cpu" or spikes.dim() != 2 or spikes.numel() == 0:
            return None
        events = Events(spikes, binary)
        return events if len(events.rows) <= DENSE_ABOVE * spikes.numel() else None


class _SpikeProduct(torch.autograd.Function):
    """``spikes (R, N) @ weights (N, M)`` from the events of ``spikes``."""

    @staticmethod
    def forward(ctx, spikes, weights, events):
        ctx.save_for_backward(weights)
        ctx.events = events
        return F.embedding_bag(events.cols, weights, events.starts, mode="sum", per_sample_weights=events.values)

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        grad_spikes = grad_weights = None
        if ctx.needs_input_grad[0]:
            grad_spikes = grad @ weights.T
        if ctx.needs_input_grad[1]:
            # each neuron's events form one bag of rows of the output gradient
            rows, starts, values = ctx.events.by_column(weights.shape[0])
            grad_weights = F.embedding_bag(rows, grad, starts, mode="sum", per_sample_weights=values)
        return grad_spikes, grad_weights, None


def pays(spikes: torch.Tensor, weights: torch.Tensor) -> bool:
    """Whether ``spikes @ weights`` is large enough for events to be worth finding."""
    if spikes.device.type != "cpu" or spikes.dim() == 0 or spikes.shape[-1] == 0:
        return False
    return spikes.numel() // spikes.shape[-1] * weights.numel() >= EVENTS_FROM_SIZE


def spike_product(spikes: torch.Tensor, weights: torch.Tensor, binary: bool = False, events: Events | None = None) -> torch.Tensor:
    """``spikes @ weights`` for spike tensors ``(..., N)`` and ``weights (N, M)``.

    ``binary=True`` promises that every non-zero entry of ``spikes`` is 1
    (spikes from a threshold), which saves a multiplication per event.
    ``events`` are those of ``spikes`` (2-d) if already found (`Events.find`).
    """
    flat = spikes if spikes.dim() == 2 else spikes.reshape(-1, spikes.shape[-1])
    if events is None:
        if not pays(spikes, weights):
            return spikes @ weights
        events = Events.find(flat, binary)
        if events is None:
            return spikes @ weights
    out = _SpikeProduct.apply(flat, weights, events)
    return out if spikes.dim() == 2 else out.reshape(*spikes.shape[:-1], weights.shape[1])
