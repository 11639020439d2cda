"""Put a network on another time grid, keeping its physics.

Parameters and time constants are physical quantities and do not change.
One step of input held in an impulse variable keeps its charge, and the one
step of latency it adds and the one spike per step are kept (`transfer`,
which holds the rule and what it refuses). Delays are physical too: each is re-rounded to whole
steps of the new ``dt`` (``floor(d/dt + 0.5)``), and input spike times
``step*dt`` move to the nearest new step. Where rounding changes a delay or a
spike time, or merges two input spikes of one neuron into one step, a
`RoundingWarning` says how many and by how much. Refining by an integer
factor changes nothing physical; at the network's own dt nothing changes.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..errors import ConfigError, ParameterError, RoundingWarning
from ..quantities import as_seconds
from . import transfer
from .spec import NetworkSpec

__all__ = ["at_dt", "with_duration", "steps_of"]

#: relative tolerance below which two times are the same instant
SAME_TIME = 1e-9


def at_dt(spec: NetworkSpec, dt, timing: str = "trained") -> NetworkSpec:
    """``spec`` on the time grid ``dt``, same duration and physics.

    Parameters
    ----------
    spec : NetworkSpec
    dt : str, brian2 Quantity or float
        ``"0.1*ms"``, ``"0.1ms"``, ``0.1*ms`` or seconds.
    timing : {"trained", "declared"}
        ``"trained"`` keeps the one step of latency of a projection into a
        one-step input variable as a delay and the one spike per step as a
        refractory period of the network's dt; ``"declared"`` keeps only the
        declared delays and refractory periods (`transfer`).

    Raises
    ------
    ConfigError
        For a network defined per step (a discrete-time map such as ``stc``,
        a neuron that fires every step), naming the population and why; for a
        dt that is not a positive time.

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "20*ms",
    ...     "populations": {"hid": {"model": "lif", "size": 2, "values": {"tau_m": "15*ms"}}}})
    >>> fine = at_dt(spec, spec.dt / 10)
    >>> fine.n_steps, float(fine.populations["hid"].values["tau_m"][0])
    (200, 0.015)
    >>> at_dt(spec, "0.1*mV")
    Traceback (most recent call last):
    ...
    bioadapt.errors.ConfigError: at_dt: dt: expected a time such as '0.1*ms' or '0.1ms', got '0.1*mV'.
    """
    try:
        dt = as_seconds(dt, "at_dt: dt")
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    if not dt > 0:
        raise ConfigError(f"at_dt: dt must be positive, got {dt * 1e3:g} ms.")
    if timing not in transfer.TIMINGS:
        raise ConfigError(f"at_dt: timing must be one of {', '.join(repr(x) for x in transfer.TIMINGS)}, got {timing!r}.")
    if dt == spec.dt:
        return spec
    problems = transfer.transfer_problems(spec, timing)
    if problems:
        raise ConfigError(f"{spec.source}: cannot be put on a time step of {dt * 1e3:g} ms (it was written for {spec.dt * 1e3:g} ms): {'; '.join(problems)}.")
    n_steps = int(round(spec.duration / dt))
    if n_steps < 1:
        raise ConfigError(f"at_dt: dt = {dt * 1e3:g} ms is longer than twice the run ({spec.duration * 1e3:g} ms): the run would have no step.")
    if abs(n_steps * dt - spec.duration) > SAME_TIME * spec.duration:
        warnings.warn(RoundingWarning(f"{spec.source}: duration {spec.duration * 1e3:g} ms is not a multiple of dt = {dt * 1e3:g} ms; it becomes {n_steps * dt * 1e3:g} ms."), stacklevel=2)
    populations = {}
    for name, pop in spec.populations.items():
        if not pop.is_input or pop.input_steps is None:  # neurons, or spikes given at run time
            populations[name] = pop
            continue
        times = pop.input_steps * spec.dt
        steps = np.floor(times / dt + 0.5).astype(np.int64)
        keep = steps < n_steps
        steps, indices = steps[keep], pop.input_indices[keep]
        moved = np.abs(steps * dt - times[keep]) > SAME_TIME * max(dt, spec.dt)
        pairs = np.unique(np.stack([steps, indices]), axis=1) if len(steps) else np.zeros((2, 0), dtype=np.int64)
        merged = len(steps) - pairs.shape[1]
        if moved.any() or merged:
            warnings.warn(
                RoundingWarning(
                    f"{spec.source}: input population '{name}' at dt = {dt * 1e3:g} ms: {int(moved.sum())} of {len(steps)} spike times moved "
                    f"(by up to {np.abs(steps * dt - times[keep]).max() * 1e3:.3g} ms), {merged} merged with another spike of the same neuron."
                ),
                stacklevel=2,
            )
        order = np.lexsort((pairs[1], pairs[0]))
        populations[name] = dataclasses.replace(pop, input_steps=pairs[0][order], input_indices=pairs[1][order])
    projections = []
    for proj in spec.projections:
        regridded = {}
        for pathway in [p for p, _, _ in proj.pathways] if proj.several_pathways else [None]:
            steps, missed = transfer.grid_delays(spec, proj, dt, timing, pathway)
            changed = np.abs(missed) > SAME_TIME * max(dt, spec.dt)
            if changed.any():
                which = f"pathway '{pathway}': " if pathway is not None else ""
                warnings.warn(
                    RoundingWarning(
                        f"{spec.source}: projection '{proj.name}' at dt = {dt * 1e3:g} ms: {which}{int(changed.sum())} of {len(steps)} delays re-rounded "
                        f"(by up to {np.abs(missed).max() * 1e3:.3g} ms)."
                    ),
                    stacklevel=2,
                )
            regridded[pathway] = steps
        steps = regridded if proj.several_pathways else regridded[None]
        post = proj.post_delay_steps
        if post is not None:  # the on_post pathway's delays: the same times on the new grid
            seconds = post * spec.dt
            post = np.floor(seconds / dt + 0.5).astype(np.int64)
            moved = np.abs(post * dt - seconds) > SAME_TIME * max(dt, spec.dt)
            if moved.any():
                warnings.warn(RoundingWarning(f"{spec.source}: projection '{proj.name}' at dt = {dt * 1e3:g} ms: {int(moved.sum())} of {len(post)} post delays re-rounded "
                                              f"(by up to {np.abs(post * dt - seconds).max() * 1e3:.3g} ms)."), stacklevel=2)
        projections.append(dataclasses.replace(proj, delay_steps=steps, post_delay_steps=post))
    base = spec.base_dt if spec.base_dt is not None else spec.dt
    return dataclasses.replace(spec, dt=float(dt), n_steps=n_steps, populations=populations, projections=tuple(projections), base_dt=base, timing=timing)


def with_duration(spec: NetworkSpec, duration) -> NetworkSpec:
    """``spec`` run for ``duration`` (``"600*s"``, ``"10ms"``, a quantity or
    seconds) on its own time grid. Poisson inputs are drawn again from the
    network's seed for the new length (the same spikes where the runs
    overlap); spikes given for a ``spikes`` population that fall outside the
    new run are an error."""
    from .inputs import poisson_spikes

    try:
        seconds = as_seconds(duration, "duration")
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    n_steps = int(round(seconds / spec.dt))
    if n_steps < 1:
        raise ConfigError(f"duration: {seconds * 1e3:g} ms is shorter than half a step (dt = {spec.dt * 1e3:g} ms): the run would have no step.")
    if abs(n_steps * spec.dt - seconds) > SAME_TIME * seconds:
        warnings.warn(RoundingWarning(f"{spec.source}: duration {seconds * 1e3:g} ms is not a multiple of dt = {spec.dt * 1e3:g} ms; it becomes {n_steps * spec.dt * 1e3:g} ms."), stacklevel=2)
    if n_steps == spec.n_steps:
        return spec
    populations = dict(spec.populations)
    for name, pop in spec.populations.items():
        if pop.kind == "poisson":
            # the stream `load_network` draws the population from: the same spikes where the runs overlap
            steps, indices = poisson_spikes(spec.seed, f"populations.{name}.spikes", pop.size, pop.rate_hz, spec.dt, n_steps)
            populations[name] = dataclasses.replace(pop, input_steps=steps, input_indices=indices)
        elif pop.kind == "spikes" and pop.input_steps is not None and len(pop.input_steps) and pop.input_steps.max() >= n_steps:
            raise ConfigError(f"duration: input population '{name}' has spikes up to step {int(pop.input_steps.max())}, after the end of a run of {n_steps} steps.")
    return dataclasses.replace(spec, n_steps=n_steps, populations=populations)


def steps_of(value, spec: NetworkSpec, what: str) -> int:
    """A time (``"10*ms"``, a quantity, seconds) as a whole number of steps of ``spec.dt``."""
    try:
        seconds = as_seconds(value, what)
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    steps = int(round(seconds / spec.dt))
    if steps < 1 or abs(steps * spec.dt - seconds) > 1e-9 * max(seconds, spec.dt):
        raise ConfigError(f"{what}: {seconds * 1e3:g} ms must be a positive whole number of steps of dt = {spec.dt * 1e3:g} ms.")
    return steps
