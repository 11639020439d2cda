"""Brian2's PoissonInput as ``[[poisson_inputs]]``: per neuron and step a binomial
number of N draws of probability rate*dt (`bioadapt.noise`), the same numbers in
the numpy runtime, cpp_standalone and the twin (bitwise), distributed as Brian2's
own PoissonInput draws them, at any dt; bad entries get one error naming the key."""

import numpy as np
import pytest
from scipy import stats

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.network import at_dt

COUNTER = """
equations = "dv/dt = 0*volt/second : volt"
"""


def _net(model="lif", **poisson):
    entry = {"target": "hid", "target_var": "v", "N": 1000, "rate": "10*Hz", "weight": 0.02, **poisson}
    return {"dt": "0.1*ms", "duration": "100*ms", "seed": 4, "populations": {"hid": {"model": model, "size": 40}}, "poisson_inputs": [entry]}


def test_numpy_cpp_standalone_and_the_twin_draw_the_same_inputs():
    spec = network_from_dict(_net())
    record = {"hid": ["v", "I"]}
    numpy = simulate(spec, backend="numpy", record=record)
    twin = simulate(spec, backend="torch", record=record)
    cpp = simulate(spec, backend="cpp_standalone", record=record)
    libm = simulate(spec, backend="torch", record=record, math="libm")
    assert numpy.spike_count("hid") > 100
    assert numpy.spike_set("hid") == twin.spike_set("hid") == cpp.spike_set("hid")
    assert np.array_equal(numpy.traces["hid"]["v"], twin.traces["hid"]["v"])
    assert np.array_equal(cpp.traces["hid"]["v"], libm.traces["hid"]["v"])


def test_counts_are_distributed_as_brian2s_poisson_input(tmp_path):
    """A counter (dv/dt = 0) adds N*rate*dt*weight per step on average: bioadapt's inputs
    against Brian2's own PoissonInput on the same counter (numpy runtime, its own generator):
    two-sample Kolmogorov-Smirnov on the final values of 2000 neurons, and the mean and variance
    of the binomial sum."""
    from brian2 import NeuronGroup, PoissonInput, Network, defaultclock, mV, ms, Hz, seed, prefs

    (tmp_path / "counter.toml").write_text(COUNTER)
    n, steps, trials, rate, weight = 2000, 200, 500, 20.0, 0.1e-3
    spec = network_from_dict({"dt": "0.1*ms", "duration": f"{steps * 0.1}*ms", "seed": 9, "populations": {"hid": {"model": str(tmp_path / "counter.toml"), "size": n}},
                              "poisson_inputs": [{"target": "hid", "target_var": "v", "N": trials, "rate": f"{rate}*Hz", "weight": "0.1*mV"}]}, folder=tmp_path)
    ours = simulate(spec, backend="numpy", record={"hid": ["v"]}).traces["hid"]["v"][-1]
    prefs.codegen.target = "numpy"
    seed(11)
    defaultclock.dt = 0.1 * ms
    group = NeuronGroup(n, "dv/dt = 0*volt/second : volt")
    net = Network(group, PoissonInput(group, "v", trials, rate * Hz, weight=0.1 * mV))
    net.run(steps * 0.1 * ms)
    brian = np.asarray(group.v_)
    p = rate * 1e-4
    mean, var = steps * trials * p * weight, steps * trials * p * (1 - p) * weight**2
    assert stats.ks_2samp(ours, brian).pvalue > 1e-3
    for values in (ours, brian):
        assert abs(values.mean() - mean) < 5 * np.sqrt(var / n)
        assert abs(values.var() / var - 1) < 5 * np.sqrt(2 / n)


def test_units_and_finer_dt():
    """A weight in the target's unit (amp into I_syn); at a finer dt rate*dt shrinks and the
    twin still equals the numpy runtime."""
    spec = network_from_dict({"dt": "0.1*ms", "duration": "50*ms", "seed": 1, "populations": {"hid": {"model": "tests/models/valid/lif_physical.toml", "size": 30}},
                              "poisson_inputs": [{"target": "hid", "target_var": "I_syn", "N": 200, "rate": "50*Hz", "weight": "0.2*nA"}]})
    fine = at_dt(spec, "0.05*ms")
    for s in (spec, fine):
        numpy = simulate(s, backend="numpy", record={"hid": ["v", "I_syn"]})
        twin = simulate(s, backend="torch", record={"hid": ["v", "I_syn"]})
        assert np.array_equal(numpy.traces["hid"]["I_syn"], twin.traces["hid"]["I_syn"]) and numpy.traces["hid"]["I_syn"].max() > 1e-10
        assert numpy.spike_set("hid") == twin.spike_set("hid")


@pytest.mark.parametrize("change, message", [
    ({"target": "nope"}, r"poisson_inputs\[0\]: key 'target' must name a neuron population \(hid\) or a subgroup of one \('hid\[0:10\]'\), got 'nope'"),
    ({"target_var": "x"}, r"poisson_inputs\[0\]: key 'target_var' must be a variable of population 'hid'"),
    ({"N": 0}, r"poisson_inputs\[0\]: key 'N' must be an integer >= 1, got 0"),
    ({"rate": "20*kHz"}, r"poisson_inputs\[0\]: rate\*dt = 2 must be between 0 and 1"),
    ({"rate": "20*mV"}, r"poisson_inputs\[0\]: key 'rate' must be a rate"),
    ({"weight": "1*mV"}, r"poisson_inputs\[0\]: key 'weight' must be a finite value in 1 \(the unit of 'v'\), got '1\*mV'"),
    ({"bogus": 1}, r"poisson_inputs\[0\]: unknown key\(s\) \['bogus'\]"),
    ({"name": "hid"}, r"poisson_inputs\[0\]: name 'hid' is used twice"),
])
def test_bad_entries_name_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        network_from_dict(_net(**change))


def test_a_coarser_dt_beyond_one_draw_per_step_is_refused():
    spec = network_from_dict(_net(rate="6000*Hz"))
    with pytest.raises(ConfigError, match=r"poisson input 'poisson_input_0': rate\*dt = 1.2 > 1 at dt = 0.2 ms"):
        simulate(at_dt(spec, "0.2*ms"), backend="numpy")


def test_the_event_driven_reference_refuses_poisson_inputs():
    from bioadapt.errors import BackendError
    from bioadapt.reference import reference_run

    with pytest.raises(BackendError, match="reference: poisson input 'poisson_input_0' is noise drawn per step"):
        reference_run(network_from_dict(_net()))
