"""`SimulationResult`: what every backend returns, and its ``.npz`` form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError

__all__ = ["SimulationResult", "StoredState"]


class StoredState:
    """The whole state of a network at the end of a run, as Brian2's
    ``Network.store()`` keeps it (state variables, spikes in flight, the time,
    ``lastspike``): ``simulate(..., restore=stored)`` continues from it.

    ``backend`` is the family that wrote it (``"numpy"``: Brian2's own
    stored state; ``"torch"``: the twin's state tensors); ``step`` the time
    reached, in steps of ``dt``; ``sizes`` the network's populations. A state
    restores into the backend family that wrote it and a network of the same
    populations, projections and dt.
    """

    def __init__(self, backend: str, step: int, dt: float, sizes: dict, data):
        self.backend, self.step, self.dt, self.sizes, self.data = backend, int(step), float(dt), dict(sizes), data

    def __repr__(self) -> str:
        return f"StoredState({self.backend}, step {self.step}, t = {self.step * self.dt * 1e3:g} ms)"


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
        at the end of every step; with ``record_every = k``, of the steps
        0, k, 2k, ... only (``ceil(n_steps / k)`` rows, `trace_steps`).
    backend : str
    dt : float
        Time step in seconds.
    n_steps : int
    wall_time : float
        Seconds spent simulating (building and compiling included).
    sizes : dict
        ``population -> number of neurons`` (for `population_rate`).
    record_every : int
        Steps between two recorded rows of ``traces``.
    stored : StoredState or None
        The network's state at the end of the run (``simulate(..., store=True)``),
        for a later ``simulate(..., restore=...)``.
    """

    spikes: dict
    traces: dict = field(default_factory=dict)
    backend: str = ""
    dt: float = 0.0
    n_steps: int = 0
    wall_time: float = 0.0
    sizes: dict = field(default_factory=dict)
    record_every: int = 1
    stored: "StoredState | None" = None

    @property
    def trace_steps(self) -> np.ndarray:
        """The steps of the rows of ``traces`` (0, k, 2k, ... for ``record_every = k``); times are ``trace_steps * dt``."""
        return np.arange(0, self.n_steps, self.record_every, dtype=np.int64)

    def population_rate(self, population: str, window: str | np.ndarray | None = None, width: float | None = None) -> np.ndarray:
        """The population's rate in Hz at every step, as Brian2's `PopulationRateMonitor`
        records it (spikes of the step / dt / size, the same float operations), or
        smoothed as its ``smooth_rate`` smooths it.

        Parameters
        ----------
        window : {"flat", "gaussian"} or array, optional
            ``"gaussian"``: a Gaussian of standard deviation ``width`` (seconds)
            over ``2*round(2*width/dt) + 1`` steps; ``"flat"``: ``width`` rounded
            to an odd number of steps; an array of odd length (no ``width``).
            Windows are normalised to sum 1; the result keeps one value per step.

        Examples
        --------
        >>> import numpy as np
        >>> res = SimulationResult(spikes={"P": (np.array([0, 1, 0]), np.array([0, 0, 2]))}, dt=1e-3, n_steps=4, sizes={"P": 10})
        >>> res.population_rate("P").tolist()
        [200.0, 0.0, 100.0, 0.0]
        >>> res.population_rate("P", window="flat", width=3e-3).round(6).tolist()
        [66.666667, 100.0, 33.333333, 33.333333]
        """
        _, steps = self._spikes_of(population)
        size = self.sizes.get(population)
        if not size:
            raise ConfigError(f"population_rate: the size of '{population}' is not in this result (sizes: {self.sizes or 'none'}).")
        counts = np.bincount(np.asarray(steps, dtype=np.int64), minlength=self.n_steps)[: self.n_steps]
        rate = 1.0 * counts / self.dt / size  # PopulationRateMonitor's order of operations
        if window is None:
            if width is not None:
                raise ConfigError("population_rate: 'width' needs a window ('flat' or 'gaussian').")
            return rate
        if isinstance(window, str):
            if width is None or not width > 0:
                raise ConfigError(f"population_rate: window '{window}' needs a positive width in seconds, got {width!r}.")
            if window == "gaussian":
                half = int(np.round(2 * width / self.dt))
                kernel = np.exp(-np.arange(-half, half + 1) ** 2 * 1.0 / (2 * (width / self.dt) ** 2))
            elif window == "flat":
                kernel = np.ones(int(width / 2 / self.dt) * 2 + 1)
            else:
                raise ConfigError(f"population_rate: window must be 'flat', 'gaussian' or an array, got {window!r}.")
        else:
            if width is not None:
                raise ConfigError("population_rate: give 'width' for a named window only.")
            kernel = np.asarray(window, dtype=np.float64)
            if kernel.ndim != 1 or len(kernel) % 2 != 1:
                raise ConfigError("population_rate: a window array must be one-dimensional with an odd number of values.")
        return np.convolve(rate, kernel * 1.0 / sum(kernel), mode="same")

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
        """Write ``P.i``, ``P.step`` (int64) and ``P.VAR`` traces (rows at the steps ``record_every`` apart) to an ``.npz`` file."""
        arrays = {"dt": np.float64(self.dt), "n_steps": np.int64(self.n_steps), "record_every": np.int64(self.record_every)}
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
