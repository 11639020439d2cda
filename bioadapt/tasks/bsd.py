"""Burst sequence detection (BSD), the synthetic task of Baronig et al. 2025.

Each class is a sequence of bursts: ``bursts`` distinct input channels, each
with a Gaussian bump of firing probability centred at a class-specific time.
A sample draws Bernoulli spikes from these per-step probabilities (``p_low``
on every other channel and far from the bumps, ``p_high`` at a bump's centre).
Classes can share channels and differ only in their order or timing, so the
task needs memory over the whole sequence; the label is to be read out at the
end (the usual loss counts the last 20 % of the steps).

The published description (science.md: 200 steps, 10 channels, 20 classes,
3 channels per class, means U[0.1, 0.85] of the sequence length, per-step
probabilities 0.05 to 0.8) leaves the bump width in unstated units; here it is
the parameter ``width`` (standard deviation as a fraction of the sequence) and
a per-sample ``jitter`` of the centres.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import SpikeDataset, split_indices

__all__ = ["burst_sequence_detection", "bsd_probabilities"]


def bsd_probabilities(seed: int, steps: int = 200, channels: int = 10, classes: int = 20, bursts: int = 3, width: float = 0.05, p_low: float = 0.05, p_high: float = 0.8, centres=(0.1, 0.85)):
    """Per-class channels and burst centres, and the mean probability profiles.

    Returns ``(class_channels (classes, bursts), class_centres (classes, bursts), profiles (classes, steps, channels))``.
    """
    if bursts > channels:
        raise ConfigError(f"bsd: bursts ({bursts}) cannot exceed channels ({channels}).")
    if not 0 <= p_low <= p_high <= 1:
        raise ConfigError(f"bsd: need 0 <= p_low <= p_high <= 1, got {p_low}, {p_high}.")
    rng = np.random.default_rng([int(seed), 1])
    class_channels, seen = [], set()
    attempts = 0
    while len(class_channels) < classes:
        tup = tuple(int(c) for c in rng.permutation(channels)[:bursts])
        attempts += 1
        if tup in seen and attempts < 100 * classes:
            continue
        seen.add(tup)
        class_channels.append(tup)
    class_channels = np.array(class_channels, dtype=np.int64)
    class_centres = np.sort(rng.uniform(centres[0], centres[1], size=(classes, bursts)), axis=1)
    time = (np.arange(steps) + 0.5) / steps
    profiles = np.full((classes, steps, channels), p_low)
    for c in range(classes):
        for ch, mu in zip(class_channels[c], class_centres[c]):
            bump = p_low + (p_high - p_low) * np.exp(-0.5 * ((time - mu) / width) ** 2)
            profiles[c, :, ch] = np.maximum(profiles[c, :, ch], bump)
    return class_channels, class_centres, profiles


def burst_sequence_detection(n_samples: int = 8000, seed: int = 0, steps: int = 200, channels: int = 10, classes: int = 20, bursts: int = 3, width: float = 0.05, jitter: float = 0.02, p_low: float = 0.05, p_high: float = 0.8, split=(0.7, 0.1, 0.2)) -> SpikeDataset:
    """Generate the BSD dataset from ``seed`` (same seed, same samples).

    Parameters
    ----------
    n_samples : int
        Total samples, balanced over classes, split 70/10/20 by default.
    width : float
        Standard deviation of a burst, as a fraction of the sequence.
    jitter : float
        Standard deviation of the per-sample shift of each burst centre
        (fraction of the sequence).
    """
    if n_samples < classes:
        raise ConfigError(f"bsd: n_samples ({n_samples}) must be at least the number of classes ({classes}).")
    class_channels, class_centres, _ = bsd_probabilities(seed, steps, channels, classes, bursts, width, p_low, p_high)
    rng = np.random.default_rng([int(seed), 2])
    labels = np.arange(n_samples) % classes
    rng.shuffle(labels)
    time = (np.arange(steps) + 0.5) / steps
    shift = rng.normal(0.0, jitter, size=(n_samples, bursts))
    prob = np.full((n_samples, steps, channels), p_low)
    for b in range(bursts):
        mu = class_centres[labels, b] + shift[:, b]
        bump = p_low + (p_high - p_low) * np.exp(-0.5 * ((time[None, :] - mu[:, None]) / width) ** 2)
        idx = class_channels[labels, b]
        rows = np.arange(n_samples)
        prob[rows, :, idx] = np.maximum(prob[rows, :, idx], bump)
    x = (rng.random(prob.shape) < prob).astype(np.uint8)
    return SpikeDataset(x=x, y=labels.astype(np.int64), n_classes=classes, splits=split_indices(n_samples, split, seed), name="bsd")
