"""Put a network on another time grid, keeping its physics.

Parameters and time constants are physical quantities and do not change.
Delays are physical too: each is re-rounded to whole steps of the new ``dt``
(``floor(d/dt + 0.5)``), and input spike times ``step*dt`` move to the nearest
new step. Where rounding changes a delay or a spike time, or merges two input
spikes of one neuron into one step, a `RoundingWarning` says how many and by
how much. Refining by an integer factor changes nothing.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..errors import ConfigError, RoundingWarning
from .spec import NetworkSpec

__all__ = ["at_dt"]

#: relative tolerance below which two times are the same instant
SAME_TIME = 1e-9


def at_dt(spec: NetworkSpec, dt: float) -> NetworkSpec:
    """``spec`` on the time grid ``dt`` (seconds), same duration and physics.

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "20*ms",
    ...     "populations": {"hid": {"model": "lif", "size": 2, "values": {"tau_m": "15*ms"}}}})
    >>> fine = at_dt(spec, spec.dt / 10)
    >>> fine.n_steps, float(fine.populations["hid"].values["tau_m"][0])
    (200, 0.015)
    """
    if not dt > 0:
        raise ConfigError(f"at_dt: dt must be positive, got {dt}.")
    n_steps = int(round(spec.duration / dt))
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
        delays = proj.delay_steps * spec.dt
        steps = np.floor(delays / dt + 0.5).astype(np.int64)
        changed = np.abs(steps * dt - delays) > SAME_TIME * max(dt, spec.dt)
        if changed.any():
            warnings.warn(
                RoundingWarning(
                    f"{spec.source}: projection '{proj.name}' at dt = {dt * 1e3:g} ms: {int(changed.sum())} of {len(steps)} delays re-rounded "
                    f"(by up to {np.abs(steps * dt - delays).max() * 1e3:.3g} ms)."
                ),
                stacklevel=2,
            )
        projections.append(dataclasses.replace(proj, delay_steps=steps))
    return dataclasses.replace(spec, dt=float(dt), n_steps=n_steps, populations=populations, projections=tuple(projections))
