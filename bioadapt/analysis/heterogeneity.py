"""Neural heterogeneity: distributions of (trained) values, homogeneous twins of a network, robustness.

`distributions` summarises every per-neuron or per-synapse value of a network
(a `NetworkSpec`, or a parameter file written by training), `plot_distributions`
draws them, `homogeneous` gives the same network with chosen values replaced by
their population mean (same means, no spread), `perturb` scales values by
``1 + relative*N(0, 1)`` (seeded), and `robustness` measures a trained
network's accuracy (or NMSE) in the twin under such perturbations and under
input noise (spikes flipped with a probability).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..network.retime import at_dt
from ..network.spec import NetworkSpec
from .values import distributions, network_values as _values

__all__ = ["distributions", "plot_distributions", "homogeneous", "perturb", "robustness", "per_step_values"]


def plot_distributions(source, path, owners=None, variables=None, reference=None, labels=("trained", "initial")) -> Path:
    """Histograms of every (owner, var) with spread, optionally over a ``reference`` (e.g. the initial network), written to ``path``.

    The figure of `bioadapt.plot.plot_histograms`, saved and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plot import plot_histograms

    fig = plot_histograms(source, owners=owners, variables=variables, reference=reference, labels=labels)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _replace_values(spec: NetworkSpec, owner: str, changes: dict) -> NetworkSpec:
    if owner in spec.populations and not spec.populations[owner].is_input:
        pop = spec.populations[owner]
        return dataclasses.replace(spec, populations={**spec.populations, owner: dataclasses.replace(pop, values={**pop.values, **changes})})
    for k, proj in enumerate(spec.projections):
        if proj.name == owner:
            projections = list(spec.projections)
            projections[k] = dataclasses.replace(proj, **changes)
            return dataclasses.replace(spec, projections=tuple(projections))
    raise ConfigError(f"'{owner}' is neither a neuron population nor a projection of {spec.source}.")


def _check(spec: NetworkSpec, owner: str, variables) -> list:
    table = _values(spec).get(owner)
    if table is None:
        raise ConfigError(f"'{owner}' is neither a neuron population nor a projection of {spec.source}.")
    for var in variables:
        if var not in table:
            raise ConfigError(f"'{owner}.{var}' is not a value of {spec.source} ({', '.join(sorted(table))}).")
    return list(variables)


def homogeneous(spec: NetworkSpec, owner: str, variables) -> NetworkSpec:
    """``spec`` with each of ``variables`` of ``owner`` replaced by its mean (delays: the rounded mean)."""
    table = _values(spec)[owner] if owner in _values(spec) else None
    changes = {}
    for var in _check(spec, owner, variables):
        v = np.asarray(table[var])
        mean = np.round(v.mean()).astype(v.dtype) if np.issubdtype(v.dtype, np.integer) else v.mean()
        changes[var] = np.full_like(v, mean)
    return _replace_values(spec, owner, changes)


def perturb(spec: NetworkSpec, owner: str, variables, relative: float, seed: int = 0) -> NetworkSpec:
    """``spec`` with ``variables`` of ``owner`` multiplied by ``1 + relative*N(0, 1)`` (one draw per element)."""
    rng = np.random.default_rng([int(seed), 13])
    table = _values(spec)[owner] if owner in _values(spec) else None
    changes = {}
    for var in _check(spec, owner, variables):
        v = np.asarray(table[var], dtype=np.float64)
        if var == "delay_steps":
            raise ConfigError("perturb: delays are whole steps; perturb weights and neuron values.")
        changes[var] = v * (1 + relative * rng.standard_normal(v.shape))
    return _replace_values(spec, owner, changes)


def per_step_values(spec: NetworkSpec) -> list:
    """What in ``spec`` is defined per time step, so that `at_dt` cannot put it
    on another dt (a discrete-time map such as ``stc``, a neuron that fires
    every step): one description per finding, naming the population and why
    (`bioadapt.network.transfer`). One-step inputs held in impulse variables
    are not among them: at another dt they keep their charge."""
    from ..network.transfer import transfer_problems

    return transfer_problems(spec)


def robustness(config, params_path, targets, relative=(0.0, 0.05, 0.1, 0.2), input_flip=(0.0,), split: str = "test", max_samples: int | None = None, seeds=(0,), dtype=None, refine=(1,), timing: str = "trained") -> list:
    """Twin accuracy (or NMSE) of a trained network under value perturbations, input noise and a finer dt.

    ``targets`` is a list of ``(owner, [variables])`` perturbed together by each
    ``relative`` level; ``input_flip`` flips each input spike bit with that
    probability (spike inputs only); each ``refine`` factor k runs the network
    at ``dt/k`` (`bioadapt.network.at_dt` with ``timing``: the same physics,
    one-step inputs with their charge, delays in the new steps, each input
    spike at its original time) and reads the readout at the end of every
    original step. A finer dt is refused for networks defined per step (see
    `per_step_values`). Returns one row per (relative, flip, refine, seed).
    """
    import torch

    from ..backends.torch import Twin
    from ..train.data import batches
    from ..train.evaluate import trained_network
    from ..train.losses import score

    spec, data = trained_network(config, params_path)
    idx = data.subset(split)[:max_samples] if max_samples else data.subset(split)
    dtype = dtype or torch.float64
    if any(k != 1 for k in refine):
        if any(not (isinstance(k, int) and k >= 1) for k in refine):
            raise ConfigError(f"robustness: refine factors must be whole numbers >= 1, got {list(refine)}.")
        if config.input_variable is not None:
            raise ConfigError(f"robustness: a finer dt needs spike input; '{config.task['input']}' is driven with one value per step.")
        at_dt(spec, spec.dt / max(refine), timing=timing)  # refuses a network defined per step, before any run
    rows = []
    for level in relative:
        for flip in input_flip:
            for k, seed in [(k, seed) for k in refine for seed in seeds]:
                s = spec
                for owner, variables in targets:
                    s = perturb(s, owner, variables, level, seed=seed) if level else s
                s = at_dt(s, s.dt / k, timing=timing) if k != 1 else s
                twin = Twin(s, drive_vars={config.input_population: [config.input_variable]} if config.input_variable else None, dtype=dtype, synapses="dense")
                rng = np.random.default_rng([int(seed), 17])
                ys = []
                with torch.no_grad():
                    for chunk in batches(idx, config.eval_batch_size, None):
                        x = data.x[chunk].transpose(1, 0, 2).astype(np.float64)
                        if flip:
                            if config.input_variable is not None:
                                raise ConfigError("robustness: input_flip applies to spike inputs.")
                            x = np.where(rng.random(x.shape) < flip, 1 - x, x)
                        if k != 1:  # each spike at its time, in the first of the k fine steps
                            fine = np.zeros((x.shape[0] * k,) + x.shape[1:])
                            fine[::k] = x
                            x = fine
                        xt = torch.as_tensor(x, dtype=dtype)
                        inputs, drive = ({config.input_population: xt}, {}) if config.input_variable is None else ({}, {config.input_population: {config.input_variable: xt}})
                        out = twin(inputs=inputs, drive=drive, record={config.readout_population: [config.readout_variable]})
                        y = out.traces[config.readout_population][config.readout_variable].to(torch.float64)
                        ys.append(y[k - 1::k])  # at the end of every original step
                y = torch.cat(ys, dim=1)
                target = data.y[idx] if data.kind == "classification" else data.target[idx].transpose(1, 0, 2)
                rows.append({"relative": level, "input_flip": flip, "refine": k, "dt": s.dt, "seed": seed, **score(config.loss, y, torch.as_tensor(target), config.ignore_first)})
    return rows
