"""The values of a network or of a training run's parameter file, and their
distributions (what `bioadapt.analysis.heterogeneity` and
`bioadapt.plot.plot_histograms` look at)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .spec import NetworkSpec

__all__ = ["network_values", "distributions"]


def network_values(source) -> dict:
    """``owner -> {var: array}`` from a NetworkSpec, a parameter file path, or such a dict."""
    if isinstance(source, NetworkSpec):
        out = {name: dict(pop.values) for name, pop in source.populations.items() if not pop.is_input}
        for proj in source.projections:
            out[proj.name] = {"weight": proj.weight}
            if proj.on_pre is not None and not proj.several_pathways:
                out[proj.name]["delay_steps"] = proj.delay_steps
        return out
    if isinstance(source, (str, Path)):
        from .params import load_params

        return {owner: {var: value for var, (_, value) in table.items()} for owner, table in load_params(source)["groups"].items()}
    return source


def distributions(source, owners=None) -> dict:
    """Summary statistics of every per-neuron and per-synapse value with more than one element.

    Parameters
    ----------
    source : NetworkSpec, path of a ``params.json``, or dict
        A network, the parameter file of a training run, or
        ``owner -> {variable: array}``.
    owners : list of str, optional
        Only these populations and projections.

    Returns
    -------
    dict
        ``(owner, var) -> {n, mean, std, cv, min, q05, median, q95, max}``.

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> from bioadapt.analysis import distributions
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "10*ms", "seed": 1,
    ...     "populations": {"hid": {"model": "adlif", "size": 4, "values": {"tau_u": "uniform(5*ms, 25*ms)"}}}})
    >>> d = distributions(spec)[("hid", "tau_u")]
    >>> d["n"], round(d["min"], 5), round(d["max"], 5)
    (4, 0.00574, 0.02118)
    """
    stats = {}
    for owner, table in network_values(source).items():
        if owners is not None and owner not in owners:
            continue
        for var, value in table.items():
            v = np.asarray(value, dtype=np.float64).ravel()
            if v.size < 2:
                continue
            mean = float(v.mean())
            std = float(v.std())
            stats[(owner, var)] = {"n": int(v.size), "mean": mean, "std": std, "cv": std / abs(mean) if mean else float("inf"), "min": float(v.min()), "q05": float(np.quantile(v, 0.05)), "median": float(np.median(v)), "q95": float(np.quantile(v, 0.95)), "max": float(v.max())}
    return stats
