"""Several on_pre pathways in one projection (Brian2's ``Synapses(on_pre={"up": ...,
"down": ...}, delay={...})``): what a plain Brian2 script computes, bit for bit, with
per-synapse delays in each pathway; the one-step rectangular current of Izhikevich 2003
(`tests/brian2_examples`, whose port compares numpy, cpp_standalone and the twin); the twin
with and without gradients; a finer dt; and clear refusals."""

import numpy as np
import pytest
import torch

from bioadapt import BackendError, ConfigError, network_from_dict, simulate
from bioadapt.backends.torch import Twin
from bioadapt.network import at_dt
from brian2_examples.test_ports import MODELS, izhikevich_2003

# per-synapse delays in both pathways: the spike-queue order of each is its own
DELAYS = {"up": "uniform(0*ms, 3*ms)", "down": "uniform(1*ms, 5*ms)"}


def _net(delay=None, noise=False, steps=400):
    net, record = izhikevich_2003(steps=steps, ne=48, ni=12, noise=noise)
    if delay is not None:
        net["projections"][0]["delay"] = delay
    return net, record


def _spec(**kwargs):
    net, record = _net(**kwargs)
    return network_from_dict(net, folder=MODELS), record


def test_pathways_are_what_brian2_computes():
    """A plain Brian2 script (numpy runtime) with the same group, values and synapses,
    ``on_pre`` as a dict and each pathway's delays set per synapse (``S.up.delay``,
    ``S.down.delay``): the same v and I at every step; with the pathways' delays
    exchanged the result differs."""
    from brian2 import NeuronGroup, Network, StateMonitor, Synapses, defaultclock, ms, prefs

    from bioadapt.backends.brian.device import brian_device

    spec, _ = _spec(delay=DELAYS)
    pop, proj = spec.populations["N"], spec.projections[0]
    assert set(proj.delay_steps) == {"up", "down"} and len(set(proj.delay_steps["up"])) == 4 and len(set(proj.delay_steps["down"])) == 5
    ours = simulate(spec, backend="numpy", record={"N": ["v", "I"]})
    with brian_device("numpy", seed=0):
        prefs.codegen.target = "numpy"
        defaultclock.dt = 1 * ms
        group = NeuronGroup(pop.size, pop.model.equations, threshold=pop.model.threshold, reset=pop.model.reset, method="euler", namespace={})
        for var, values in pop.values.items():
            group.variables[var].set_value(values)
        syn = Synapses(group, group, "w : 1", on_pre={"up": "I += w", "down": "I -= w"}, namespace={})
        syn.connect(i=proj.i, j=proj.j)
        syn.w = proj.values["w"]
        syn.up.delay = proj.delay_steps["up"] * ms
        syn.down.delay = proj.delay_steps["down"] * ms
        monitor = StateMonitor(group, ["v", "I"], record=True, when="end")
        Network(group, syn, monitor).run(spec.duration * 1e3 * ms)
        plain = {var: np.asarray(getattr(monitor, var)).T for var in ("v", "I")}
    assert ours.spike_count("N") > 100
    for var in ("v", "I"):
        assert np.array_equal(ours.traces["N"][var], plain[var]), var
    swapped = simulate(_spec(delay={"up": DELAYS["down"], "down": DELAYS["up"]})[0], backend="numpy", record={"N": ["v"]})
    assert not np.array_equal(swapped.traces["N"]["v"], plain["v"])


def test_rectangular_current_of_izhikevich_2003():
    """up (delay 0) adds w in the step of the spike, down (delay 1 ms = 1 step) takes it
    away in the next: at the end of every step I is the sum of w over that step's spikes
    (to rounding: I accumulates additions and subtractions)."""
    spec, _ = _spec(noise=True, steps=300)
    run = simulate(spec, backend="numpy", record={"N": ["I"]})
    proj, n = spec.projections[0], spec.populations["N"].size
    weights = np.zeros((n, n))
    np.add.at(weights, (proj.i, proj.j), proj.values["w"])
    raster = np.zeros((spec.n_steps, n))
    indices, steps = run.spikes["N"]
    raster[steps, indices] = 1
    assert len(indices) > 100
    np.testing.assert_allclose(run.traces["N"]["I"], raster @ weights, rtol=0, atol=1e-12)


