"""Timed arrays (Brian2's `TimedArray`) in model code: ``[timed_arrays.NAME]`` in a
network file; every backend reads them as Brian2 does (the row of a time found with
Brian2's upsampling and rounding, the first and last rows outside), the twin included."""

import brian2 as b2
import numpy as np
import pytest

from bioadapt import ConfigError, at_dt, network_from_dict, simulate
from helpers import assert_same_spikes, assert_same_traces, run_all

MODEL = """
equations = \"\"\"
dv/dt = (stim(t) - v)/tau : 1
dw/dt = (grid(t, i) - w)/tau : volt
tau : second
\"\"\"
threshold = "v > 1.5"
reset = "v = 0"

[defaults]
tau = "2*ms"
"""
STIM = [0.0, 1.0, 3.0, 2.0, -1.0, 2.5]
GRID = [[1, 2, 3], [4, 5, 6], [-2, 0, 2]]


def _net(folder, stim_dt="0.2*ms", **extra):
    (folder / "stim.toml").write_text(MODEL)
    net = {
        "dt": "0.1*ms", "duration": "10*ms", "seed": 1,
        "timed_arrays": {"stim": {"values": STIM, "dt": stim_dt}, "grid": {"values": GRID, "unit": "mV", "dt": "2*ms"}},
        "populations": {"P": {"model": "stim.toml", "size": 3, **extra}},
    }
    return network_from_dict(net, folder=folder)


def _brian2_script(stim_dt: float, steps: int, method: str):
    """The same model in a plain Brian2 script (numpy runtime)."""
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        stim = b2.TimedArray(STIM, dt=stim_dt * b2.ms)
        grid = b2.TimedArray(GRID * b2.mV, dt=2 * b2.ms)
        group = b2.NeuronGroup(3, "dv/dt = (stim(t) - v)/tau : 1\ndw/dt = (grid(t, i) - w)/tau : volt\ntau : second", threshold="v > 1.5", reset="v = 0", method=method, dt=0.1 * b2.ms, namespace={"stim": stim, "grid": grid})
        group.tau = 2 * b2.ms
        monitor = b2.StateMonitor(group, ["v", "w"], record=True, when="end")
        spikes = b2.SpikeMonitor(group)
        b2.Network(group, monitor, spikes).run(steps * 0.1 * b2.ms)
        return np.asarray(monitor.v).T, np.asarray(monitor.w).T, spikes.num_spikes
    finally:
        b2.prefs.codegen.target = target


@pytest.mark.parametrize("stim_dt, scheme", [(0.2, "exact"), (0.3, "euler")])
def test_brian2_scripts_numbers_in_every_backend(tmp_path, stim_dt, scheme):
    """Rows of 1-d and 2-d (per neuron, with a unit) arrays, a dt that is a multiple of
    the network's (Brian2 then integrates exactly: the value is constant over a step)
    and one that is not (2.9999999999999996 steps: Euler, as Brian2 chooses), values
    running out before the run ends: the numpy runtime gives the plain Brian2
    script's traces, and the twin the numpy runtime's, bit for bit."""
    spec = _net(tmp_path, f"{stim_dt}*ms")
    assert spec.populations["P"].scheme == scheme and spec.populations["P"].scheme_origin == "default"
    res = run_all(spec, ["numpy", "torch"], {"P": ["v", "w"]})
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    if scheme == "euler":  # bioadapt's exact computes its propagators numerically; Brian2's symbolically
        v, w, spikes = _brian2_script(stim_dt, spec.n_steps, "euler")
        assert np.array_equal(res["numpy"].traces["P"]["v"], v) and np.array_equal(res["numpy"].traces["P"]["w"], w)
        assert res["numpy"].spike_count("P") == spikes > 0
    w = res["torch"].traces["P"]["w"]
    assert np.abs(w[-1] - np.array([-2e-3, 0, 2e-3])).max() < 0.3e-3  # the last row (-2, 0, 2 mV), held after the values end


@pytest.mark.brian_standalone
def test_cpp_standalone_reads_them_as_the_twin(tmp_path):
    spec = _net(tmp_path)
    res = run_all(spec, ["cpp_standalone", "torch:libm"], {"P": ["v", "w"]})
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def test_another_time_step_keeps_the_arrays_times(tmp_path):
    """At dt/2 (`at_dt`) the arrays keep their own dt: the same input in time."""
    spec = _net(tmp_path, scheme="euler")
    fine = at_dt(spec, "0.05*ms")
    assert fine.timed_arrays is spec.timed_arrays
    res = run_all(fine, ["numpy", "torch"], {"P": ["w"]})
    assert_same_traces(res["numpy"], res["torch"])
    coarse = simulate(spec, record={"P": ["w"]}).traces["P"]["w"]
    assert np.abs(res["numpy"].traces["P"]["w"][1::2] - coarse).max() < 0.1e-3  # Euler's error, not another input


