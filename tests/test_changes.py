"""Values changed during a run (``simulate(..., changes=...)``), as a Brian2 script sets them
between ``run()`` calls: what such a script computes, bit for bit, in the numpy runtime, the
twin and cpp_standalone; the exact scheme's propagators follow a changed time constant (closed
form); one error per bad change."""

import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate

CHANGES = {"30*ms": {"hid": {"v": 0.5, "tau_m": "10*ms"}}, "60*ms": {"hid": {"v_rest": [0.3] * 8, "tau_syn": 2e-3}}}


def _net(scheme="euler", rate="40*Hz"):
    return {"dt": "0.1*ms", "duration": "100*ms", "seed": 2,
            "populations": {"inp": {"kind": "poisson", "size": 30, "rate": rate}, "hid": {"model": "lif", "size": 8, "scheme": scheme}},
            "projections": [{"name": "S", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "rand()*0.6"}]}


def _plain_groups(spec, synapse_model, on_pre):
    """The input, the neurons and the synapses of ``spec`` as a plain Brian2 script makes
    them (numpy runtime; call within `brian_device`)."""
    from brian2 import NeuronGroup, SpikeGeneratorGroup, Synapses, defaultclock, ms, prefs

    hid, inp, proj = spec.populations["hid"], spec.populations["inp"], spec.projections[0]
    prefs.codegen.target = "numpy"
    defaultclock.dt = 0.1 * ms
    source = SpikeGeneratorGroup(inp.size, inp.input_indices, inp.input_steps * 0.1 * ms)
    group = NeuronGroup(hid.size, hid.model.equations, threshold=hid.model.threshold, reset=hid.model.reset, refractory=hid.model.refractory, method="euler", namespace={})
    for var, values in hid.values.items():
        group.variables[var].set_value(values)
    syn = Synapses(source, group, synapse_model, on_pre=on_pre, namespace={})
    syn.connect(i=proj.i, j=proj.j)
    syn.weight = proj.weight
    return source, group, syn


def test_changes_are_what_a_brian2_script_computes_between_runs():
    from brian2 import Network, StateMonitor, ms

    from bioadapt.backends.brian.device import brian_device

    spec = network_from_dict(_net())
    ours = simulate(spec, backend="numpy", record={"hid": ["v", "I"]}, changes=CHANGES)
    twin = simulate(spec, backend="torch", record={"hid": ["v", "I"]}, changes=CHANGES)
    with brian_device("numpy", seed=0):
        source, group, syn = _plain_groups(spec, "weight : 1", "I_post += weight")
        monitor = StateMonitor(group, ["v", "I"], record=True, when="end")
        net = Network(source, group, syn, monitor)
        net.run(30 * ms)
        group.v = 0.5
        group.tau_m = 10 * ms
        net.run(30 * ms)
        group.v_rest = 0.3
        group.tau_syn = 2 * ms
        net.run(40 * ms)
        plain = {var: np.asarray(getattr(monitor, var + "_")).T for var in ("v", "I")}
    unchanged = simulate(spec, backend="numpy", record={"hid": ["v"]})
    assert not np.array_equal(unchanged.traces["hid"]["v"], plain["v"]) and ours.spike_count("hid") > 5
    for var in ("v", "I"):
        assert np.array_equal(ours.traces["hid"][var], plain[var]), var
        assert np.array_equal(twin.traces["hid"][var], plain[var]), var


def test_exact_propagators_follow_a_changed_time_constant():
    """Without input, v relaxes to v_rest with the time constant of the moment: after
    tau_m = 10 ms is set at 30 ms (with v = 0.5), v(t) = 0.5*exp(-(t - 30 ms)/10 ms)
    (1e-12); numpy = twin and cpp_standalone = twin(libm), bit for bit."""
    spec = network_from_dict(_net(scheme="exact", rate="0*Hz"))
    changes = {"30*ms": {"hid": {"v": 0.5, "tau_m": "10*ms"}}}
    record = {"hid": ["v"]}
    numpy = simulate(spec, backend="numpy", record=record, changes=changes)
    assert np.array_equal(numpy.traces["hid"]["v"], simulate(spec, backend="torch", record=record, changes=changes).traces["hid"]["v"])
    steps = np.arange(300, 1000)
    expected = 0.5 * np.exp(-(steps + 1 - 300) * 1e-4 / 10e-3)
    assert np.allclose(numpy.traces["hid"]["v"][300:, 0], expected, rtol=1e-12, atol=0)
    cpp = simulate(spec, backend="cpp_standalone", record=record, changes=changes)
    assert np.array_equal(cpp.traces["hid"]["v"], simulate(spec, backend="torch", record=record, changes=changes, math="libm").traces["hid"]["v"])


