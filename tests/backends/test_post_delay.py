"""Delays of the on_post pathway (Brian2's ``S.post.delay``) as the projection key
``post_delay``: what a plain Brian2 script with ``S.post.delay`` computes, bit for bit in
the numpy runtime, the twin (with and without gradients) and cpp_standalone; under
``at_dt`` the same times on the new grid."""

import numpy as np
import pytest
import torch

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.backends.torch import Twin
from bioadapt.network import at_dt

STDP = """w : 1
dApre/dt = -Apre/(20*ms) : 1 (event-driven)
dApost/dt = -Apost/(20*ms) : 1 (event-driven)"""
ON_PRE = "I_post += w\nApre += 0.01\nw = clip(w + Apost, 0, 1)"
ON_POST = "Apost += -0.0105\nw = clip(w + Apre, 0, 1)"


def _net(post_delay="uniform(0*ms, 4*ms)", duration="200*ms"):
    proj = {"name": "S", "source": "inp", "target": "out", "model": STDP, "values": {"w": "rand()*0.5"}, "on_pre": ON_PRE, "on_post": ON_POST, "delay": "uniform(0*ms, 3*ms)"}
    if post_delay is not None:
        proj["post_delay"] = post_delay
    return {"dt": "0.1*ms", "duration": duration, "seed": 5, "projections": [proj],
            "populations": {"inp": {"kind": "poisson", "size": 60, "rate": "30*Hz"}, "out": {"model": "lif", "size": 5}}}


def test_post_delays_are_what_brian2_computes_with_s_post_delay():
    """A plain Brian2 script (numpy runtime) with the network's synapses, its delays as
    ``S.pre.delay`` and ``S.post.delay``, fed the same input spikes: the same weights at
    every step; without the post delays they differ."""
    from brian2 import NeuronGroup, Network, SpikeGeneratorGroup, StateMonitor, Synapses, defaultclock, ms, prefs

    from bioadapt.backends.brian.device import brian_device

    spec = network_from_dict(_net())
    proj, out, inp = spec.projections[0], spec.populations["out"], spec.populations["inp"]
    ours = simulate(spec, backend="numpy", record={"S": ["w"]})
    with brian_device("numpy", seed=0):
        prefs.codegen.target = "numpy"
        defaultclock.dt = 0.1 * ms
        source = SpikeGeneratorGroup(inp.size, inp.input_indices, inp.input_steps * 0.1 * ms)
        neurons = NeuronGroup(out.size, out.model.equations, threshold=out.model.threshold, reset=out.model.reset, refractory=out.model.refractory, method=out.scheme,
                              namespace={})
        for var, values in out.values.items():
            neurons.variables[var].set_value(values)
        syn = Synapses(source, neurons, model=STDP, on_pre=ON_PRE, on_post=ON_POST, namespace={})
        syn.connect(i=proj.i, j=proj.j)
        syn.w = proj.values["w"]
        syn.pre.delay = proj.delay_steps * 0.1 * ms
        syn.post.delay = proj.post_delay_steps * 0.1 * ms
        monitor = StateMonitor(syn, "w", record=True, when="end")
        Network(source, neurons, syn, monitor).run(200 * ms)
        plain = np.asarray(monitor.w_).T
    assert proj.post_delay_steps.max() >= 30 and len(set(proj.post_delay_steps)) > 10
    assert ours.spike_count("out") > 20 and np.array_equal(ours.traces["S"]["w"], plain)
    without = simulate(network_from_dict(_net(post_delay=None)), backend="numpy", record={"S": ["w"]})
    assert not np.array_equal(without.traces["S"]["w"], plain)


def test_twin_follows_post_delays_with_and_without_gradients():
    spec = network_from_dict(_net())
    record = {"S": ["w", "Apost"], "out": ["v"]}
    numpy = simulate(spec, backend="numpy", record=record)
    twin = Twin(spec)
    with torch.no_grad():
        events = twin(record=record)
    full = twin(record=record)  # gradients on: every synapse every step
    for owner, variables in record.items():
        for var in variables:
            assert np.array_equal(events.traces[owner][var][:, 0].numpy(), numpy.traces[owner][var]), (owner, var)
            assert torch.equal(full.traces[owner][var].detach(), events.traces[owner][var]), (owner, var)


@pytest.mark.slow  # (a cpp project; the numpy runtime and the twin are compared above by default)
def test_cpp_standalone_follows_post_delays():
    spec = network_from_dict(_net())
    record = {"S": ["w", "Apost"], "out": ["v"]}
    cpp = simulate(spec, backend="cpp_standalone", record=record)
    libm = simulate(spec, backend="torch", record=record, math="libm")
    assert cpp.spike_set("out") == libm.spike_set("out") and np.array_equal(cpp.traces["S"]["w"], libm.traces["S"]["w"])


def test_post_delays_at_a_finer_dt_and_bad_keys():
    spec = network_from_dict(_net(post_delay="2*ms", duration="100*ms"))
    fine = at_dt(spec, "0.05*ms")
    assert (fine.projections[0].post_delay_steps == 40).all()
    assert np.array_equal(simulate(fine, backend="numpy", record={"S": ["w"]}).traces["S"]["w"], simulate(fine, backend="torch", record={"S": ["w"]}).traces["S"]["w"])
    bad = _net()
    del bad["projections"][0]["on_post"]
    with pytest.raises(ConfigError, match=r"projections\[0\]: key 'post_delay' delays the on_post pathway"):
        network_from_dict(bad)
    for value, message in (("-1*ms", "key 'post_delay' gives negative delays"), ("2*mV", r"key 'post_delay' must be a time")):
        with pytest.raises(ConfigError, match=message):
            network_from_dict(_net(post_delay=value))
