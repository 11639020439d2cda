"""Which synapses of a pathway receive a spike in a step, found from the spikes.

Brian2 runs synapse code for the synapses whose presynaptic spike arrives in a
step, nothing else. The twin's gradient path runs every synapse every step (a
synapse without a spike contributes zero, and its gradient reaches the spike);
without gradients the twin does what Brian2 does, and this module finds those
synapses without touching the others.

A pathway's synapses are kept in Brian2's spike-queue order: descending delay,
then presynaptic index, then synapse index. The synapses of one (delay,
presynaptic neuron) pair are therefore a contiguous range, and the ranges of
the pairs whose neuron fired ``delay`` steps ago, taken in increasing order of
``(delay rank, neuron)``, are the arriving synapses in queue order.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["Arrivals"]


class Arrivals:
    """The arriving synapses of one pathway.

    Parameters
    ----------
    delay, pre : torch.Tensor
        Delay in steps and presynaptic index of each synapse, in queue order
        (descending delay, then presynaptic index).
    n_source : int
        Size of the presynaptic population.

    Examples
    --------
    >>> import torch
    >>> arrivals = Arrivals(delay=torch.tensor([1, 1, 0, 0, 0]), pre=torch.tensor([0, 1, 0, 0, 1]), n_source=2)
    >>> hist = torch.zeros(2, 1, 2)          # (steps of history, batch, neurons); last row: this step
    >>> hist[1, 0, 0] = 1                    # neuron 0 fires now: its delay-0 synapses 2 and 3 receive
    >>> hist[0, 0, 1] = 1                    # neuron 1 fired a step ago: its delay-1 synapse 1 receives
    >>> synapses, spikes = arrivals(hist)
    >>> synapses.tolist(), spikes.tolist()
    ([1, 2, 3], [[1.0, 1.0, 1.0]])
    """

    def __init__(self, delay: torch.Tensor, pre: torch.Tensor, n_source: int):
        delays = torch.unique(delay).flip(0)  # descending, the queue's order
        rank = torch.searchsorted(-delays, -delay)  # rank of each synapse's delay in `delays`
        key = rank * n_source + pre  # non-decreasing along the queue
        if len(key) > 1 and bool((key[1:] < key[:-1]).any()):
            raise ValueError("synapses are not in spike-queue order (descending delay, then presynaptic index)")
        self.delays = delays
        self.counts = torch.bincount(key, minlength=len(delays) * n_source)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def map_tensors(self, fn) -> "Arrivals":
        """A copy with ``fn`` applied to its tensors (``Twin.to``)."""
        out = object.__new__(Arrivals)
        out.delays, out.counts, out.starts = fn(self.delays), fn(self.counts), fn(self.starts)
        return out

    def __call__(self, hist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The synapses whose spike arrives this step, and the spikes they receive.

        ``hist`` is the presynaptic spike history ``(depth, batch, n_source)`` on
        the CPU, its last row this step; a synapse of delay ``d`` receives when its
        neuron's entry ``d`` rows before the last is positive in any sample.
        Returns their positions in queue order ``(n,)`` and the history's
        entries for them ``(batch, n)``. Computed with numpy on views of the
        tensors (a few small operations per step, where numpy's cost per call is
        a third of torch's).
        """
        rows = hist.detach().numpy()[hist.shape[0] - 1 - self.delays.numpy()]  # (delay rank, batch, neuron)
        ranks, neurons = np.nonzero((rows > 0).any(1))  # the (delay rank, neuron) pairs that send, in queue order
        pairs = ranks * rows.shape[2] + neurons
        lengths = self.counts.numpy()[pairs]
        ends = np.cumsum(lengths)
        # each pair's range of synapses, concatenated: start of its range + position within it
        active = np.repeat(self.starts.numpy()[pairs] - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)
        spikes = np.repeat(rows[ranks, :, neurons], lengths, axis=0).T  # (batch, n)
        return torch.from_numpy(active), torch.from_numpy(np.ascontiguousarray(spikes))
