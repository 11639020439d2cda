"""Oscillator prediction (Baronig et al. 2025): a chain of masses and springs.

Four unit masses in a line, the first tied to a wall, joined by springs whose
stiffnesses are drawn from ``{k_min, ..., k_max}``; no damping, initial
displacements N(0, 1), zero velocities. Positions are sampled at ``rate`` for
``samples`` points and the task is to predict ``x[k+1]`` from ``x[k]``.

The motion is computed in closed form (normal modes of the stiffness matrix),
so the data carries no integration error.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import SequenceDataset, split_indices

__all__ = ["spring_chain", "chain_stiffness_matrix", "chain_positions"]


def chain_stiffness_matrix(k: np.ndarray) -> np.ndarray:
    """Stiffness matrix of masses 1..n in a line, spring k[0] to the wall, k[i] between masses i-1 and i."""
    k = np.asarray(k, dtype=np.float64)
    n = len(k)
    K = np.zeros((n, n))
    for i in range(n):
        K[i, i] += k[i]  # spring i pulls mass i (towards the wall for i = 0)
        if i > 0:  # and, between masses i-1 and i, mass i-1
            K[i - 1, i - 1] += k[i]
            K[i - 1, i] -= k[i]
            K[i, i - 1] -= k[i]
    return K


def chain_positions(k: np.ndarray, x0: np.ndarray, times: np.ndarray, mass: float = 1.0) -> np.ndarray:
    """Positions (len(times), n) of the undamped chain started at rest from ``x0``: x(t) = V cos(w t) V^T x0."""
    K = chain_stiffness_matrix(k) / mass
    lam, V = np.linalg.eigh(K)
    omega = np.sqrt(np.clip(lam, 0.0, None))
    modes = V.T @ np.asarray(x0, dtype=np.float64)
    return (np.cos(np.outer(times, omega)) * modes) @ V.T


def spring_chain(n_sequences: int = 4096, seed: int = 0, masses: int = 4, k_min: int = 500, k_max: int = 10000, rate_hz: float = 402.0, samples: int = 202, split=(0.8, 0.1, 0.1)) -> SequenceDataset:
    """Generate the oscillator dataset: input ``x[k]``, target ``x[k+1]`` (``samples - 1`` steps)."""
    if k_min <= 0 or k_max < k_min:
        raise ConfigError(f"oscillator: need 0 < k_min <= k_max, got {k_min}, {k_max}.")
    if samples < 3:
        raise ConfigError(f"oscillator: samples must be at least 3, got {samples}.")
    rng = np.random.default_rng([int(seed), 3])
    times = np.arange(samples) / rate_hz
    series = np.empty((n_sequences, samples, masses))
    for s in range(n_sequences):
        k = rng.integers(k_min, k_max + 1, size=masses)
        x0 = rng.normal(0.0, 1.0, size=masses)
        series[s] = chain_positions(k, x0, times)
    return SequenceDataset(x=series[:, :-1], target=series[:, 1:], splits=split_indices(n_sequences, split, seed), name="oscillator")
