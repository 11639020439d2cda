"""Run a `NetworkSpec` in Brian2 (numpy runtime, cpp_standalone or cuda_standalone)."""

from __future__ import annotations

import time

import numpy as np
from brian2 import PopulationRateMonitor, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, second

from ...network.spec import NetworkSpec
from ...result import SimulationResult, StoredState, sort_spikes
from brian2.core.base import BrianObjectException

from ...errors import BackendError
from .build import build_network, segments, set_values, describe_object, root_message
from .device import brian_device

__all__ = ["run_brian"]


def run_brian(
    spec: NetworkSpec,
    target: str = "numpy",
    record: dict | None = None,
    drive: dict | None = None,
    directory: str | None = None,
    fast_math: bool = False,
    compute_capability: float | None = None,
    record_every: int = 1,
    changes: list | None = None,
    store: bool = False,
    restore=None,
) -> SimulationResult:
    """Simulate ``spec`` with Brian2 and return spikes and recorded traces.

    Parameters
    ----------
    target : {"numpy", "cpp_standalone", "cuda_standalone"}
    record : dict, optional
        ``population -> [variables]`` recorded at the end of every step (of
        the steps 0, k, 2k, ... for ``record_every = k``).
    drive : dict, optional
        ``population -> {variable: array (n_steps, size)}`` written at the start
        of every step.
    directory : str, optional
        Standalone project folder (kept); a temporary one otherwise.
    fast_math : bool
        Standalone targets only: compile with fast math (not bit-faithful).
    compute_capability : float, optional
        cuda_standalone only: GPU architecture (default: the GPU's).
    store, restore
        numpy runtime only: keep the state at the end (``result.stored``), or
        start from a stored one (`bioadapt.simulate`).
    """
    start = time.perf_counter()
    if target in ("cpp_standalone", "cuda_standalone"):
        from .standalone import StandaloneNetwork

        if target == "cuda_standalone":
            from .cuda import import_brian2cuda, require_gpu

            import_brian2cuda()
            require_gpu()  # before minutes of compilation, not after
        drive_vars = {p: list(v) for p, v in (drive or {}).items()}
        compiled = StandaloneNetwork(spec, record=record, drive_vars=drive_vars, directory=directory, fast_math=fast_math, target=target, compute_capability=compute_capability, record_every=record_every,
                                     changes=changes)
        try:
            result = compiled.run(drive=drive)
        finally:
            compiled.close()
        result.wall_time = time.perf_counter() - start
        return result
    start_step = restore.step if restore is not None else 0
    if start_step:  # input spikes run on from the restored time
        spec = _shifted_inputs(spec, start_step)
    with brian_device(target, seed=spec.seed):
        net = build_network(spec, record=record, drive=drive, record_every=record_every)
        current = {}
        try:
            if restore is not None:
                _restore(net.network, restore)
            for first, end, change in segments(spec.n_steps, changes or []):  # run(); G.v = ...; run()
                set_values(net, spec, change, current)
                net.network.run((end - first) * spec.dt * second, namespace={})
        except BrianObjectException as exc:
            raise BackendError(f"{spec.source}: {describe_object(spec, getattr(exc, '_brian_objname', '?'))}: {root_message(exc)}") from None
        except Exception as exc:
            raise BackendError(f"{spec.source}: Brian2 failed to run the network: {root_message(exc)}") from None
        empty = np.zeros(0, dtype=np.int64)
        spikes = {name: (empty, empty) for name in spec.populations}
        for name, mon in net.spike_monitors.items():
            steps = np.round(np.asarray(mon.t_) / spec.dt).astype(np.int64) - start_step
            spikes[name] = sort_spikes(np.asarray(mon.i[:]), steps)
        traces = {}
        for name, mon in net.state_monitors.items():
            traces[name] = {var: np.asarray(getattr(mon, var + "_")).T.copy() for var in record[name]}
        stored = None
        if store:
            net.network.store("bioadapt")
            state = net.network._stored_state.pop("bioadapt")
            data = {k: v for k, v in state.items() if k not in _fresh_objects(net.network)}
            # clocks Brian2 names itself (a run_regularly's "..._clock*") by an object that runs on them
            data[_CLOCKS] = {obj.clock.name: obj.name for obj in reversed(net.network.sorted_objects)}
            stored = StoredState("numpy", start_step + spec.n_steps, spec.dt, spec.sizes(), data)
    return SimulationResult(spikes=spikes, traces=traces, backend=target, dt=spec.dt, n_steps=spec.n_steps, wall_time=time.perf_counter() - start, sizes=spec.sizes(), record_every=record_every,
                            stored=stored)


#: key of a stored state's clocks: clock name -> an object running on it
_CLOCKS = "bioadapt_clocks"


def _fresh_objects(network) -> set:
    """Names of the objects a restore leaves as built: monitors (a continued run
    records anew) and input generators (their spikes are this call's)."""
    return {obj.name for obj in network.sorted_objects if isinstance(obj, (StateMonitor, SpikeMonitor, PopulationRateMonitor, SpikeGeneratorGroup))}


def _restore(network, stored):
    """Brian2's ``net.restore()`` of a state stored by an earlier call (the same
    object names), with this network's own monitors and input generators."""
    fresh = _fresh_objects(network)
    state = dict(stored.data)
    objects = {obj.name: obj for obj in network.sorted_objects}
    for clock, owner in state.pop(_CLOCKS).items():  # the same clock under this network's name for it
        if clock in state and owner in objects:
            state[objects[owner].clock.name] = state.pop(clock)
    network.store("bioadapt_fresh")
    own = network._stored_state.pop("bioadapt_fresh")
    state.update({name: own[name] for name in fresh if name in own})
    network._stored_state["bioadapt"] = state
    try:
        network.restore("bioadapt")
    except KeyError as exc:
        raise BackendError(f"restore: the stored state does not fit this network ({exc.args[0] if exc.args else exc}).") from None
    finally:
        network._stored_state.pop("bioadapt", None)


def _shifted_inputs(spec: NetworkSpec, steps: int) -> NetworkSpec:
    """``spec`` with its input populations' spikes ``steps`` later (a run continued from that time)."""
    import dataclasses

    populations = {name: dataclasses.replace(pop, input_steps=np.asarray(pop.input_steps) + steps) if pop.is_input and pop.input_steps is not None else pop
                   for name, pop in spec.populations.items()}
    return dataclasses.replace(spec, populations=populations)