def test_values_from_files_and_python(tmp_path):
    np.save(tmp_path / "stim.npy", np.asarray(STIM))
    (tmp_path / "grid.csv").write_text("\n".join(",".join(str(x) for x in row) for row in GRID))
    spec = _net(tmp_path)
    from_files = network_from_dict(
        {"dt": "0.1*ms", "duration": "10*ms", "seed": 1,
         "timed_arrays": {"stim": {"values": "stim.npy", "dt": "0.2*ms"}, "grid": {"values": "grid.csv", "unit": "mV", "dt": "2*ms"}},
         "populations": {"P": {"model": "stim.toml", "size": 3}}},
        folder=tmp_path)
    from_python = network_from_dict(
        {"dt": "0.1*ms", "duration": "10*ms", "seed": 1,
         "timed_arrays": {"stim": {"values": np.asarray(STIM), "dt": "0.2*ms"}, "grid": {"values": np.asarray(GRID) * b2.mV, "dt": "2*ms"}},
         "populations": {"P": {"model": "stim.toml", "size": 3}}},
        folder=tmp_path)
    for other in (from_files, from_python):
        for name in ("stim", "grid"):
            assert np.array_equal(other.timed_arrays[name].values, spec.timed_arrays[name].values)
            assert other.timed_arrays[name].unit == spec.timed_arrays[name].unit
    assert spec.timed_arrays["grid"].unit == "volt" and spec.timed_arrays["grid"].values[1, 0] == 4e-3


@pytest.mark.parametrize("table, message", [
    ({"values": [1, 2]}, r"\[timed_arrays.stim\]: missing required key 'dt'"),
    ({"values": [1, 2], "dt": "0*ms"}, r"key 'dt' must be positive"),
    ({"values": [1, 2], "dt": "1*mV"}, r"\[timed_arrays.stim\]: key 'dt'"),
    ({"values": [[[1]]], "dt": "1*ms"}, r"must be a non-empty list .* got shape \(1, 1, 1\)"),
    ({"values": [1, float("nan")], "dt": "1*ms"}, r"not finite"),
    ({"values": "missing.npy", "dt": "1*ms"}, r"cannot read '.*missing.npy'"),
    ({"values": [1, 2], "dt": "1*ms", "rate": 3}, r"unknown key\(s\) \['rate'\]"),
    ({"values": ["a", "b"], "dt": "1*ms"}, r"key 'values' must be numbers"),
    ({"values": [1, 2], "dt": "1*ms", "unit": "mV/"}, r"\[timed_arrays.stim\]: key 'unit'"),
])
def test_bad_tables_get_one_error_naming_them(tmp_path, table, message):
    (tmp_path / "stim.toml").write_text(MODEL)
    with pytest.raises(ConfigError, match=message):
        network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "timed_arrays": {"stim": table}, "populations": {"P": {"model": "stim.toml", "size": 3}}}, folder=tmp_path)


def test_names_that_collide_are_refused(tmp_path):
    (tmp_path / "stim.toml").write_text(MODEL)
    for name, message in (("bioadapt_x", "not beginning with 'bioadapt_'"), ("P", "'P' is also the name of a timed array")):
        with pytest.raises(ConfigError, match=message):
            network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "timed_arrays": {name: {"values": [1], "dt": "1*ms"}}, "populations": {"P": {"model": "stim.toml", "size": 3}}}, folder=tmp_path)


def test_the_twins_row_of_one_time_is_numpys():
    """The twin finds the row of one time with Python's float operations
    (``round`` half to even, ``int`` truncating) and of several with numpy's
    (Brian2's numpy implementation): the same rows, at random times, at the
    grid's points, halfway between them (exact ties where K is 1 and the steps are
    powers of 2) and before the first row."""
    import types

    import torch

    from bioadapt.backends.torch.twin import _TimedCall

    rng = np.random.default_rng(0)
    for stim_dt, dt in [(2e-4, 1e-4), (3e-4, 1e-4), (2e-3, 1e-4), (1e-4, 1e-4), (5e-3, 1e-3), (2**-10, 2**-7), (2**-11, 2**-7)]:  # (the last two: K = 1, exact ties)
        call = _TimedCall(types.SimpleNamespace(values=np.arange(50.0), dt=stim_dt), dt, "cpu", torch.float64)
        times = np.concatenate([np.arange(3000) * dt, rng.uniform(-0.01, 0.05, 3000), (np.arange(600) + 0.5) * call.epsilon, -np.arange(20) * dt])
        assert [call._row(float(t)) for t in times] == call._rows(times).tolist(), (stim_dt, dt)
