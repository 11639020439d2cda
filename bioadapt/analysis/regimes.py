"""Firing regimes from spike times: quiescent, tonic, bursting, phasic.

The rules, applied to the spikes in an observation window ``[start, stop)``:

- no spike: **quiescent**;
- the silence after the last spike, ``stop - t_last``, is longer than
  ``silence_ratio`` times the longest interval between spikes (or than
  ``silence_ratio`` times the latency ``t_first - start`` for a single spike):
  the activity has stopped, **phasic** (pass ``start`` = the time of the
  stimulus step);
- the sorted inter-spike intervals (ISIs) have a jump by more than
  ``burst_ratio`` between consecutive values: the ISIs above the jump are
  silences that separate bursts; two or more groups with more than one spike
  in some group: **bursting**;
- otherwise **tonic**.

The window must hold several periods of the ongoing activity (and no
transient from the initial state), or a bursting neuron's window can end in
its silence and look phasic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["Regime", "FiringPattern", "classify_regime", "upstrokes"]

#: Default factor between the longest ISI within bursts and the shortest silence
#: between bursts. The MTC bursts of science.md have ratio ~25 (ISIs 60-85 in a
#: burst, silences ~2070); tonic firing under forward Euler jitters by one step
#: (ratio ~1.02).
BURST_RATIO = 3.0
#: Default factor by which the final silence must exceed the longest ISI for
#: the activity to count as stopped (phasic).
SILENCE_RATIO = 3.0


class Regime(enum.Enum):
    QUIESCENT = "quiescent"
    TONIC = "tonic"
    BURSTING = "bursting"
    PHASIC = "phasic"


@dataclass(frozen=True)
class FiringPattern:
    """Spikes of one neuron in a window, their grouping into bursts and the regime.

    ``bursts`` holds the spike times of each group (one group for tonic or
    phasic firing); ``intra_burst_isi`` the ISIs inside groups;
    ``inter_burst_interval`` the silences between groups (last spike of one
    to first spike of the next); ``burst_period`` first-spike-to-first-spike
    intervals of consecutive groups.
    """

    regime: Regime
    spike_times: np.ndarray
    start: float
    stop: float
    bursts: tuple

    @property
    def isi(self) -> np.ndarray:
        return np.diff(self.spike_times)

    @property
    def spikes_per_burst(self) -> np.ndarray:
        return np.array([len(b) for b in self.bursts], dtype=np.int64)

    @property
    def intra_burst_isi(self) -> np.ndarray:
        return np.concatenate([np.diff(b) for b in self.bursts]) if self.bursts else np.zeros(0)

    @property
    def inter_burst_interval(self) -> np.ndarray:
        return np.array([b[0] - a[-1] for a, b in zip(self.bursts[:-1], self.bursts[1:])])

    @property
    def burst_period(self) -> np.ndarray:
        return np.array([b[0] - a[0] for a, b in zip(self.bursts[:-1], self.bursts[1:])])

    @property
    def mean_isi(self) -> float:
        """Mean ISI over the window, ``(t_last - t_first)/(n - 1)`` (nan for fewer than 2 spikes)."""
        t = self.spike_times
        return float((t[-1] - t[0]) / (len(t) - 1)) if len(t) > 1 else float("nan")


def classify_regime(spike_times, start: float, stop: float, burst_ratio: float = BURST_RATIO, silence_ratio: float = SILENCE_RATIO) -> FiringPattern:
    """Classify the firing of one neuron in ``[start, stop)`` (rules in the module docstring).

    Parameters
    ----------
    spike_times : array
        Spike times of one neuron (any unit; ``start``/``stop`` in the same).
    start, stop : float
        Observation window; for phasic firing ``start`` is the stimulus time.
    burst_ratio, silence_ratio : float
        Thresholds of the rules, both > 1.

    Examples
    --------
    >>> classify_regime([10, 20, 30, 40], 0, 45).regime
    <Regime.TONIC: 'tonic'>
    >>> classify_regime([1, 2, 3, 50, 51, 52, 100, 101], 0, 110).regime
    <Regime.BURSTING: 'bursting'>
    >>> classify_regime([], 10, 0)
    Traceback (most recent call last):
    ...
    bioadapt.errors.ParameterError: classify_regime: the window needs start < stop, got start=10, stop=0.
    """
    if not start < stop:
        raise ParameterError(f"classify_regime: the window needs start < stop, got start={start}, stop={stop}.")
    if not (burst_ratio > 1 and silence_ratio > 1):
        raise ParameterError(f"classify_regime: burst_ratio and silence_ratio must be > 1, got {burst_ratio}, {silence_ratio}.")
    t = np.sort(np.asarray(spike_times, dtype=float))
    t = t[(t >= start) & (t < stop)]
    if len(t) == 0:
        return FiringPattern(Regime.QUIESCENT, t, start, stop, ())
    isi = np.diff(t)
    scale = isi.max() if len(isi) else t[0] - start
    if stop - t[-1] > silence_ratio * scale:
        return FiringPattern(Regime.PHASIC, t, start, stop, (t,))
    gap = _burst_gap(isi, burst_ratio)
    if gap is None:
        return FiringPattern(Regime.TONIC, t, start, stop, (t,))
    bursts = tuple(np.split(t, np.nonzero(isi > gap)[0] + 1))
    regime = Regime.BURSTING if len(bursts) > 1 and max(len(b) for b in bursts) > 1 else Regime.TONIC
    return FiringPattern(regime, t, start, stop, bursts if regime is Regime.BURSTING else (t,))


def _burst_gap(isi: np.ndarray, ratio: float) -> float | None:
    """Threshold between intra-burst ISIs and silences: the geometric mean across the largest jump of the sorted ISIs, if it exceeds ``ratio``."""
    if len(isi) < 2 or isi.min() <= 0:
        return None
    s = np.sort(isi)
    jumps = s[1:] / s[:-1]
    k = int(np.argmax(jumps))
    return float(np.sqrt(s[k] * s[k + 1])) if jumps[k] > ratio else None


def upstrokes(trace, threshold: float, dt: float = 1.0) -> np.ndarray:
    """Times ``k*dt`` of the samples where ``trace`` goes from ``<= threshold`` to ``> threshold``.

    The spike definition of a threshold without reset (``V > V_th`` with
    ``refractory = "V > V_th"``), for traces recorded without spike events;
    a trace that starts above threshold counts a spike at sample 0, as the
    backends do.
    """
    x = np.asarray(trace, dtype=float)
    above = x > threshold
    onsets = np.nonzero(above & ~np.concatenate(([False], above[:-1])))[0]
    return onsets * dt
