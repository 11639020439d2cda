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

Everything here is computed with numpy on views of CPU tensors: a few small
operations per step, where numpy's cost per call is a fraction of torch's.
What is found of one spike tensor (its view, the neurons that fired, the flat
positions of its spikes) is found once per forward call and kept in the
call's cache (`Fired`), whoever asks first: a threshold run by numpy
(`seed`), a pathway (`senders`), a reset (`positions`).
"""

from __future__ import annotations

import numpy as np
import torch

from .env import as_numpy

__all__ = ["Arrivals", "Arriving", "Fired", "found_positions", "positions", "seed", "senders"]


class Fired:
    """What is known of one spike tensor ``(batch, n)`` on the CPU: its numpy
    ``view``, the ``neurons`` positive in any sample (found when first asked
    for), and the flat ``positions`` of its spikes in ``(batch, n)``, where a
    threshold run by numpy found them (else None)."""

    __slots__ = ("view", "neurons", "positions")

    def __init__(self, view: np.ndarray, neurons: np.ndarray | None = None, positions: np.ndarray | None = None):
        self.view, self.neurons, self.positions = view, neurons, positions


def _known(spikes: torch.Tensor, cache: dict | None, step: int | None) -> Fired:
    """The `Fired` of ``spikes``: from ``cache`` (the forward call's
    ``Call.events``) if there, else made (and entered: ``[spikes, Fired,
    step last read]``, kept while it is read, see `Twin._run_steps`); a
    pathway reading it at ``step`` marks it read (None: not a read)."""
    key = ("fired", id(spikes))
    found = cache.get(key) if cache is not None else None
    if found is None or found[0] is not spikes:
        found = [spikes, Fired(as_numpy(spikes)), -1]
        if cache is not None:
            cache[key] = found
    if step is not None:
        found[2] = step
    return found[1]


def senders(spikes: torch.Tensor, cache: dict | None = None, step: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The numpy view of ``spikes`` (batch, n) and the neurons positive in any
    sample: found once per spike tensor with ``cache`` and shared by every
    pathway that reads it (`_known`)."""
    fired = _known(spikes, cache, step)
    if fired.neurons is None:
        view = fired.view
        if view.shape[0] == 1:
            fired.neurons = fired.positions if fired.positions is not None else (view[0] > 0).nonzero()[0]
        else:
            fired.neurons = (view > 0).any(0).nonzero()[0]
    return fired.view, fired.neurons


def seed(cache: dict, spikes: torch.Tensor, view: np.ndarray, positions: np.ndarray):
    """Enter in ``cache`` what a threshold run by numpy found of ``spikes``:
    its numpy ``view`` and the flat ``positions`` of its spikes (for one
    sample, the neurons that fired). Kept while read, as the entries of
    `senders` are, and read back by `positions`."""
    cache[("fired", id(spikes))] = [spikes, Fired(view, None, positions), -1]


def positions(cache: dict, spikes: torch.Tensor) -> np.ndarray:
    """The flat positions in ``(batch, n)`` of the spikes of ``spikes`` (a
    CPU tensor of 0s and 1s): as its threshold found them (`seed`), else
    found now and kept with its other facts (`senders`)."""
    fired = _known(spikes, cache, None)
    if fired.positions is None:
        fired.positions = (fired.view.ravel() > 0).nonzero()[0]
    return fired.positions


def found_positions(cache: dict, spikes: torch.Tensor) -> np.ndarray | None:
    """The flat positions of the spikes of ``spikes`` if a threshold or
    `positions` found them in this step (``cache`` before it is pruned), else None."""
    found = cache.get(("fired", id(spikes)))
    return found[1].positions if found is not None and found[0] is spikes else None


