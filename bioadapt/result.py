"""`SimulationResult`: what every backend returns, and its ``.npz`` form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError

__all__ = ["SimulationResult"]


@dataclass
class SimulationResult:
    """Spikes and traces of one simulation (one trial).

    Attributes
    ----------
    spikes : dict
        ``population -> (i, step)``: int64 neuron indices and time steps of all
        spikes, sorted by step then index.
    traces : dict
        ``population -> {variable: float64 array (n_steps, size)}``, the value
        at the end of every step.
    backend : str
    dt : float
        Time step in seconds.
    n_steps : int
    wall_time : float
        Seconds spent simulating (building and compiling included).
    """

    spikes: dict
    traces: dict = field(default_factory=dict)
    backend: str = ""
    dt: float = 0.0
    n_steps: int = 0
    wall_time: float = 0.0

    def _spikes_of(self, population: str) -> tuple:
        if population not in self.spikes:
            raise ConfigError(f"no spikes of '{population}' in this result (it has {', '.join(self.spikes) or 'none'}; a StandaloneNetwork records those named by record_spikes).")
        return self.spikes[population]

    def spike_set(self, population: str) -> set[tuple[int, int]]:
        """The spikes of a population as a set of ``(step, i)`` pairs."""
        i, step = self._spikes_of(population)
        return set(zip(step.tolist(), i.tolist()))

    def spike_count(self, population: str | None = None) -> int:
        if population is None:
            return sum(len(i) for i, _ in self.spikes.values())
        return len(self._spikes_of(population)[0])

    def save(self, path: str | Path) -> Path:
        """Write ``P.i``, ``P.step`` (int64) and ``P.VAR`` traces to an ``.npz`` file."""
        arrays = {"dt": np.float64(self.dt), "n_steps": np.int64(self.n_steps)}
        for pop, (i, step) in self.spikes.items():
            arrays[f"{pop}.i"] = np.asarray(i, dtype=np.int64)
            arrays[f"{pop}.step"] = np.asarray(step, dtype=np.int64)
        for pop, variables in self.traces.items():
            for var, values in variables.items():
                arrays[f"{pop}.{var}"] = np.asarray(values, dtype=np.float64)
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"'{path}' is a folder; give a file name for the .npz file.")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    def summary(self) -> str:
        """A short human-readable summary (spike counts and rates)."""
        seconds = self.n_steps * self.dt
        lines = [f"backend {self.backend}: {self.n_steps} steps of {self.dt * 1e3:g} ms ({seconds:g} s) in {self.wall_time:.2f} s"]
        for pop, (i, _) in self.spikes.items():
            lines.append(f"  {pop:<12s} {len(i):8d} spikes")
        return "\n".join(lines)


def sort_spikes(i: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort spikes by step then neuron index; return int64 arrays."""
    i = np.asarray(i, dtype=np.int64)
    step = np.asarray(step, dtype=np.int64)
    order = np.lexsort((i, step))
    return i[order], step[order]
