"""Input spikes given at run time: Poisson draws, spike files, arrays.

`with_inputs(spec, inputs)` puts the spikes of input populations into a
network (every backend then runs them): for each population one of

- ``"poisson:20*Hz"`` (or ``"poisson:20Hz"``): independent Poisson spike
  trains at that rate, drawn from the network's seed (a stream of its own per
  population, so every backend gets the same spikes);
- a ``.npz`` file, or a mapping, with the arrays ``i`` (neuron indices) and
  ``t`` (spike times in seconds) or ``i`` and ``step`` (whole steps of the
  network's dt). A time falls into the step that contains it, by Brian2's
  rule for `SpikeGeneratorGroup`: ``int((t + 1e-3*dt)/dt)``;
- a 0/1 array of shape ``(n_steps, size)`` (a raster).

Spikes outside the run, unknown neurons, wrong keys and two spikes of one
neuron in one step are errors naming the population and the source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ParameterError
from ..quantities import as_hertz
from .spec import NetworkSpec

__all__ = ["with_inputs", "input_spikes", "poisson_spikes", "missing_inputs", "HOW_TO_GIVE_INPUT"]

#: rows of random numbers drawn at once for Poisson input (bounds the memory of long runs)
_BLOCK = 1 << 20
#: Brian2's shift of spike times before binning (`SpikeGeneratorGroup`, `timestep`), in units of dt
BIN_SHIFT = 1e-3
HOW_TO_GIVE_INPUT = ("give them with --input POP=poisson:RATE or --input POP=FILE.npz on the command line, "
                     "or simulate(..., inputs={'POP': 'poisson:20*Hz' or 'FILE.npz' or {'i': ..., 't': ...}}) in Python")


def poisson_spikes(seed: int, key: str, size: int, rate_hz: float, dt: float, n_steps: int) -> tuple:
    """``(steps, indices)`` of Poisson spike trains: a spike where a uniform
    draw is below ``rate*dt``, step by step from the stream ``key`` of the
    seed (`load.stream`), in blocks, so a long run never holds all draws."""
    from .load import stream

    rng = stream(seed, key)
    rows = max(1, _BLOCK // max(size, 1))
    steps, indices = [], []
    for start in range(0, n_steps, rows):
        count = min(rows, n_steps - start)
        s, i = np.nonzero(rng.random((count, size)) < rate_hz * dt)
        steps.append(s.astype(np.int64) + start)
        indices.append(i.astype(np.int64))
    if not steps:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(steps), np.concatenate(indices)


def _from_arrays(arrays: Mapping, spec: NetworkSpec, name: str, where: str) -> tuple:
    keys = set(arrays)
    if "i" not in keys or len(keys & {"t", "step"}) != 1 or keys - {"i", "t", "step"}:
        raise ConfigError(f"{where}: expected the arrays 'i' (neuron indices) and 't' (spike times in seconds) or 'i' and 'step' (steps of dt = {spec.dt * 1e3:g} ms), got {sorted(keys)}.")
    size = spec.populations[name].size
    i = np.asarray(arrays["i"])
    when = "t" if "t" in keys else "step"
    times = np.asarray(arrays[when])
    if i.ndim != 1 or times.shape != i.shape:
        raise ConfigError(f"{where}: 'i' and '{when}' must be one-dimensional arrays of the same length, got shapes {i.shape} and {times.shape}.")
    if not (np.issubdtype(i.dtype, np.integer) or (i.size and np.issubdtype(i.dtype, np.floating) and np.all(i == np.round(i)))) and i.size:
        raise ConfigError(f"{where}: 'i' must hold whole neuron indices, got {i.dtype} values.")
    if not np.issubdtype(times.dtype, np.number) and times.size:
        raise ConfigError(f"{where}: '{when}' must hold numbers, got {times.dtype}.")
    i = i.astype(np.int64)
    bad = (i < 0) | (i >= size)
    if bad.any():
        raise ConfigError(f"{where}: neuron index {int(i[bad][0])} does not exist; population '{name}' has {size} neurons (0 to {size - 1}).")
    times = times.astype(np.float64)
    if not np.all(np.isfinite(times)):
        raise ConfigError(f"{where}: '{when}' contains NaN or infinite values.")
    if when == "t":
        steps = np.floor((times + BIN_SHIFT * spec.dt) / spec.dt).astype(np.int64)
        unit = lambda k: f"t = {times[k]:.9g} s"  # noqa: E731
    else:
        if np.any(times != np.round(times)):
            raise ConfigError(f"{where}: 'step' must hold whole steps, got {times[times != np.round(times)][0]!r}.")
        steps = times.astype(np.int64)
        unit = lambda k: f"step {steps[k]}"  # noqa: E731
    outside = (times < 0) | (steps < 0) | (steps >= spec.n_steps)
    if outside.any():
        k = int(np.nonzero(outside)[0][0])
        raise ConfigError(f"{where}: {int(outside.sum())} spike(s) outside the run (0 to {spec.duration:.9g} s, steps 0 to {spec.n_steps - 1} of dt = {spec.dt * 1e3:g} ms), the first at {unit(k)}; give a longer --duration or leave those spikes out.")
    order = np.lexsort((i, steps))
    steps, i = steps[order], i[order]
    twice = (np.diff(steps) == 0) & (np.diff(i) == 0)
    if twice.any():
        k = int(np.nonzero(twice)[0][0])
        raise ConfigError(f"{where}: neuron {int(i[k])} spikes twice in step {int(steps[k])} (dt = {spec.dt * 1e3:g} ms); a neuron spikes at most once per step.")
    return steps, i


def input_spikes(spec: NetworkSpec, name: str, value) -> tuple:
    """``(steps, indices)`` of the spikes ``value`` gives input population ``name`` (see the module)."""
    where = f"input '{name}'"
    if isinstance(value, str) and value.strip().startswith("poisson:"):
        text = value.strip()[len("poisson:"):]
        try:
            rate = as_hertz(text, f"{where}: poisson rate")
        except ParameterError as exc:
            raise ConfigError(str(exc)) from None
        if not 0 <= rate * spec.dt <= 1:
            raise ConfigError(f"{where}: a Poisson rate must lie in [0, 1/dt] = [0, {1 / spec.dt:g} Hz], got {text!r}.")
        return poisson_spikes(spec.seed, f"inputs.{name}.poisson", spec.populations[name].size, rate, spec.dt, spec.n_steps)
    if isinstance(value, (str, Path)):
        path = Path(value)
        where = f"{where}: {path}"
        if not path.is_file():
            raise ConfigError(f"{where}: no such file; give 'poisson:RATE' or a .npz file with the arrays i and t (seconds) or i and step.")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except Exception as exc:  # noqa: BLE001 - not an npz file, or a pickled one
            raise ConfigError(f"{where}: not a .npz file of arrays ({type(exc).__name__}: {exc}).") from None
        return _from_arrays(arrays, spec, name, where)
    if isinstance(value, Mapping):
        return _from_arrays(value, spec, name, where)
    raster = np.asarray(value)
    size = spec.populations[name].size
    if raster.shape != (spec.n_steps, size):
        raise ConfigError(f"{where}: expected 'poisson:RATE', a .npz file, a mapping with 'i' and 't' or 'step', or a 0/1 raster of shape (n_steps, size) = {(spec.n_steps, size)}; got {type(value).__name__} of shape {raster.shape}.")
    if not np.all((raster == 0) | (raster == 1)):
        raise ConfigError(f"{where}: a raster holds 0 (no spike) and 1 (a spike) only.")
    steps, indices = np.nonzero(raster)
    return steps.astype(np.int64), indices.astype(np.int64)


def with_inputs(spec: NetworkSpec, inputs: Mapping | None) -> NetworkSpec:
    """``spec`` with the spikes of ``inputs`` (``population -> input``, see the
    module) in its input populations."""
    if not inputs:
        return spec
    if not isinstance(inputs, Mapping):
        raise ConfigError(f"inputs: expected a mapping of input population -> input, got {type(inputs).__name__}.")
    populations = dict(spec.populations)
    for name, value in inputs.items():
        pop = spec.populations.get(name) if isinstance(name, str) else None
        if pop is None or not pop.is_input:
            names = ", ".join(p.name for p in spec.populations.values() if p.is_input) or "none"
            raise ConfigError(f"inputs: {name!r} is not an input population of {spec.source} (input populations: {names}).")
        steps, indices = input_spikes(spec, name, value)
        populations[name] = dataclasses.replace(pop, input_steps=steps, input_indices=indices)
    return dataclasses.replace(spec, populations=populations)


def missing_inputs(spec: NetworkSpec, inputs: Mapping | None = None) -> list:
    """Names of the ``spikes`` input populations that have no spikes and are not in ``inputs``."""
    given = set(inputs or ())
    return [p.name for p in spec.populations.values() if p.kind == "spikes" and p.name not in given and (p.input_steps is None or len(p.input_steps) == 0)]
