"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) files.

The datasets are distributed as HDF5 files with ``spikes/times`` (one float
array of spike times in seconds per sample), ``spikes/units`` (the matching
channel indices, 0..699) and ``labels``. `load_heidelberg` bins them on a time
grid (``dt``, 4 ms by default) and merges neighbouring channels (700 -> 140 by
default), giving 0/1 spike rasters for an input population: several spikes in
one bin and merged channel count once (``counts=True`` keeps the counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, ParameterError
from ..quantities import as_seconds
from .base import SpikeDataset

__all__ = ["load_heidelberg", "bin_spikes"]


def bin_spikes(times, units, dt: float, n_steps: int, in_channels: int, channels: int, counts: bool = False) -> np.ndarray:
    """One sample's spikes -> (n_steps, channels) raster; spikes past the last bin are dropped."""
    times = np.asarray(times, dtype=np.float64)
    units = np.asarray(units, dtype=np.int64)
    step = np.floor(times / dt + 1e-9).astype(np.int64)
    channel = units * channels // in_channels
    keep = (step >= 0) & (step < n_steps) & (units >= 0) & (units < in_channels)
    raster = np.zeros((n_steps, channels), dtype=np.int64)
    np.add.at(raster, (step[keep], channel[keep]), 1)
    return raster if counts else np.minimum(raster, 1)


def _read(path: Path):
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ConfigError("Reading SHD/SSC files needs h5py (pip install h5py).") from None
    if not path.is_file():
        raise ConfigError(f"Dataset file '{path}' does not exist.")
    try:
        with h5py.File(path, "r") as f:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in f:
                    raise ConfigError(f"{path}: not an SHD/SSC file (no '{key}' dataset).")
            times = [np.asarray(t) for t in f["spikes/times"]]
            units = [np.asarray(u) for u in f["spikes/units"]]
            labels = np.asarray(f["labels"], dtype=np.int64)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read as HDF5 ({exc}).") from None
    if not (len(times) == len(units) == len(labels)):
        raise ConfigError(f"{path}: spikes/times, spikes/units and labels have different lengths ({len(times)}, {len(units)}, {len(labels)}).")
    for k, (t, u) in enumerate(zip(times, units)):
        if t.shape != u.shape:
            raise ConfigError(f"{path}: sample {k}: {t.size} spike times but {u.size} units.")
    return times, units, labels


def load_heidelberg(train: str | Path, test: str | Path | None = None, valid: str | Path | None = None, dt: float = 0.004, n_steps: int | None = None, in_channels: int = 700, channels: int = 140, valid_fraction: float = 0.1, seed: int = 0, counts: bool = False, n_classes: int | None = None) -> SpikeDataset:
    """Read and bin SHD/SSC files.

    Parameters
    ----------
    train, test, valid : path
        The distributed files. Without ``valid``, ``valid_fraction`` of the
        training file (drawn with ``seed``) becomes the validation split;
        without ``test`` the test split is empty.
    dt : float
        Bin width in seconds.
    n_steps : int, optional
        Bins per sample; defaults to covering the latest spike of all files.
    channels : int
        Output channels; channel ``c`` merges input units
        ``c*in_channels//channels .. (c+1)*in_channels//channels - 1``.
    """
    try:
        dt = as_seconds(dt, "load_heidelberg: dt")
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    if dt <= 0:
        raise ConfigError(f"dt must be positive, got {dt}.")
    if channels < 1 or channels > in_channels:
        raise ConfigError(f"channels must lie in 1..{in_channels}, got {channels}.")
    parts = {"train": _read(Path(train))}
    if valid is not None:
        parts["valid"] = _read(Path(valid))
    if test is not None:
        parts["test"] = _read(Path(test))
    if n_steps is None:
        latest = max((float(t.max()) for times, _, _ in parts.values() for t in times if t.size), default=0.0)
        n_steps = int(np.floor(latest / dt + 1e-9)) + 1
    xs, ys, splits, offset = [], [], {}, 0
    for name, (times, units, labels) in parts.items():
        xs.append(np.stack([bin_spikes(t, u, dt, n_steps, in_channels, channels, counts) for t, u in zip(times, units)]) if len(labels) else np.zeros((0, n_steps, channels), dtype=np.int64))
        ys.append(labels)
        splits[name] = np.arange(offset, offset + len(labels))
        offset += len(labels)
    if valid is None:
        order = np.random.default_rng([int(seed), 11]).permutation(splits["train"])
        n_valid = int(round(valid_fraction * len(order)))
        splits["valid"], splits["train"] = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    splits.setdefault("test", np.zeros(0, dtype=np.int64))
    x = np.concatenate(xs).astype(np.int64 if counts else np.uint8)
    y = np.concatenate(ys)
    if y.size and y.min() < 0:
        raise ConfigError(f"{train}: labels must be non-negative integers.")
    n_classes = n_classes or (int(y.max()) + 1 if y.size else 0)
    return SpikeDataset(x=x, y=y, n_classes=n_classes, splits=splits, name="heidelberg")
