"""Run a `NetworkSpec` in Brian2 (numpy runtime, cpp_standalone or cuda_standalone)."""

from __future__ import annotations

import time

import numpy as np
from brian2 import second

from ...network.spec import NetworkSpec
from ...result import SimulationResult, sort_spikes
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
    with brian_device(target, seed=spec.seed):
        net = build_network(spec, record=record, drive=drive, record_every=record_every)
        current = {}
        try:
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
            steps = np.round(np.asarray(mon.t_) / spec.dt).astype(np.int64)
            spikes[name] = sort_spikes(np.asarray(mon.i[:]), steps)
        traces = {}
        for name, mon in net.state_monitors.items():
            traces[name] = {var: np.asarray(getattr(mon, var + "_")).T.copy() for var in record[name]}
    return SimulationResult(spikes=spikes, traces=traces, backend=target, dt=spec.dt, n_steps=spec.n_steps, wall_time=time.perf_counter() - start, sizes=spec.sizes(), record_every=record_every)
