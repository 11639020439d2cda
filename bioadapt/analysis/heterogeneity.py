"""Neural heterogeneity: distributions of (trained) values, homogeneous twins of a network.

`distributions` summarises every per-neuron or per-synapse value of a network
(a `NetworkSpec`, or a parameter file written by training), `plot_distributions`
draws them, `homogeneous` gives the same network with chosen values replaced by
their population mean (same means, no spread), and `perturb` scales values by
``1 + relative*N(0, 1)`` (seeded). A trained network's accuracy under such
perturbations is `bioadapt.train.robustness`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..network.spec import NetworkSpec
from ..network.values import distributions, network_values as _values

__all__ = ["distributions", "plot_distributions", "homogeneous", "perturb"]


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
    """``spec`` with each of ``variables`` of ``owner`` replaced by its mean (delays: the rounded mean).

    Parameters
    ----------
    spec : NetworkSpec
    owner : str
        A neuron population or a projection.
    variables : list of str
        Its per-neuron (per-synapse) values to make homogeneous.

    Returns
    -------
    NetworkSpec
        The same network, the same means, no spread in those values.

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> from bioadapt.analysis import homogeneous
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "10*ms", "seed": 1,
    ...     "populations": {"hid": {"model": "adlif", "size": 4, "values": {"tau_u": "uniform(5*ms, 25*ms)"}}}})
    >>> same = homogeneous(spec, "hid", ["tau_u"]).populations["hid"].values["tau_u"]
    >>> bool((same == spec.populations["hid"].values["tau_u"].mean()).all())
    True
    """
    table = _values(spec)[owner] if owner in _values(spec) else None
    changes = {}
    for var in _check(spec, owner, variables):
        v = np.asarray(table[var])
        mean = np.round(v.mean()).astype(v.dtype) if np.issubdtype(v.dtype, np.integer) else v.mean()
        changes[var] = np.full_like(v, mean)
    return _replace_values(spec, owner, changes)


def perturb(spec: NetworkSpec, owner: str, variables, relative: float, seed: int = 0) -> NetworkSpec:
    """``spec`` with ``variables`` of ``owner`` multiplied by ``1 + relative*N(0, 1)``.

    Parameters
    ----------
    spec : NetworkSpec
    owner : str
        A neuron population or a projection.
    variables : list of str
        Its values to perturb (one draw per element).
    relative : float
        The standard deviation of the relative change.
    seed : int
        The draws' seed: the same seed, the same perturbation.

    Returns
    -------
    NetworkSpec

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> from bioadapt.analysis import perturb
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "10*ms", "seed": 1,
    ...     "populations": {"hid": {"model": "adlif", "size": 4, "values": {"tau_u": "uniform(5*ms, 25*ms)"}}}})
    >>> noisy = perturb(spec, "hid", ["tau_u"], relative=0.1, seed=0)
    >>> (noisy.populations["hid"].values["tau_u"] / spec.populations["hid"].values["tau_u"]).round(3)
    array([1.121, 1.124, 0.955, 0.977])
    """
    rng = np.random.default_rng([int(seed), 13])
    table = _values(spec)[owner] if owner in _values(spec) else None
    changes = {}
    for var in _check(spec, owner, variables):
        v = np.asarray(table[var], dtype=np.float64)
        if var == "delay_steps":
            raise ConfigError("perturb: delays are whole steps; perturb weights and neuron values.")
        changes[var] = v * (1 + relative * rng.standard_normal(v.shape))
    return _replace_values(spec, owner, changes)
