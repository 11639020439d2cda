"""The twin as a simulator: `run_twin` runs a network as `bioadapt.simulate`
does with a Brian2 backend (one trial, no gradients, values set between
``run()`` calls, store and restore) and returns a `SimulationResult`."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ...errors import BackendError
from ...network.spec import NetworkSpec
from .twin import Twin

__all__ = ["run_twin"]


def _changed(spec: NetworkSpec, change: dict) -> NetworkSpec:
    """``spec`` with the values of ``change`` (``population or projection -> {variable: SI array}``)."""
    populations, projections = dict(spec.populations), {p.name: p for p in spec.projections}
    for name, variables in change.items():
        if name in projections:
            proj = projections[name]
            model = {var: value for var, value in variables.items() if var != "weight"}
            projections[name] = dataclasses.replace(proj, weight=variables.get("weight", proj.weight), values={**proj.values, **model})
        else:
            populations[name] = dataclasses.replace(populations[name], values={**populations[name].values, **variables})
    return dataclasses.replace(spec, populations=populations, projections=tuple(projections.values()))


def run_twin(spec: NetworkSpec, record: dict | None = None, drive: dict | None = None, dtype: str = "float64", device: str = "cpu", math: str = "numpy", record_every: int = 1, changes: list | None = None,
             store: bool = False, restore=None):
    """Simulate ``spec`` with the twin (one trial) and return a `SimulationResult`.

    ``changes`` (``[(step, {population or projection: {variable: SI array}})]``) split the run
    where values are set, as a Brian2 script's ``run()`` calls: each part runs
    a twin of the values so far from the state the previous part left, with
    the changed state variables replaced. ``store`` keeps the final state
    (``result.stored``); ``restore`` (a stored state) is the state and time
    the run starts from."""
    import time

    from ...result import SimulationResult, StoredState, sort_spikes

    start = time.perf_counter()
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}.get(dtype)
    if torch_dtype is None:
        raise BackendError(f"dtype must be 'float64' or 'float32', got '{dtype}'.")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise BackendError(f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {device!r}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendError("device 'cuda' was requested, but torch finds no CUDA GPU.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BackendError(f"device '{device}' was requested, but torch finds {torch.cuda.device_count()} CUDA GPU(s).")
    drive = drive or {}
    drive_vars = {pop: list(v) for pop, v in drive.items()}
    drive_t = {pop: {var: torch.as_tensor(np.asarray(v), dtype=torch_dtype, device=device).unsqueeze(1) for var, v in vs.items()} for pop, vs in drive.items()}
    parts, twin, inputs = [], None, None
    offset = restore.step if restore is not None else 0
    state = {key: value.to(device=device, dtype=value.dtype if not value.is_floating_point() else torch_dtype) for key, value in restore.data.items()} if restore is not None else None
    from ..brian.build import segments

    with torch.no_grad():
        for first, end, change in segments(spec.n_steps, changes or []):
            if twin is None or change:
                spec = _changed(spec, change)
                twin = Twin(spec, drive_vars=drive_vars, dtype=torch_dtype, math=math).to(device)
                if inputs is None:  # the input spikes of the whole run, drawn once (a change does not draw them again)
                    inputs = twin.default_inputs()
            if state is not None:
                state = dict(state)
                for name, variables in change.items():  # state variables set as G.v = ... sets them
                    for var, value in variables.items():
                        if (name, var) in state:
                            state[(name, var)] = torch.as_tensor(value, dtype=state[(name, var)].dtype, device=device).reshape(1, -1).expand_as(state[(name, var)]).clone()
            out = twin(inputs={k: x[first:end] for k, x in inputs.items()}, drive={pop: {var: v[first:end] for var, v in vs.items()} for pop, vs in drive_t.items()},
                       n_steps=end - first, record=record, record_every=record_every, start_step=offset + first, state=state, spike_events=True)
            state = out.state
            parts.append(out)
    empty = np.zeros(0, dtype=np.int64)
    spikes = {name: (empty, empty) for name in spec.populations}
    for group in parts[0].spikes:
        steps, idx = [], []
        for part, (begin, end, _) in zip(parts, segments(spec.n_steps, changes or [])):  # each part's spikes as events (step, sample, neuron)
            found = part.spikes[group].cpu().numpy()
            steps.append(found[:, 0] + begin)
            idx.append(found[:, 2])
        spikes[group] = sort_spikes(np.concatenate(idx), np.concatenate(steps))
    traces = {pop: {var: torch.cat([part.traces[pop][var] for part in parts])[:, 0, :].detach().cpu().double().numpy() for var in vs} for pop, vs in parts[0].traces.items()}
    stored = StoredState("torch", offset + spec.n_steps, spec.dt, spec.sizes(), {key: value.detach().cpu() for key, value in state.items()}) if store else None
    return SimulationResult(spikes=spikes, traces=traces, backend=f"torch ({dtype}, {device}, {math} math)", dt=spec.dt, n_steps=spec.n_steps, wall_time=time.perf_counter() - start, sizes=spec.sizes(), record_every=record_every,
                            stored=stored)
