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
    """``(owner, var) -> {n, mean, std, cv, min, q05, median, q95, max}`` for every value with more than one element."""
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
