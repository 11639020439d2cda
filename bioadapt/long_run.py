"""Long runs in bounded memory: minutes to hours of biological time.

`long_run` simulates a network in chunks of ``chunk`` and writes what it
records into a folder as it goes, so that memory does not grow with the
duration:

- ``POP.spikes``: int64 pairs ``(step, i)``, little-endian, in the order of
  the run (by step, then neuron), appended after every chunk;
- ``POP.VAR``: float64 rows, one per recorded time, one column per recorded
  neuron: the value at the end of steps ``k - 1, 2k - 1, ...`` (times
  ``record_every, 2*record_every, ...``), ``k = record_every/dt``;
- ``run.json``: the time grid, what was recorded, the backend, the wall time,
  the real-time factor (biological time / wall time of the simulation loop)
  and the peak resident memory of the process that simulated.

`load_long_run` reads a folder back into a `SimulationResult` (traces at the
recording interval). A run in chunks gives the spikes and samples of one
plain run bit for bit (tests).

Backends: ``cpp_standalone`` compiles the network once, with one ``run()``
of a chunk inside a C++ loop over the chunks (Brian2's spike queues and all
state carry over, and code is generated once); after every chunk, inserted
code appends the spike and state monitors' buffers to the files, empties
them and prints a progress line. ``torch`` runs the twin chunk by chunk with
its state (spikes in flight included) carried over; ``numpy`` runs Brian2's
runtime chunk by chunk. Input spikes come from the network (Poisson
populations, or ``inputs=`` as in `simulate`).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from .backends.registry import BACKENDS
from .errors import BackendError, ConfigError
from .network import NetworkSpec, load_network, steps_of
from .network.record import check_record
from .result import SimulationResult, sort_spikes

__all__ = ["long_run", "load_long_run", "LONG_RUN_BACKENDS", "RUN_FILE"]

#: The backends `long_run` runs on (`bioadapt.backends.registry.BACKENDS` that stream chunks).
LONG_RUN_BACKENDS = BACKENDS.where(long_run=True).names
RUN_FILE = "run.json"
#: seconds of wall time between two progress lines
PROGRESS_EVERY = 5.0


def _recorded(spec: NetworkSpec, record, neurons) -> dict:
    """``population -> (variables, neuron indices)``, checked."""
    out = {}
    neurons = neurons or {}
    for name in neurons:
        if name not in (record or {}):
            raise ConfigError(f"neurons: population {name!r} has no recorded variables (record={{'{name}': [...]}}).")
    projections = {p.name: p for p in spec.projections}

    def known(name):  # synaptic variables: weight and the synapse model's
        if name in projections:
            return projections[name].settable, f" ({', '.join(projections[name].settable)})"
        model = spec.populations[name].model
        return model.variables, f" (model {model.name}: {', '.join(model.variables)})"

    for name, variables in check_record(spec, record, known=known).items():
        proj = projections.get(name)
        size = proj.size if proj is not None else spec.populations[name].size
        index = np.arange(size) if name not in neurons else np.asarray(neurons[name])
        if index.ndim != 1 or not len(index) or not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= size or len(np.unique(index)) != len(index):
            raise ConfigError(f"neurons: {'projection' if proj is not None else 'population'} '{name}' needs distinct indices from 0 to {size - 1}, got {neurons.get(name)!r}.")
        out[name] = (variables, index.astype(np.int64))
    return out


def _peak_memory_bytes() -> int:
    """Peak resident memory of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class _Progress:
    def __init__(self, spec: NetworkSpec, enabled: bool):
        self.spec, self.enabled, self.start, self.last = spec, enabled, time.perf_counter(), -np.inf

    def __call__(self, done: int, final: bool = False):
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < PROGRESS_EVERY):
            return
        self.last = now
        wall = now - self.start
        bio = done * self.spec.dt
        print(f"t = {bio:.6g} s of {self.spec.duration:.6g} s ({100 * done / self.spec.n_steps:.0f}%), {wall:.1f} s wall, real-time factor {bio / wall if wall > 0 else float('inf'):.3g}", flush=True)


