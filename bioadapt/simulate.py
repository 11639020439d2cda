"""`simulate`: run a network on any backend and get a `SimulationResult`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backends.registry import BACKENDS as _BACKENDS
from .errors import BackendError, ConfigError
from .network import NetworkSpec, load_network, steps_of
from .network.record import check_record
from .result import SimulationResult, StoredState

__all__ = ["simulate", "BACKENDS"]

#: Names of the backends `simulate` runs a network on (`bioadapt.backends.registry.BACKENDS`).
BACKENDS = _BACKENDS.names


def simulate(
    network: NetworkSpec | str | Path,
    backend: str = "numpy",
    record: dict | None = None,
    drive: dict | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    fast_math: bool = False,
    directory: str | None = None,
    math: str = "numpy",
    compute_capability: float | None = None,
    inputs: dict | None = None,
    record_every=None,
    changes: dict | None = None,
    store: bool = False,
    restore: StoredState | None = None,
) -> SimulationResult:
    """Simulate a network on one backend.

    Parameters
    ----------
    network : NetworkSpec or path
        A loaded spec or a network TOML file.
    backend : {"numpy", "cpp_standalone", "cuda_standalone", "torch"}
        ``cuda_standalone`` (Brian2CUDA, the ``cuda`` extra) needs the CUDA
        toolkit and an NVIDIA GPU.
    record : dict, optional
        ``population -> [variables]`` to record at the end of every step;
        a projection's name records synaptic variables (one column per
        synapse, in the spec's synapse order).
    changes : dict, optional
        Values set during the run, as a Brian2 script sets them between
        ``run()`` calls (``run(50*ms); G.I = 2*nA; run(50*ms)``):
        ``{time: {population: {variable: value}}}``, at a time on the grid
        after the start (``"50*ms"``, a quantity or seconds), a value a
        number, a quantity (``"2*nA"``) or one per neuron (SI numbers).
        Parameters and state variables alike; the constants a scheme
        computes from parameters (propagators, decays) follow them. A
        projection's name sets its synaptic variables (``S.w = ...``:
        ``weight`` and its model's, one value or one per synapse in the
        spec's order).
    record_every : time, optional
        Record every this often instead (``"1*ms"``, a quantity, or
        seconds; a whole number k of steps): the end of steps 0, k, 2k, ...,
        as Brian2's ``StateMonitor(..., dt=k*dt)``; ``result.trace_steps``
        are their steps.
    drive : dict, optional
        ``population -> {variable: array (n_steps, size)}`` written at the
        start of every step (external input currents), in SI units like
        every value of a `NetworkSpec` (amperes for a variable in ``amp``).
    dtype, device : str
        torch backend only: ``"float64"``/``"float32"`` and ``"cpu"``/``"cuda"``.
    math : {"numpy", "libm"}
        torch backend only: reproduce the elementary functions of Brian2's
        numpy runtime or of compiled code (cpp_standalone) bit for bit.
    fast_math, directory : cpp_standalone and cuda_standalone only.
    compute_capability : float, optional
        cuda_standalone only: GPU architecture (default: the GPU's).
    store : bool
        Keep the network's whole state at the end of the run in
        ``result.stored`` (Brian2's ``net.store()``): the numpy runtime and
        the twin.
    restore : StoredState, optional
        Start from a stored state (Brian2's ``net.restore()``) instead of the
        network's initial values, and run for the network's duration from
        the time it holds: state variables, spikes in flight, refractoriness
        and the time carry on, as in one run; values set in ``changes`` (at
        ``0*ms`` too: after the restore, before the run) apply on top, as
        ``restore(); G.I = ...; run()``. Steps, spikes and traces of the
        result count from the restored time; input spikes and ``t`` in the
        code run on from it. The same backend family (numpy runtime or twin)
        and the same network structure as the run that stored it.
    inputs : dict, optional
        ``input population -> spikes``: ``"poisson:20*Hz"``, a ``.npz`` file
        or a mapping with ``i`` and ``t`` (seconds) or ``i`` and ``step``, or
        a 0/1 raster ``(n_steps, size)`` (`bioadapt.network.inputs`). A
        ``spikes`` population needs its spikes here.

    Examples
    --------
    The same network in Brian2's numpy runtime and in the twin: the same spikes
    and the same values, to the last bit.

    >>> from bioadapt import network_from_dict
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "100*ms", "seed": 0,
    ...     "populations": {"inp": {"kind": "poisson", "size": 20, "rate": "50*Hz"},
    ...                     "hid": {"model": "lif", "size": 10}},
    ...     "projections": [{"source": "inp", "target": "hid", "on_pre": "I_post += weight",
    ...                      "connect": "all_to_all", "weight": 0.5}]})
    >>> brian = simulate(spec, backend="numpy", record={"hid": ["v"]})
    >>> twin = simulate(spec, backend="torch", record={"hid": ["v"]})
    >>> brian.spike_count("hid") > 0, brian.spike_set("hid") == twin.spike_set("hid")
    (True, True)
    >>> bool((brian.traces["hid"]["v"] == twin.traces["hid"]["v"]).all())
    True
    >>> simulate("examples/adlif_network.toml", backend="nest")
    Traceback (most recent call last):
    ...
    bioadapt.errors.BackendError: simulate: backend must be one of numpy, cpp_standalone, cuda_standalone, torch, got 'nest'.
    """
    _BACKENDS.check(backend, "simulate: backend")
    if backend == "torch":
        ignored = {"fast_math": fast_math, "directory": directory, "compute_capability": compute_capability}
        ignored = [k for k, v in ignored.items() if v not in (None, False)]
    else:
        ignored = {"dtype": dtype != "float64", "device": device != "cpu", "math": math != "numpy"}
        ignored = [k for k, v in ignored.items() if v]
    if ignored:
        raise BackendError(f"{', '.join(ignored)}: not an option of backend '{backend}' (see simulate's parameters).")
    spec = network if isinstance(network, NetworkSpec) else load_network(network)
    spec = _given_inputs(spec, inputs)
    record = _checked_record(spec, record)
    drive = _checked_drive(spec, drive)
    every = 1 if record_every is None else steps_of(record_every, spec, "record_every")
    changes = checked_changes(spec, changes, at_start=restore is not None)
    if store or restore is not None:
        _check_store(spec, backend, restore, drive)
    if backend == "torch":
        from .backends.torch import run_twin

        return run_twin(spec, record=record, drive=drive, dtype=dtype, device=device, math=math, record_every=every, changes=changes, store=store, restore=restore)
    from .backends.brian import run_brian

    return run_brian(spec, target=backend, record=record, drive=drive, directory=directory, fast_math=fast_math, compute_capability=compute_capability, record_every=every,
                     changes=changes, store=store, restore=restore)


def _check_store(spec: NetworkSpec, backend: str, restore, drive):
    """``store``/``restore`` where they work: the numpy runtime and the twin, a
    stored state of the same family and network."""
    if backend in ("cpp_standalone", "cuda_standalone"):
        raise BackendError(f"store/restore: backend '{backend}' runs a compiled binary, which keeps no state between calls (Brian2's standalone mode has no store/restore); "
                           "use the numpy runtime or the twin, or bioadapt.long_run for one long run in chunks.")
    if restore is None:
        return
    if not isinstance(restore, StoredState):
        raise ConfigError(f"restore: expected the `stored` of a result of simulate(..., store=True), got {type(restore).__name__}.")
    family = "torch" if backend == "torch" else "numpy"
    if restore.backend != family:
        raise ConfigError(f"restore: the state was stored by the {restore.backend} backend; it restores there ({'torch' if restore.backend == 'torch' else 'numpy'}), not in '{backend}'.")
    if restore.sizes != spec.sizes() or restore.dt != spec.dt:
        raise ConfigError(f"restore: the state was stored for populations {restore.sizes} at dt = {restore.dt * 1e3:g} ms; this network has {spec.sizes()} at dt = {spec.dt * 1e3:g} ms.")
    if drive and backend != "torch":
        raise ConfigError("restore: a drive with a restored state is not offered in the numpy runtime (its drive is read at the absolute time); use the twin, or set the values with changes.")


def checked_changes(spec: NetworkSpec, changes, at_start: bool = False) -> list:
    """``changes`` as ``[(step, {population: {variable: float64 array (size,)}})]`` in time order
    (``at_start``: step 0 too, the values set after a restore)."""
    from .errors import ParameterError
    from .quantities import parse_quantity, unit_text
    from brian2.units import fundamentalunits as fu

    out = {}
    for when, populations in (changes or {}).items():
        step = 0 if at_start and _is_zero(when) else steps_of(when, spec, f"changes at {when!r}")
        if step >= spec.n_steps:
            raise ConfigError(f"changes at {when!r}: after the end of the run ({spec.duration * 1e3:g} ms).")
        if not isinstance(populations, dict):
            raise ConfigError(f"changes at {when!r}: expected {{population: {{variable: value}}}}, got {populations!r}.")
        projections = {p.name: p for p in spec.projections}
        for name, variables in populations.items():
            if name in projections:  # S.w = ...: the synapse's variables
                proj = projections[name]
                settable, owner = proj.settable, f"projection '{name}'"
                eqs = proj.equations
                units = {var: proj.weight_unit if var == "weight" else unit_text(eqs[var].dim) for var in settable}
                sizes = {var: 1 if var != "weight" and "shared" in eqs[var].flags else proj.size for var in settable}
                what = "synapses"
            else:
                pop = _neuron_population(spec, name, f"changes at {when!r}")
                equations = pop.model.brian_equations
                settable, owner = sorted(n for n in equations.names if n not in equations.subexpr_names and n not in pop.linked), f"population '{name}'"
                units = {var: unit_text(equations[var].dim) for var in settable}
                sizes = dict.fromkeys(settable, pop.size)
                what = "neurons"
            for var, value in (variables or {}).items():
                where = f"changes at {when!r}: {name}.{var}"
                if var not in settable:
                    raise ConfigError(f"{where}: not a variable of {owner} ({', '.join(settable)}).")
                try:
                    quantity = parse_quantity(value, where) if isinstance(value, str) else value
                except ParameterError as exc:
                    raise ConfigError(str(exc)) from None
                dim = fu.get_dimensions(quantity)
                array = np.asarray(quantity, dtype=np.float64)
                if isinstance(value, str) and unit_text(dim) != units[var]:
                    raise ConfigError(f"{where}: {value!r} is not in {units[var]}.")
                if array.shape not in ((), (sizes[var],)) or not np.all(np.isfinite(array)):
                    raise ConfigError(f"{where}: expected a finite number or {sizes[var]} of them (one per {what[:-1]}), got shape {array.shape}.")
                out.setdefault(step, {}).setdefault(name, {})[var] = np.broadcast_to(array, (sizes[var],)).copy()
    return sorted(out.items())


def _is_zero(when) -> bool:
    from .quantities import as_seconds

    try:
        return as_seconds(when, "changes") == 0
    except Exception:
        return False


def _given_inputs(spec: NetworkSpec, inputs) -> NetworkSpec:
    """``spec`` with ``inputs``; a ``spikes`` population left without spikes is an error."""
    from .network.inputs import HOW_TO_GIVE_INPUT, missing_inputs, with_inputs

    given = with_inputs(spec, inputs)
    missing = missing_inputs(spec, inputs)
    if missing:
        raise ConfigError(f"{spec.source}: input population(s) {', '.join(repr(m) for m in missing)} (kind 'spikes') have no spikes: {HOW_TO_GIVE_INPUT}.")
    return given


def _neuron_population(spec: NetworkSpec, name, what: str):
    pop = spec.populations.get(name) if isinstance(name, str) else None
    if pop is None or pop.is_input:
        names = ", ".join(p.name for p in spec.populations.values() if not p.is_input)
        raise ConfigError(f"{what}: {name!r} is not a neuron population ({names}).")
    return pop


def _checked_record(spec: NetworkSpec, record) -> dict:
    """``record`` with a single variable name accepted for a list of one (the
    backend looks the variables up: Brian2's group, the twin's program)."""
    return check_record(spec, record)


def _checked_drive(spec: NetworkSpec, drive) -> dict:
    """``drive`` as float64 arrays of shape (n_steps, size), all finite."""
    checked = {}
    for name, variables in (drive or {}).items():
        pop = _neuron_population(spec, name, "drive")
        checked[name] = {}
        for var, values in variables.items():
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (spec.n_steps, pop.size):
                raise ConfigError(f"drive {name}.{var}: expected shape (n_steps, size) = {(spec.n_steps, pop.size)}, got {values.shape}.")
            if not np.all(np.isfinite(values)):
                raise ConfigError(f"drive {name}.{var}: contains NaN or infinite values.")
            checked[name][var] = values
    return checked
