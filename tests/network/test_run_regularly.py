"""``[[run_regularly]]``: Brian2's ``target.run_regularly(code, dt=..., when=..., order=...)``
over a population or a projection, on the network's clock or one of its own (every k steps,
its code reading the group's t and dt as in Brian2), noise included: bitwise alike in the
numpy runtime, cpp_standalone and the twin; one error per bad entry."""

import warnings

import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.errors import BackendError, RoundingWarning
from bioadapt.network import at_dt

RECORD = {"hid": ["v", "I"], "S": ["weight"]}


def _net(*regular):
    return {"dt": "0.1*ms", "duration": "100*ms", "seed": 2,
            "populations": {"inp": {"kind": "poisson", "size": 30, "rate": "40*Hz"}, "hid": {"model": "lif", "size": 8}},
            "projections": [{"name": "S", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "rand()*0.6"}],
            "run_regularly": list(regular) or [
                {"target": "hid", "code": "v = v + 0.2*rand()*(sin(2*pi*t/(7*ms)) + 1)", "dt": "2.5*ms"},
                {"name": "normalise", "target": "S", "code": "weight = weight*0.98", "dt": "10*ms", "when": "before_end"},
                {"target": "hid", "code": "I = I*0.5", "when": "after_groups", "order": 3}]}


def test_every_backend_runs_the_code_at_brian2s_times():
    spec = network_from_dict(_net())
    numpy = simulate(spec, backend="numpy", record=RECORD)
    twin = simulate(spec, backend="torch", record=RECORD)
    for owner, variables in RECORD.items():
        for var in variables:
            assert np.array_equal(numpy.traces[owner][var], twin.traces[owner][var]), (owner, var)
    assert numpy.spike_set("hid") == twin.spike_set("hid") and numpy.spike_count("hid") > 0
    # the weights: multiplied before the end of steps 0, 100, ..., 900 and nowhere else
    w0 = spec.projections[0].weight
    expected, w = [], w0.copy()
    for k in range(1000):
        if k % 100 == 0:
            w = w * 0.98
        expected.append(w)
    assert np.array_equal(numpy.traces["S"]["weight"], np.array(expected))
    cpp = simulate(spec, backend="cpp_standalone", record=RECORD)
    libm = simulate(spec, backend="torch", record=RECORD, math="libm")
    assert cpp.spike_set("hid") == libm.spike_set("hid") and np.array_equal(cpp.traces["hid"]["v"], libm.traces["hid"]["v"])


def test_own_clock_code_reads_the_groups_time():
    """As in Brian2, ``t`` in code on a clock of its own is the group's ``t`` (the network's,
    ``k*dt``), and ``dt`` the group's step: a plain Brian2 script gives the same values."""
    from brian2 import NeuronGroup, Network, StateMonitor, defaultclock, ms, prefs

    from bioadapt.backends.brian.device import brian_device

    code = "v = t/ms + dt/ms"
    spec = network_from_dict(_net({"target": "hid", "code": code, "dt": "2.5*ms", "when": "end"}))
    ours = simulate(spec, backend="torch", record={"hid": ["v"]}).traces["hid"]["v"][:, 0]
    with brian_device("numpy", seed=0):
        prefs.codegen.target = "numpy"
        defaultclock.dt = 0.1 * ms
        group = NeuronGroup(1, "v : 1")
        runner = group.run_regularly(code, dt=2.5 * ms, when="end")
        monitor = StateMonitor(group, "v", record=0, when="end", order=1)
        Network(group, runner, monitor).run(100 * ms)
        plain = np.asarray(monitor.v_[0])
    ticks = np.arange(1000) // 25 * 25
    assert np.array_equal(plain, ticks * 1e-4 / 1e-3 + 0.1) and np.array_equal(ours[ticks], plain[ticks])


@pytest.mark.parametrize("entry, message", [
    ({"target": "nope", "code": "v = 0"}, r"run_regularly\[0\]: key 'target' must name a neuron population or a projection \(hid, S\), or a subgroup \('hid\[0:10\]'\), got 'nope'"),
    ({"target": "inp", "code": "v = 0"}, r"key 'target' must name a neuron population or a projection \(hid, S\), or a subgroup"),
    ({"target": "hid", "code": ""}, r"run_regularly\[0\]: key 'code' must be Brian2 statements"),
    ({"target": "hid", "code": "v = 0", "dt": "0.25*ms"}, r"run_regularly\[0\]: key 'dt' \('0.25\*ms'\) must be a whole number of the network's steps \(dt = 0.1 ms\)"),
    ({"target": "hid", "code": "v = 0", "dt": "1*mV"}, r"run_regularly\[0\]: key 'dt' must be a time"),
    ({"target": "hid", "code": "v = 0", "when": "later"}, r"key 'when' must be one of Brian2's slots"),
    ({"target": "hid", "code": "v = 0", "order": 1.5}, r"key 'order' must be an integer"),
    ({"target": "hid", "code": "v = 0", "name": "S"}, r"key 'name' must be a new identifier, got 'S'"),
    ({"target": "hid", "code": "v = 0", "every": 3}, r"run_regularly\[0\]: unknown key\(s\) \['every'\]"),
])
def test_bad_entries_name_the_key(entry, message):
    with pytest.raises(ConfigError, match=message):
        network_from_dict(_net(entry))


