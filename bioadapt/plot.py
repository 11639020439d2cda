"""Figures of simulation results and analyses (matplotlib, imported when a function is called).

Every function draws with pyplot and returns what it drew on (an ``Axes`` or a
``Figure``), so that a notebook or a script shows it and a caller can save it.
matplotlib is an optional dependency: ``pip install 'bioadapt[plot]'``.

Time axes follow Brian2: a spike of step ``k`` is at ``t = k*dt`` (Brian2's
``SpikeMonitor``), a recorded value of step ``k`` is the value at the end of
the step, ``t = (k + 1)*dt``.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = ["plot_compare", "plot_histograms", "plot_raster", "plot_stability_map", "plot_traces"]

TIME_UNITS = {"s": 1.0, "ms": 1e-3}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("bioadapt.plot needs matplotlib: pip install 'bioadapt[plot]'.") from None
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=(7, 3), constrained_layout=True)
    return ax


def _time_scale(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"time_unit {time_unit!r}: use one of {', '.join(TIME_UNITS)}.")
    return TIME_UNITS[time_unit]


def plot_raster(result, populations=None, ax=None, time_unit: str = "ms", markersize: float = 2.0):
    """Spike raster of a `SimulationResult`, one band per population.

    Parameters
    ----------
    result : SimulationResult
    populations : list of str, optional
        Populations to draw, top to bottom (default: every population with
        spikes in ``result``, inputs included, in the result's order).
    ax : matplotlib Axes, optional
        Drawn on a new figure if not given.
    time_unit : {"ms", "s"}

    Returns
    -------
    matplotlib Axes
        The y axis holds the neurons of the populations stacked, the first
        population at the top; the tick labels name the populations.

    Examples
    --------
    >>> from bioadapt import network_from_dict, simulate
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "50*ms", "seed": 1,
    ...     "populations": {"inp": {"kind": "poisson", "size": 5, "rate": "100*Hz"}}})
    >>> ax = plot_raster(simulate(spec))
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['inp']
    """
    names = list(result.spikes) if populations is None else [populations] if isinstance(populations, str) else list(populations)
    missing = [name for name in names if name not in result.spikes]
    if missing:
        raise ConfigError(f"plot_raster: no spikes of {', '.join(map(repr, missing))} in this result (it has {', '.join(result.spikes) or 'none'}).")
    if not names:
        raise ConfigError("plot_raster: the result has no spikes recorded (no population to draw).")
    scale = result.dt / _time_scale(time_unit)
    ax = _axes(ax)
    sizes = [_population_size(result, name) for name in names]
    top = sum(sizes)
    ticks, labels = [], []
    for k, (name, size) in enumerate(zip(names, sizes)):
        top -= size
        i, step = result.spikes[name]
        ax.plot(np.asarray(step) * scale, np.asarray(i) + top, "|", ms=markersize * 2, color=f"C{k % 10}")
        ticks.append(top + (size - 1) / 2)
        labels.append(name)
        if top > 0:
            ax.axhline(top - 0.5, color="0.8", lw=0.5)
    ax.set_yticks(ticks, labels)
    ax.set_ylim(-0.5, sum(sizes) - 0.5)
    ax.set_xlim(0, result.n_steps * scale)
    ax.set_xlabel(f"time ({time_unit})")
    return ax


def _population_size(result, name: str) -> int:
    """Neurons of a population: from its traces if recorded, else the largest spiking index + 1."""
    for values in result.traces.get(name, {}).values():
        return int(np.shape(values)[1])
    i, _ = result.spikes[name]
    return int(np.max(i)) + 1 if len(i) else 1


def plot_traces(result, population: str, variable: str, neurons=None, ax=None, time_unit: str = "ms"):
    """Recorded values of one variable of a population against time.

    Parameters
    ----------
    result : SimulationResult
        With ``variable`` of ``population`` recorded (``record=`` of `simulate`).
    neurons : int or list of int, optional
        Neuron indices to draw (default: the first five).
    ax : matplotlib Axes, optional
    time_unit : {"ms", "s"}

    Returns
    -------
    matplotlib Axes
        One line per neuron, labelled ``POP[i]``.
    """
    recorded = result.traces.get(population, {})
    if variable not in recorded:
        have = ", ".join(f"{p}.{v}" for p, vs in result.traces.items() for v in vs) or "none"
        raise ConfigError(f"plot_traces: {population}.{variable} was not recorded (recorded: {have}); pass record={{{population!r}: [{variable!r}]}} to simulate.")
    values = np.asarray(recorded[variable])
    size = values.shape[1]
    neurons = list(range(min(5, size))) if neurons is None else [neurons] if np.isscalar(neurons) else list(neurons)
    bad = [n for n in neurons if not 0 <= int(n) < size]
    if bad:
        raise ConfigError(f"plot_traces: neuron index {bad[0]} out of range for {population} (size {size}).")
    scale = result.dt / _time_scale(time_unit)
    t = (np.arange(values.shape[0]) + 1) * scale
    ax = _axes(ax)
    for n in neurons:
        ax.plot(t, values[:, int(n)], lw=1, label=f"{population}[{int(n)}]")
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel(variable)
    if len(neurons) > 1:
        ax.legend(frameon=False, fontsize=7)
    return ax


def plot_stability_map(grid, ax=None, labels=None, vmin: float = 0.9, vmax: float = 1.1):
    """Spectral radius of step maps over two parameters, with the stability border.

    Parameters
    ----------
    grid : tuple
        ``(X, Y, DiscreteMap)`` as returned by `bioadapt.analysis.stability_grid`.
    ax : matplotlib Axes, optional
    labels : (str, str), optional
        Axis labels for the two parameters.
    vmin, vmax : float
        Colour range of the spectral radius (centred on 1, the border).

    Returns
    -------
    matplotlib Axes
        Colours: spectral radius; black line: radius 1 (unstable beyond it).
    """
    X, Y, discrete = grid
    radius = np.asarray(discrete.spectral_radius).reshape(np.shape(X))
    ax = _axes(ax)
    image = ax.pcolormesh(X, Y, radius, vmin=vmin, vmax=vmax, cmap="RdBu_r", shading="auto")
    if radius.min() < 1.0 < radius.max():
        ax.contour(X, Y, radius, levels=[1.0], colors="k", linewidths=1)
    ax.figure.colorbar(image, ax=ax, label="spectral radius")
    if labels:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    return ax


def plot_compare(rows):
    """Errors of discretizations against the reference, against dt (the rows of `bioadapt.analysis.compare.compare`).

    Returns
    -------
    matplotlib Figure
        Three panels against dt: trace RMS error, mean spike-time error, and
        missed + extra spikes; one line per scheme.
    """
    rows = list(rows)
    if not rows:
        raise ConfigError("plot_compare: no rows to draw.")
    fig, axes = _pyplot().subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    for scheme in dict.fromkeys(r.scheme for r in rows):
        sel = [r for r in rows if r.scheme == scheme]
        dts = [r.dt_ms for r in sel]
        axes[0].loglog(dts, [r.trace_rms for r in sel], "o-", label=scheme)
        axes[1].loglog(dts, [r.timing_error_mean_ms for r in sel], "o-", label=scheme)
        axes[2].semilogx(dts, [r.missed + r.extra for r in sel], "o-", label=scheme)
    axes[0].set_ylabel("trace RMS error")
    axes[1].set_ylabel("mean spike-time error (ms)")
    axes[2].set_ylabel("missed + extra spikes")
    for ax in axes:
        ax.set_xlabel("dt (ms)")
    axes[0].legend(fontsize=8)
    return fig


def plot_histograms(source, owners=None, variables=None, reference=None, labels=("trained", "initial")):
    """Histograms of every per-neuron and per-synapse value with a spread.

    Parameters
    ----------
    source : NetworkSpec, path of a ``params.json``, or dict
        As for `bioadapt.analysis.distributions`: a network, the parameter
        file of a training run, or ``owner -> {variable: array}``.
    owners, variables : list of str, optional
        Only these populations/projections and these variables.
    reference : same kinds as ``source``, optional
        Values drawn behind (e.g. the network before training).
    labels : (str, str)
        Legend of ``source`` and of ``reference``.

    Returns
    -------
    matplotlib Figure
        One panel per (owner, variable), four per row.
    """
    from .network.values import distributions, network_values

    values = network_values(source)
    ref = network_values(reference) if reference is not None else {}
    keys = [k for k in distributions(values, owners) if variables is None or k[1] in variables]
    if not keys:
        raise ConfigError("plot_histograms: no value with more than one element to draw.")
    cols = min(4, len(keys))
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = _pyplot().subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    for ax, (owner, var) in zip(axes.flat, keys):
        v = np.ravel(values[owner][var])
        r = np.ravel(ref.get(owner, {}).get(var, []))
        bins = np.histogram_bin_edges(np.concatenate([v, r]) if r.size else v, bins=30)
        if r.size:
            ax.hist(r, bins=bins, alpha=0.5, label=labels[1])
        ax.hist(v, bins=bins, alpha=0.6, label=labels[0])
        ax.set_title(f"{owner}.{var}", fontsize=9)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if ref:
        axes.flat[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
