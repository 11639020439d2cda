"""Containers shared by the tasks: a dataset is arrays plus a named split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

__all__ = ["SpikeDataset", "SequenceDataset", "split_indices"]


def split_indices(n: int, fractions, seed: int) -> dict:
    """Shuffle ``range(n)`` with ``seed`` and cut it into train/valid/test by ``fractions``."""
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"split must be three non-negative fractions summing to 1 (train, valid, test), got {fractions}.")
    order = np.random.default_rng([int(seed), 7]).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    return {"train": np.sort(order[:n_train]), "valid": np.sort(order[n_train:n_train + n_valid]), "test": np.sort(order[n_train + n_valid:])}


class _Samples:
    """What both dataset kinds share: ``x`` is (samples, steps, channels), ``splits`` names index sets."""

    @property
    def n_steps(self) -> int:
        return self.x.shape[1]

    @property
    def n_channels(self) -> int:
        return self.x.shape[2]

    def subset(self, split: str) -> np.ndarray:
        return self.splits[split]


@dataclass
class SpikeDataset(_Samples):
    """Spike rasters with class labels.

    x : uint8 array (samples, steps, channels), 0/1 spikes per time step
    y : int64 array (samples,), class labels in ``range(n_classes)``
    splits : ``{"train"|"valid"|"test": sample indices}``
    """

    x: np.ndarray
    y: np.ndarray
    n_classes: int
    splits: dict = field(default_factory=dict)
    name: str = "spikes"
    kind: str = "classification"


@dataclass
class SequenceDataset(_Samples):
    """Real-valued sequences for regression.

    x : float64 array (samples, steps, channels), the input at each step
    target : float64 array (samples, steps, outputs), the desired output at each step
    """

    x: np.ndarray
    target: np.ndarray
    splits: dict = field(default_factory=dict)
    name: str = "sequences"
    kind: str = "regression"