def test_synaptic_values_changed_between_runs_as_a_brian2_script_sets_them():
    """``S.weight = ...`` between runs (one value per synapse, in the spec's order) and a plastic
    synapse's state (``S.w = ...``, with its shared ``gmax``): what a plain Brian2 script computes
    in the numpy runtime, bit for bit, in the twin and the numpy runtime (cpp_standalone: below)."""
    from brian2 import Network, StateMonitor, ms

    from bioadapt.backends.brian.device import brian_device

    net = _net()
    net["projections"][0].update(model="w : 1\ngmax : 1 (shared)", on_pre="I_post += weight*w\nw = clip(w + 0.05, 0, gmax)", values={"w": "rand()", "gmax": 1.0})
    spec = network_from_dict(net)
    proj = spec.projections[0]
    new_weight = np.linspace(0.1, 0.9, proj.size)
    changes = {"40*ms": {"S": {"weight": new_weight, "w": 0.25, "gmax": 0.5}}}
    record = {"hid": ["v"], "S": ["w"]}
    ours = simulate(spec, backend="numpy", record=record, changes=changes)
    twin = simulate(spec, backend="torch", record=record, changes=changes)
    with brian_device("numpy", seed=0):
        source, group, syn = _plain_groups(spec, "weight : 1\nw : 1\ngmax : 1 (shared)", "I_post += weight*w\nw = clip(w + 0.05, 0, gmax)")
        syn.w = proj.values["w"]
        syn.gmax = 1.0
        monitors = StateMonitor(group, "v", record=True, when="end"), StateMonitor(syn, "w", record=True, when="end")
        network = Network(source, group, syn, *monitors)
        network.run(40 * ms)
        syn.weight = new_weight
        syn.w = 0.25
        syn.gmax = 0.5
        network.run(60 * ms)
        plain = {"v": np.asarray(monitors[0].v_).T, "w": np.asarray(monitors[1].w_).T}
    assert plain["w"][-1].max() == 0.5 and plain["w"][399].max() > 0.5
    for result in (ours, twin):
        assert np.array_equal(result.traces["hid"]["v"], plain["v"]) and np.array_equal(result.traces["S"]["w"], plain["w"]), result.backend


@pytest.mark.slow  # (a cpp project; the numpy runtime and the twin are compared with a plain Brian2 script above by default)
def test_cpp_standalone_changes_synaptic_values_as_the_twin():
    net = _net()
    net["projections"][0].update(model="w : 1\ngmax : 1 (shared)", on_pre="I_post += weight*w\nw = clip(w + 0.05, 0, gmax)", values={"w": "rand()", "gmax": 1.0})
    spec = network_from_dict(net)
    changes = {"40*ms": {"S": {"weight": np.linspace(0.1, 0.9, spec.projections[0].size), "w": 0.25, "gmax": 0.5}}}
    record = {"hid": ["v"], "S": ["w"]}
    cpp = simulate(spec, backend="cpp_standalone", record=record, changes=changes)
    libm = simulate(spec, backend="torch", record=record, changes=changes, math="libm")
    assert np.array_equal(cpp.traces["S"]["w"], libm.traces["S"]["w"]) and np.array_equal(cpp.traces["hid"]["v"], libm.traces["hid"]["v"])


@pytest.mark.parametrize("changes, message", [
    ({"30.05*ms": {"hid": {"v": 0}}}, r"changes at '30.05\*ms': 30.05 ms must be a positive whole number of steps"),
    ({"100*ms": {"hid": {"v": 0}}}, r"changes at '100\*ms': after the end of the run \(100 ms\)"),
    ({"10*ms": {"inp": {"v": 0}}}, r"changes at '10\*ms': 'inp' is not a neuron population \(hid\)"),
    ({"10*ms": {"hid": {"u": 0}}}, r"changes at '10\*ms': hid.u: not a variable of population 'hid'"),
    ({"10*ms": {"hid": {"tau_m": "3*mV"}}}, r"changes at '10\*ms': hid.tau_m: '3\*mV' is not in second"),
    ({"10*ms": {"hid": {"v": [1, 2]}}}, r"changes at '10\*ms': hid.v: expected a finite number or 8 of them \(one per neuron\), got shape \(2,\)"),
    ({"10*ms": {"S": {"v": 0}}}, r"changes at '10\*ms': S.v: not a variable of projection 'S' \(weight\)"),
    ({"10*ms": {"S": {"weight": [1, 2]}}}, r"changes at '10\*ms': S.weight: expected a finite number or 240 of them \(one per synapse\)"),
    ({"10*ms": {"S": {"weight": "2*mV"}}}, r"changes at '10\*ms': S.weight: '2\*mV' is not in 1"),
])
def test_bad_changes_get_one_error(changes, message):
    with pytest.raises(ConfigError, match=message):
        simulate(network_from_dict(_net()), backend="numpy", changes=changes)