def test_noise_in_run_regularly_code_of_neurons_and_synapses():
    """rand() and randn() in code over a population and over a projection (per synapse): the
    same numbers in the numpy runtime, cpp_standalone and the twin; each entry draws streams
    of its own (not the model's, not another entry's): two entries writing randn() give
    different, uncorrelated standard normal numbers."""
    spec = network_from_dict(_net({"target": "hid", "code": "v_rest = randn()", "when": "before_end"},
                                  {"target": "hid", "code": "I = randn()", "when": "before_end"},
                                  {"target": "S", "code": "weight = 0.5*rand()", "dt": "1*ms", "when": "before_end"}))
    record = {"hid": ["v_rest", "I", "v"], "S": ["weight"]}
    numpy = simulate(spec, backend="numpy", record=record)
    twin = simulate(spec, backend="torch", record=record)
    for owner, variables in record.items():
        for var in variables:
            assert np.array_equal(numpy.traces[owner][var], twin.traces[owner][var]), (owner, var)
    v, current, weight = numpy.traces["hid"]["v_rest"], numpy.traces["hid"]["I"], numpy.traces["S"]["weight"]
    assert abs(v.mean()) < 0.05 and abs(v.std() - 1) < 0.05 and abs(np.corrcoef(v.ravel(), current.ravel())[0, 1]) < 0.05
    assert weight.min() >= 0 and weight.max() < 0.5 and abs(weight.mean() - 0.25) < 0.01
    assert np.array_equal(weight[10:20], np.repeat(weight[10:11], 10, axis=0)) and not np.array_equal(weight[9], weight[10])  # new numbers every 1 ms
    cpp = simulate(spec, backend="cpp_standalone", record=record)
    libm = simulate(spec, backend="torch", record=record, math="libm")
    assert np.array_equal(cpp.traces["S"]["weight"], libm.traces["S"]["weight"]) and np.array_equal(cpp.traces["hid"]["v"], libm.traces["hid"]["v"])


def test_code_and_poisson_input_over_a_subgroup():
    """``target = "hid[2:6]"``: Brian2's ``G[2:6].run_regularly(...)`` (its code's ``i`` the
    subgroup's own index) and a PoissonInput into ``hid[:3]``: a plain Brian2 script gives the
    same values (deterministic code), only the subgroup's neurons change, and numpy, the twin and
    cpp_standalone agree bit for bit with noise."""
    from brian2 import Network, NeuronGroup, StateMonitor, defaultclock, ms, prefs

    from bioadapt.backends.brian.device import brian_device

    code = "v = v + 0.05 + 0.01*i"
    net = {"dt": "0.1*ms", "duration": "20*ms", "seed": 2, "populations": {"hid": {"model": "lif", "size": 10}},
           "run_regularly": [{"target": "hid[2:6]", "code": code, "dt": "1*ms"}]}
    spec = network_from_dict(net)
    ours = simulate(spec, backend="numpy", record={"hid": ["v"]}).traces["hid"]["v"]
    hid = spec.populations["hid"]
    with brian_device("numpy", seed=0):
        prefs.codegen.target = "numpy"
        defaultclock.dt = 0.1 * ms
        group = NeuronGroup(10, hid.model.equations, threshold=hid.model.threshold, reset=hid.model.reset, refractory=hid.model.refractory, method=hid.scheme, namespace={})
        for var, values in hid.values.items():
            group.variables[var].set_value(values)
        runner = group[2:6].run_regularly(code, dt=1 * ms)
        monitor = StateMonitor(group, "v", record=True, when="end")
        Network(group, runner, monitor).run(20 * ms)
        plain = np.asarray(monitor.v_).T
    assert np.array_equal(ours, plain) and np.all(ours[:, [0, 1, 6, 7, 8, 9]] == 0) and np.all(ours[:, 2:6].max(axis=0) > 0)
    net["run_regularly"].append({"target": "hid[5:]", "code": "I = I + 0.2*randn()", "when": "before_end"})
    net["poisson_inputs"] = [{"target": "hid[:3]", "target_var": "v", "N": 50, "rate": "20*Hz", "weight": 0.1}]
    spec = network_from_dict(net)
    record = {"hid": ["v", "I"]}
    numpy, twin = (simulate(spec, backend=b, record=record) for b in ("numpy", "torch"))
    for var in record["hid"]:
        assert np.array_equal(numpy.traces["hid"][var], twin.traces["hid"][var]), var
    current = numpy.traces["hid"]["I"]
    assert np.all(current[:, :5] == 0) and np.all(current[-1, 5:] != 0) and numpy.spike_count("hid") > 0
    cpp = simulate(spec, backend="cpp_standalone", record=record)
    libm = simulate(spec, backend="torch", record=record, math="libm")
    assert np.array_equal(cpp.traces["hid"]["v"], libm.traces["hid"]["v"]) and np.array_equal(cpp.traces["hid"]["I"], libm.traces["hid"]["I"])


def test_errors_at_build_name_the_entry():
    with pytest.raises(BackendError, match=r"run_regularly 'hid_run_regularly_0' of 'hid': unknown name 'nothing'"):
        simulate(network_from_dict(_net({"target": "hid", "code": "v = nothing"})), backend="numpy")
    with warnings.catch_warnings():  # the Poisson input's spikes move to the coarser grid
        warnings.simplefilter("ignore", RoundingWarning)
        coarse = at_dt(network_from_dict(_net({"target": "hid", "code": "v = 0", "dt": "0.5*ms"})), "0.2*ms")
    with pytest.raises(ConfigError, match=r"dt = 0.5 ms is not a whole number of steps of dt = 0.2 ms"):
        simulate(coarse, backend="numpy")