class Arriving:
    """The synapses a spike reaches in one step: ``active`` their positions in
    queue order (numpy int64), and, for batches of several samples, ``spikes``
    the spikes they receive ``(batch, n)`` (``None`` for one sample: every
    arriving synapse receives a positive spike)."""

    __slots__ = ("active", "spikes")

    def __init__(self, active: np.ndarray, spikes: np.ndarray | None):
        self.active, self.spikes = active, spikes


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
    >>> history = [torch.zeros(1, 2), torch.zeros(1, 2)]  # (batch, neurons) per step, oldest first: the last is this step
    >>> history[1][0, 0] = 1                              # neuron 0 fires now: its delay-0 synapses 2 and 3 receive
    >>> history[0][0, 1] = 1                              # neuron 1 fired a step ago: its delay-1 synapse 1 receives
    >>> arrivals(history).active.tolist()
    [1, 2, 3]
    """

    def __init__(self, delay: torch.Tensor, pre: torch.Tensor, n_source: int):
        delays = torch.nonzero(torch.bincount(delay)).flatten().flip(0)  # the distinct delays (steps, >= 0), descending: the queue's order
        rank = torch.searchsorted(-delays, -delay)  # rank of each synapse's delay in `delays`
        key = rank * n_source + pre  # non-decreasing along the queue
        if len(key) > 1 and bool((key[1:] < key[:-1]).any()):
            raise ValueError("synapses are not in spike-queue order (descending delay, then presynaptic index)")
        self.delays = delays
        self.counts = torch.bincount(key, minlength=len(delays) * n_source)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.n_source = n_source
        self._delays = tuple(int(d) for d in delays.tolist())  # read every step: Python ints
        self._views()

    def _views(self):
        """numpy views of the tables, read every step (on the CPU; elsewhere the twin does not use them)."""
        cpu = self.counts.device.type == "cpu"
        self._counts = self.counts.numpy() if cpu else None
        self._starts = self.starts.numpy() if cpu else None

    def map_tensors(self, fn) -> "Arrivals":
        """A copy with ``fn`` applied to its tensors (``Twin.to``)."""
        out = object.__new__(Arrivals)
        out.delays, out.counts, out.starts, out.n_source, out._delays = fn(self.delays), fn(self.counts), fn(self.starts), self.n_source, self._delays
        out._views()
        return out

    def __call__(self, history: list, cache: dict | None = None, step: int = 0) -> Arriving | None:
        """The synapses whose spike arrives this step, or ``None`` if none does.

        ``history`` is the presynaptic spikes of the last steps on the CPU,
        ``(batch, n_source)`` each, oldest first, the last this step; a synapse
        of delay ``d`` receives when its neuron's entry ``d`` steps before the
        last is positive in any sample. ``cache`` and ``step``: see `senders`.
        """
        depth, n_source = len(history), self.n_source
        sending = []  # (delay rank, spikes view, neurons) of the delays at which some neuron fired
        for rank, delay in enumerate(self._delays):
            view, neurons = senders(history[depth - 1 - delay], cache, step)
            if len(neurons):
                sending.append((rank, view, neurons))
        if not sending:
            return None
        if len(sending) == 1:
            rank, view, neurons = sending[0]
            pairs = neurons + rank * n_source if rank else neurons
        else:
            pairs = np.concatenate([neurons + rank * n_source for rank, _, neurons in sending])
        batch = sending[0][1].shape[0]
        if len(pairs) == 1 and batch == 1:  # one neuron's synapses at one delay: a range
            start, length = self._starts[pairs[0]], self._counts[pairs[0]]
            return Arriving(np.arange(start, start + length), None) if length else None
        lengths = self._counts[pairs]
        ends = lengths.cumsum()
        total = int(ends[-1])
        if total == 0:
            return None
        # each pair's range of synapses, concatenated: start of its range + position within it
        active = (self._starts[pairs] - (ends - lengths)).repeat(lengths) + np.arange(total)
        if batch == 1:
            return Arriving(active, None)
        rows = np.concatenate([view[:, neurons] for _, view, neurons in sending], axis=1)  # (batch, pairs)
        return Arriving(active, rows.repeat(lengths, axis=1))
