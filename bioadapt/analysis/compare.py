"""Compare discretizations against the grid-independent reference.

For every scheme and time step the network is put on the new grid
(`bioadapt.network.at_dt`: physical delays and input times re-rounded,
one-step inputs with their charge), run on a backend, and compared with
`bioadapt.reference.reference_run` (the limit of the same rule, ``timing``):

- spikes: a grid spike at step k is placed at the end of its step,
  ``(k + 1)*dt`` (the state that crossed the threshold is the state at that
  time); per neuron, reference and grid spikes are matched greedily in time
  order within ``window``; unmatched reference spikes are *missed*,
  unmatched grid spikes *extra*; the timing error is over matched pairs;
- the van Rossum distance (time constant ``tau_vr``) per neuron, averaged;
- the trace error of one variable at the end of every step (RMS and max);
- cost: wall-clock seconds per simulated second (set-up included).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RoundingWarning
from ..network.retime import at_dt
from ..network.spec import NetworkSpec
from ..reference import reference_run

__all__ = ["CompareRow", "compare", "match_spikes", "van_rossum", "write_report"]


@dataclass(frozen=True)
class CompareRow:
    scheme: str
    dt_ms: float
    reference_spikes: int
    spikes: int
    matched: int
    missed: int
    extra: int
    timing_error_mean_ms: float
    timing_error_max_ms: float
    van_rossum: float
    trace_rms: float
    trace_max: float
    seconds_per_simulated_second: float
    rounding_warnings: int


def match_spikes(reference: np.ndarray, grid: np.ndarray, window: float):
    """Greedy time-ordered matching of two sorted spike-time arrays of one neuron.

    Returns the matched time differences ``grid - reference``, the number of
    missed reference spikes and of extra grid spikes.
    """
    diffs = []
    used = np.zeros(len(grid), dtype=bool)
    start = 0
    for t in reference:
        while start < len(grid) and (used[start] or grid[start] < t - window):
            start += 1
        best, best_k = None, None
        k = start
        while k < len(grid) and grid[k] <= t + window:
            if not used[k] and (best is None or abs(grid[k] - t) < best):
                best, best_k = abs(grid[k] - t), k
            k += 1
        if best_k is not None:
            used[best_k] = True
            diffs.append(grid[best_k] - t)
    diffs = np.asarray(diffs)
    return diffs, len(reference) - len(diffs), int((~used).sum())


def van_rossum(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    """van Rossum distance of two spike trains (exponential kernel, closed form)."""

    def kernel_sum(x, y):
        if len(x) == 0 or len(y) == 0:
            return 0.0
        return float(np.exp(-np.abs(x[:, None] - y[None, :]) / tau).sum())

    squared = 0.5 * (kernel_sum(a, a) + kernel_sum(b, b) - 2 * kernel_sum(a, b))
    return float(np.sqrt(max(squared, 0.0)))


def _with_scheme(spec: NetworkSpec, scheme: str) -> NetworkSpec:
    pops = {}
    for name, pop in spec.populations.items():
        if not pop.is_input and pop.model.brian_equations.diff_eq_names:
            pop = dataclasses.replace(pop, scheme=scheme)
        pops[name] = pop
    return dataclasses.replace(spec, populations=pops)


def compare(spec: NetworkSpec, schemes: list[str], dts: list, population: str | None = None, variable: str | None = None, backend: str = "torch", window: float = 2e-3, tau_vr: float = 5e-3, timing: str = "trained") -> list[CompareRow]:
    """Rows of `CompareRow`, one per scheme and time step (seconds, or
    quantities such as ``"0.1*ms"``)."""
    from ..errors import ParameterError
    from ..quantities import as_seconds

    from ..simulate import simulate
    from ..schemes import brian_method

    neurons = [p for p in spec.populations.values() if not p.is_input]
    if population is not None and population not in {p.name for p in neurons}:
        raise ConfigError(f"compare: '{population}' is not a neuron population of {spec.source} ({', '.join(p.name for p in neurons)}).")
    pop = spec.populations[population] if population else (neurons[0] if len(neurons) == 1 else None)
    if pop is None:
        raise ConfigError(f"compare: name the neuron population to compare ({', '.join(p.name for p in neurons)}).")
    if not schemes:
        raise ConfigError("compare: no scheme given.")
    for scheme in schemes:
        brian_method(scheme)
    duration = spec.n_steps * spec.dt
    try:
        dts = [as_seconds(dt, "compare: time step") for dt in dts]
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    for dt in dts:
        if not (np.isfinite(dt) and 0 < dt <= duration):
            raise ConfigError(f"compare: time step {dt * 1e3:g} ms must be positive and at most the run's duration ({duration * 1e3:g} ms).")
    dts = list(dict.fromkeys(dts))
    if not (np.isfinite(window) and window > 0):
        raise ConfigError(f"compare: the spike matching window must be a positive time, got {window * 1e3:g} ms.")
    states = [n for n in pop.model.brian_equations.diff_eq_names]
    variable = variable or (pop.model.threshold.split(">")[0].strip() if pop.model.threshold else states[0])
    if variable not in states:
        raise ConfigError(f"compare: '{variable}' is not a state variable of '{pop.name}' ({', '.join(states)}).")
    grids = {dt: (np.arange(int(round(spec.duration / dt))) + 1) * dt for dt in dts}
    union = np.unique(np.concatenate(list(grids.values())))
    ref = reference_run(spec, record={pop.name: [variable]}, sample_times=union, timing=timing)
    ref_i, ref_t = ref.spike_times[pop.name]
    ref_trace = ref.traces[pop.name][variable]
    rows = []
    for scheme in schemes:
        for dt in dts:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RoundingWarning)
                grid_spec = at_dt(_with_scheme(spec, scheme), dt, timing=timing)
            start = time.perf_counter()
            result = simulate(grid_spec, backend=backend, record={pop.name: [variable]})
            cost = (time.perf_counter() - start) / grid_spec.duration
            g_i, g_step = result.spikes[pop.name]
            g_t = (g_step + 1) * dt
            diffs, missed, extra, distances = [], 0, 0, []
            for n in range(pop.size):
                d, m, e = match_spikes(np.sort(ref_t[ref_i == n]), np.sort(g_t[g_i == n]), window)
                diffs.append(d)
                missed += m
                extra += e
                distances.append(van_rossum(ref_t[ref_i == n], g_t[g_i == n], tau_vr))
            diffs = np.concatenate(diffs) if diffs else np.zeros(0)
            index = np.searchsorted(union, grids[dt])
            error = result.traces[pop.name][variable][: len(index)] - ref_trace[index]
            rows.append(
                CompareRow(
                    scheme=scheme,
                    dt_ms=dt * 1e3,
                    reference_spikes=len(ref_t),
                    spikes=len(g_t),
                    matched=len(diffs),
                    missed=missed,
                    extra=extra,
                    timing_error_mean_ms=float(np.abs(diffs).mean() * 1e3) if len(diffs) else float("nan"),
                    timing_error_max_ms=float(np.abs(diffs).max() * 1e3) if len(diffs) else float("nan"),
                    van_rossum=float(np.mean(distances)),
                    trace_rms=float(np.sqrt(np.mean(error**2))),
                    trace_max=float(np.abs(error).max()),
                    seconds_per_simulated_second=cost,
                    rounding_warnings=sum(issubclass(w.category, RoundingWarning) for w in caught),
                )
            )
    return rows


def write_report(rows: list[CompareRow], folder: str | Path, plot: bool = True) -> list[Path]:
    """Write ``compare.csv``, ``compare.json`` and (with matplotlib) ``compare.png``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = [dataclasses.asdict(r) for r in rows]
    paths = [folder / "compare.csv", folder / "compare.json"]
    with open(paths[0], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    paths[1].write_text(json.dumps(records, indent=2))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..plot import plot_compare

        fig = plot_compare(rows)
        paths.append(folder / "compare.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