def test_twin_with_and_without_gradients_and_at_a_finer_dt():
    spec, record = _spec(delay=DELAYS, noise=True)
    numpy = simulate(spec, backend="numpy", record=record)
    twin = Twin(spec)
    with torch.no_grad():
        events = twin(record=record)
    full = twin(record=record)  # gradients on: every synapse every step
    for var in record["N"]:
        assert np.array_equal(events.traces["N"][var][:, 0].numpy(), numpy.traces["N"][var]), var
        assert torch.equal(full.traces["N"][var].detach(), events.traces["N"][var]), var
    full.traces["N"]["v"].sum().backward()
    grad = twin.params["S"]["w"].grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    fine = at_dt(spec, "0.5*ms")
    for name in ("up", "down"):  # the same times on the new grid
        assert np.array_equal(fine.projections[0].delay_steps[name], 2 * spec.projections[0].delay_steps[name])
    record = {"N": ["v"]}
    assert np.array_equal(simulate(fine, backend="numpy", record=record).traces["N"]["v"], simulate(fine, backend="torch", record=record).traces["N"]["v"])


def test_bad_pathways_are_refused_with_the_key():
    net, _ = _net()
    proj = net["projections"][0]
    cases = [
        ({"on_pre": {"pre": "I += w"}}, r"key 'on_pre': the pathway name 'pre' is taken"),
        ({"on_pre": {"w": "I += w"}}, r"key 'on_pre': the pathway name 'w' is taken"),
        ({"on_pre": {}}, r"key 'on_pre' is an empty table"),
        ({"on_pre": {"up": 3}}, r"key 'on_pre.up' must be a string"),
        ({"delay": {"up": "1*ms", "sideways": "2*ms"}}, r"key 'delay' names \['sideways'\], which are not pathways"),
        ({"delay": {"up": "1*mV"}}, r"key 'delay.up' must be a time"),
        ({"delay": {"down": "-1*ms"}}, r"key 'delay.down' gives negative delays"),
        ({"on_pre": "I += w", "delay": {"up": "1*ms"}}, r"key 'delay' is a table, which gives the delays of several on_pre pathways"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError, match=r"projections\[0\]: " + message):
            network_from_dict({**net, "projections": [{**proj, **change}]}, folder=MODELS)
    # a pathway the twin cannot run as Brian2 does is named by its key
    with pytest.raises(BackendError, match=r"projection 'S': on_pre.up statement 'v_post = w' assigns a neuron variable"):
        Twin(network_from_dict({**net, "projections": [{**proj, "on_pre": {"up": "v_post = w", "down": "I -= w"}}]}, folder=MODELS))
    spec = network_from_dict(net, folder=MODELS)
    with pytest.raises(BackendError, match="several on_pre pathways; learnable delays take a projection with one"):
        Twin(spec, synapses="dense").learn_delays("S", max_steps=3)


@pytest.mark.brian_standalone
def test_standalone_binary_reads_each_pathways_delays_and_keeps_them_fixed():
    from bioadapt.backends.brian.standalone import StandaloneNetwork

    spec, record = _spec(delay=DELAYS, steps=100)
    net = StandaloneNetwork(spec, record=record)
    result = net.run()
    assert np.array_equal(result.traces["N"]["v"], simulate(spec, backend="torch", record=record, math="libm").traces["N"]["v"])
    read = net.synapses("S")
    for name in ("up", "down"):
        assert np.array_equal(read["delay_steps"][name], spec.projections[0].delay_steps[name]), name
    with pytest.raises(BackendError, match="projection 'S' has several on_pre pathways, whose delays are fixed in the binary"):
        net.run(delay_steps={"S": np.zeros(spec.projections[0].size, dtype=np.int64)})
