"""bioadapt.plot draws the numbers it is given, where Brian2 puts them in time."""

import sys

import numpy as np
import pytest

from bioadapt import SimulationResult
from bioadapt.errors import ConfigError

pytest.importorskip("matplotlib")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bioadapt.plot import plot_histograms, plot_raster, plot_stability_map, plot_traces  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _result():
    spikes = {"inp": (np.array([0, 2, 1]), np.array([1, 1, 4])), "hid": (np.array([3, 0]), np.array([2, 5]))}
    u = np.arange(6 * 4, dtype=float).reshape(6, 4)
    return SimulationResult(spikes=spikes, traces={"hid": {"u": u}}, backend="numpy", dt=0.5e-3, n_steps=6)


def test_raster_places_each_spike_at_its_step_and_band():
    result = _result()
    ax = plot_raster(result)
    inp, hid = [line for line in ax.lines if line.get_marker() == "|"]
    # spikes of step k at t = k*dt (Brian2's SpikeMonitor), in ms
    assert np.array_equal(inp.get_xdata(), [0.5, 0.5, 2.0]) and np.array_equal(hid.get_xdata(), [1.0, 2.5])
    # hid (4 neurons, size from its traces) at the bottom, inp (3: largest index + 1) stacked above it
    assert np.array_equal(hid.get_ydata(), [3, 0]) and np.array_equal(inp.get_ydata(), [4, 6, 5])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["inp", "hid"]
    assert ax.get_xlim() == (0.0, 3.0)
    only = plot_raster(result, populations="hid", time_unit="s")
    (line,) = only.lines
    assert np.allclose(line.get_xdata(), [1e-3, 2.5e-3])


def test_traces_are_the_recorded_values_at_the_end_of_each_step():
    result = _result()
    ax = plot_traces(result, "hid", "u", neurons=[1, 3])
    assert [line.get_label() for line in ax.lines] == ["hid[1]", "hid[3]"]
    assert np.array_equal(ax.lines[0].get_ydata(), result.traces["hid"]["u"][:, 1])
    assert np.allclose(ax.lines[1].get_xdata(), (np.arange(6) + 1) * 0.5)
    assert len(plot_traces(result, "hid", "u").lines) == 4  # the first five, or all of a smaller population


def test_bad_arguments_name_what_exists():
    result = _result()
    with pytest.raises(ConfigError, match=r"no spikes of 'out' in this result \(it has inp, hid\)"):
        plot_raster(result, populations=["out"])
    with pytest.raises(ConfigError, match=r"hid.w was not recorded \(recorded: hid.u\)"):
        plot_traces(result, "hid", "w")
    with pytest.raises(ConfigError, match="neuron index 4 out of range for hid"):
        plot_traces(result, "hid", "u", neurons=4)
    with pytest.raises(ConfigError, match="time_unit 'us'"):
        plot_raster(result, time_unit="us")


def test_stability_map_colours_are_the_measured_spectral_radius():
    from bioadapt.analysis import stability_grid

    grid = stability_grid("adlif", "exponential_euler", ("a", np.linspace(0, 300, 4)), ("tau_w", np.linspace(0.03, 0.3, 3)), {"tau_u": "25*ms", "b": 0})
    ax = plot_stability_map(grid, labels=("a", "tau_w (s)"))
    mesh = ax.collections[0]
    assert np.array_equal(np.asarray(mesh.get_array()).ravel(), grid[2].spectral_radius)
    assert grid[2].spectral_radius.min() < 1 < grid[2].spectral_radius.max() and len(ax.collections) > 1  # the border is drawn
    assert ax.get_xlabel() == "a"


def test_histograms_draw_every_value_with_spread():
    values = {"hid": {"tau": np.array([1.0, 2.0, 2.0, 3.0]), "theta": np.array([1.0])}, "rec": {"weight": np.array([0.5, -0.5])}}
    fig = plot_histograms(values, reference={"hid": {"tau": np.array([2.0, 2.0, 2.0, 2.0])}})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["hid.tau", "rec.weight"]  # theta has one value: no spread, no panel
    counts = [p.get_height() for p in fig.axes[0].patches]
    assert sum(counts) == 8  # reference and values, four each
    with pytest.raises(ConfigError, match="no value with more than one element"):
        plot_histograms({"hid": {"theta": np.array([1.0])}})


def test_missing_matplotlib_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'bioadapt\[plot\]'"):
        plot_traces(_result(), "hid", "u")