def long_run(
    network: NetworkSpec | str | Path,
    out: str | Path,
    backend: str = "cpp_standalone",
    record: dict | None = None,
    neurons: dict | None = None,
    record_every=None,
    chunk="1*second",
    inputs: dict | None = None,
    progress: bool = True,
    directory: str | None = None,
    fast_math: bool = False,
    math: str = "numpy",
    dtype: str = "float64",
) -> dict:
    """Simulate ``network`` in chunks, writing spikes and recorded samples to ``out``.

    Parameters
    ----------
    network : NetworkSpec or path
    out : path
        Folder for ``POP.spikes``, ``POP.VAR`` and ``run.json`` (created; files
        of an earlier run there are replaced).
    backend : {"cpp_standalone", "torch", "numpy"}
    record : dict, optional
        ``population -> [variables]`` to record; a projection's name records
        synaptic variables (``{"S": ["w"]}``: plastic weights).
    neurons : dict, optional
        ``population -> [indices]`` of the recorded neurons (default: all), or
        ``projection -> [indices]`` of the recorded synapses.
    record_every : time, optional
        Recording interval (``"10*ms"``), a whole number of steps; default dt.
    chunk : time
        Steps simulated between two writes (``"1*s"``); memory grows with it,
        not with the duration.
    inputs : dict, optional
        Input spikes as in `simulate`.
    progress : bool
        Print a progress line with the real-time factor (at most every few seconds).
    directory, fast_math : cpp_standalone: project folder, fast math.
    math, dtype : torch: elementary functions (``"libm"`` is cpp_standalone's) and float type.

    Returns
    -------
    dict
        The content of ``run.json``.

    Examples
    --------
    >>> info = long_run(spec, "run600", record={"hid": ["u"]}, neurons={"hid": [0, 1]}, record_every="10*ms", chunk="10*s")  # doctest: +SKIP
    >>> info["real_time_factor"]  # doctest: +SKIP
    """
    from .simulate import _given_inputs

    BACKENDS.where(long_run=True).check(backend, "long_run: backend")
    spec = network if isinstance(network, NetworkSpec) else load_network(network)
    spec = _given_inputs(spec, inputs)
    recorded = _recorded(spec, record, neurons)
    every = steps_of(record_every if record_every is not None else spec.dt, spec, "record_every")
    chunk_steps = min(steps_of(chunk, spec, "chunk"), spec.n_steps)
    folder = Path(out)
    if folder.suffix == ".npz" or folder.is_file():
        raise ConfigError(f"long_run: out = '{folder}' must be a folder (spikes and samples are written there chunk by chunk).")
    folder.mkdir(parents=True, exist_ok=True)
    spiking = [name for name, pop in spec.populations.items() if pop.is_input or pop.model.threshold]
    paths = {name: folder / f"{name}.spikes" for name in spiking}
    paths.update({(name, var): folder / f"{name}.{var}" for name, (variables, _) in recorded.items() for var in variables})
    for path in paths.values():
        path.write_bytes(b"")
    show = _Progress(spec, progress)
    if backend == "cpp_standalone":
        from .backends.brian.long_run import run_standalone_chunks

        stats = run_standalone_chunks(spec, folder, paths, recorded, every, chunk_steps, progress, directory, fast_math)
    elif backend == "torch":
        stats = _run_twin_chunks(spec, paths, recorded, every, chunk_steps, show, math, dtype)
    else:
        stats = _run_numpy_chunks(spec, paths, recorded, every, chunk_steps, show)
    info = {
        "format": "bioadapt-long-run/1",
        "network": spec.source,
        "backend": backend if backend != "torch" else f"torch ({dtype}, {math} math)",
        "dt": spec.dt,
        "n_steps": spec.n_steps,
        "duration": spec.duration,
        "chunk_steps": chunk_steps,
        "record_every_steps": every,
        "recorded": {name: {"variables": variables, "neurons": index.tolist()} for name, (variables, index) in recorded.items()},
        "spikes": {name: int(paths[name].stat().st_size // 16) if name in paths else 0 for name in spec.populations},
        "sizes": spec.sizes(),
        **stats,
    }
    info["real_time_factor"] = spec.duration / info["loop_seconds"] if info["loop_seconds"] > 0 else float("inf")
    (folder / RUN_FILE).write_text(json.dumps(info, indent=1))
    return info


def _append_spikes(path: Path, steps: np.ndarray, index: np.ndarray):
    with open(path, "ab") as handle:
        handle.write(np.stack([steps, index], axis=1).astype("<i8").tobytes())


def _append_rows(path: Path, rows: np.ndarray):
    with open(path, "ab") as handle:
        handle.write(np.ascontiguousarray(rows, dtype="<f8").tobytes())


def _sampled(begin: int, end: int, every: int) -> np.ndarray:
    """Positions within steps ``begin .. end - 1`` of the steps recorded (``(step + 1) % every == 0``)."""
    first = (-(begin + 1)) % every
    return np.arange(first, end - begin, every)


def _input_rasters(spec: NetworkSpec, begin: int, end: int, dtype) -> dict:
    import torch

    rasters = {}
    for pop in spec.populations.values():
        if not pop.is_input:
            continue
        lo, hi = np.searchsorted(pop.input_steps, [begin, end])
        x = torch.zeros(end - begin, 1, pop.size, dtype=dtype)
        x[torch.as_tensor(pop.input_steps[lo:hi] - begin), 0, torch.as_tensor(pop.input_indices[lo:hi])] = 1
        rasters[pop.name] = x
    return rasters


def _run_twin_chunks(spec, paths, recorded, every, chunk_steps, show, math, dtype) -> dict:
    import torch

    from .backends.torch import Twin

    torch_dtype = {"float64": torch.float64, "float32": torch.float32}.get(dtype)
    if torch_dtype is None:
        raise BackendError(f"dtype must be 'float64' or 'float32', got '{dtype}'.")
    twin = Twin(spec, dtype=torch_dtype, math=math)
    record = {name: variables for name, (variables, _) in recorded.items()}
    state = None
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, spec.n_steps, chunk_steps):
            end = min(begin + chunk_steps, spec.n_steps)
            out = twin(inputs=_input_rasters(spec, begin, end, torch_dtype), state=state, n_steps=end - begin, record=record, start_step=begin)
            state = out.state
            for name, s in out.spikes.items():
                if name in paths:
                    steps, index = torch.nonzero(s[:, 0, :] > 0, as_tuple=True)
                    _append_spikes(paths[name], steps.numpy() + begin, index.numpy())
            rows = _sampled(begin, end, every)
            for name, (variables, index) in recorded.items():
                for var in variables:
                    values = out.traces[name][var][:, 0, :].to(torch.float64).numpy()
                    _append_rows(paths[(name, var)], values[rows][:, index])
            del out
            show(end, final=end == spec.n_steps)
    return {"loop_seconds": time.perf_counter() - start, "peak_memory_bytes": _peak_memory_bytes(), "peak_memory_of": "the Python process (ru_maxrss)"}


def _run_numpy_chunks(spec, paths, recorded, every, chunk_steps, show) -> dict:
    from brian2 import StateMonitor, second

    from .backends.brian.build import build_network
    from .backends.brian.device import brian_device

    with brian_device("numpy"):
        net = build_network(spec, monitors=True)
        monitors = {}
        for name, (variables, index) in recorded.items():
            owner = net.groups[name] if name in net.groups else net.synapses[name]  # a population, or a projection's synapses
            monitors[name] = StateMonitor(owner, variables, record=index, when="end", clock=net.clock, name=f"{name}_long_trace")
            net.network.add(monitors[name])
        start = time.perf_counter()
        for begin in range(0, spec.n_steps, chunk_steps):
            end = min(begin + chunk_steps, spec.n_steps)
            net.network.run((end - begin) * spec.dt * second, namespace={})
            for name, mon in net.spike_monitors.items():
                steps = np.round(np.asarray(mon.t_) / spec.dt).astype(np.int64)
                _append_spikes(paths[name], steps, np.asarray(mon.i[:], dtype=np.int64))
                mon.resize(0)
                mon.variables["N"].set_value(0)
            for name, mon in monitors.items():
                steps = np.round(np.asarray(mon.t_) / spec.dt).astype(np.int64)
                keep = (steps + 1) % every == 0
                for var in recorded[name][0]:
                    _append_rows(paths[(name, var)], np.asarray(getattr(mon, var + "_")).T[keep])
                mon.resize(0)
            show(end, final=end == spec.n_steps)
        loop = time.perf_counter() - start
    return {"loop_seconds": loop, "peak_memory_bytes": _peak_memory_bytes(), "peak_memory_of": "the Python process (ru_maxrss)"}


def load_long_run(folder: str | Path) -> SimulationResult:
    """The spikes and recorded samples of a `long_run` folder as a
    `SimulationResult` (``traces[pop][var]``: samples x recorded neurons)."""
    folder = Path(folder)
    path = folder / RUN_FILE
    if not path.is_file():
        raise ConfigError(f"'{folder}' is not a long-run folder (no {RUN_FILE}).")
    info = json.loads(path.read_text())
    spikes = {}
    for name in info["spikes"]:  # a population without threshold has no file
        path = folder / f"{name}.spikes"
        pairs = np.fromfile(path, dtype="<i8").reshape(-1, 2) if path.is_file() else np.zeros((0, 2), dtype=np.int64)
        spikes[name] = sort_spikes(pairs[:, 1], pairs[:, 0])
    traces = {}
    for name, entry in info["recorded"].items():
        columns = len(entry["neurons"])
        traces[name] = {var: np.fromfile(folder / f"{name}.{var}", dtype="<f8").reshape(-1, columns) for var in entry["variables"]}
    return SimulationResult(spikes=spikes, traces=traces, backend=info["backend"], dt=info["dt"], n_steps=info["n_steps"], wall_time=info["loop_seconds"], sizes=info.get("sizes", {}))
