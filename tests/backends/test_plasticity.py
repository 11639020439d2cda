"""Synapses with state of their own (Brian2's ``Synapses(model=..., on_pre=..., on_post=...)``).

Agreement with Brian2 (numpy runtime, cpp_standalone) is shown by the ports of
Brian2's STDP, nonlinear (NMDA) and Tsodyks-Pawelzik-Markram examples in
``tests/brian2_examples/test_ports.py``. Here the results are held against
references that do not come from Brian2's code: the pair-based STDP rule
applied synapse by synapse to the spike times of the run, and the
Tsodyks-Markram recursion of the recovered resources under a regular train.
Gradients through the plastic weights match central differences, and a few
steps of gradient descent train the rule's amplitudes.
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bioadapt import network_from_dict, simulate
from bioadapt.backends.torch import Twin
from bioadapt.errors import BackendError, ConfigError

HERE = Path(__file__).resolve().parent
PORTS = HERE.parent / "brian2_examples"


def _ports():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ports", PORTS / "test_ports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ports = _ports()


def _pair_rule(pre_steps, post_steps, w0, dt, taupre, taupost, dapre, dapost, gmax):
    """Final weight of one synapse under the example's rule, event by event: at a
    presynaptic spike Apre += dApre and w += Apost, at a postsynaptic one
    Apost += dApost and w += Apre (traces decaying exponentially in between,
    w clipped to [0, gmax]); in one step the presynaptic spike comes first."""
    events = sorted([(s, 0) for s in pre_steps] + [(s, 1) for s in post_steps])
    w, apre, apost, last = w0, 0.0, 0.0, 0.0
    for step, kind in events:
        t = step * dt
        apre *= math.exp(-(t - last) / taupre)
        apost *= math.exp(-(t - last) / taupost)
        last = t
        if kind == 0:
            apre += dapre
            w = min(max(w + apost, 0.0), gmax)
        else:
            apost += dapost
            w = min(max(w + apre, 0.0), gmax)
    return w


def test_stdp_weights_follow_the_pair_rule():
    """Every synapse of the STDP port ends where the pair rule, applied to the
    run's spike times, puts it (1e-12: the references' exp is Python's)."""
    net, _ = ports.stdp(steps=5000)
    spec = network_from_dict(net, folder=ports.MODELS)
    twin = Twin(spec)
    with torch.no_grad():
        out = twin(record={"S": ["w"]})
    w = out.traces["S"]["w"][-1, 0].numpy()
    post = torch.nonzero(out.spikes["neurons"][:, 0, 0]).flatten().numpy()
    assert len(post) >= 5  # the neuron fires, so both halves of the rule act
    proj = spec.projections[0]
    inp = spec.populations["poisson_input"]
    values = proj.values
    changed = 0
    for k in range(proj.size):
        pre = inp.input_steps[inp.input_indices == proj.i[k]]
        expected = _pair_rule(pre, post, values["w"][k], spec.dt, values["taupre"][0], values["taupost"][0], values["dApre"][0], values["dApost"][0], values["gmax"][0])
        assert w[k] == pytest.approx(expected, rel=1e-12, abs=1e-18), k
        changed += w[k] != values["w"][k]
    assert changed > 0.9 * proj.size


def test_plastic_pathways_run_alike_with_and_without_gradients():
    """Without gradients the twin runs the on_pre and on_post code for the synapses a
    spike reaches and writes their variables back; with gradients it runs every
    synapse every step. Spikes and synaptic traces agree bit for bit."""
    net, record = ports.stdp(steps=2000, n=100, gmax=0.1)
    spec = network_from_dict(net, folder=ports.MODELS)
    twin = Twin(spec)
    with torch.no_grad():
        events = twin(record=record)
    full = twin(record=record)
    assert full.traces["S"]["w"].requires_grad
    assert torch.equal(events.spikes["neurons"], full.spikes["neurons"].detach()) and events.spikes["neurons"].sum() >= 3
    for owner, variables in record.items():
        for var in variables:
            assert torch.equal(events.traces[owner][var], full.traces[owner][var].detach()), (owner, var)


def _tsodyks_used(dt_ms: float, spikes: int):
    """What each of the first ``spikes`` spikes of panel A's train moves from x to y:
    from the run at ``dt_ms``, and from the closed form."""
    steps = int(round((0.1 + spikes * 0.05) / (dt_ms * 1e-3)))
    net, _ = ports.tsodyks("A", steps=steps)
    net["dt"], net["duration"] = f"{dt_ms}*ms", f"{steps}*{dt_ms}*ms"
    spec = network_from_dict(net, folder=ports.MODELS)
    train = {"stimulus": {"i": np.zeros(spikes, dtype=int), "t": 0.1 + np.arange(spikes) * 0.05}}
    y = simulate(spec, backend="torch", record={"synapses": ["y"]}, inputs=train).traces["synapses"]["y"][:, 0]
    at = np.round((0.1 + np.arange(spikes) * 0.05) / spec.dt).astype(int)
    used = y[at] - y[at - 1] * math.exp(-spec.dt / 0.003)  # y's jump at the spike (its decay over the step is exact)
    U, T, tau_rec, tau_inact = 0.6, 0.05, 0.8, 0.003
    x_n, y_n, expected = 1.0, 0.0, []
    for _ in range(spikes):
        expected.append(U * x_n)
        x_after, y0 = x_n - U * x_n, y_n + U * x_n
        z0 = 1 - x_after - y0
        z = z0 * math.exp(-T / tau_rec) + y0 * tau_rec / (tau_rec - tau_inact) * (math.exp(-T / tau_rec) - math.exp(-T / tau_inact))
        y_n = y0 * math.exp(-T / tau_inact)
        x_n = 1 - y_n - z
    return used, np.array(expected)


def test_depressing_synapse_follows_the_tsodyks_markram_solution():
    """Panel A of the Tsodyks-Pawelzik-Markram port: at the n-th spike of a regular
    train (period T) the synapse moves U*x_n of its recovered resources x into the
    active part y, which decays (tau_inact) into the inactive part z, which recovers
    (tau_rec): z(T) = z0 exp(-T/tau_rec) + y0 tau_rec/(tau_rec - tau_inact)
    (exp(-T/tau_rec) - exp(-T/tau_inact)), x = 1 - y - z. The clock-driven run
    (exponential Euler: y held over a step in x's equation) follows this closed
    form to 3e-4 at dt = 0.1 ms (measured 1.3e-4) and ten times closer at 0.01 ms
    (1.3e-5): first order, as the method is."""
    used, expected = _tsodyks_used(0.1, 20)
    assert np.allclose(used, expected, rtol=3e-4)
    assert used[-1] < 0.25 * used[0]  # depression
    fine, expected = _tsodyks_used(0.01, 5)
    assert np.allclose(fine, expected, rtol=3e-5)


def _teacher_network(steps=1500):
    """20 plastic synapses that do not drive their target (on_pre without
    'ge += w'); a fixed projection from a teacher makes the target fire. The
    spike times then do not depend on the rule's values, and the final weights
    are smooth functions of them (away from the clip)."""
    net, _ = ports.stdp(steps=steps, n=20, gmax=1.0)
    net["seed"] = 4
    net["populations"]["poisson_input"]["rate"] = "40*Hz"
    net["populations"]["teacher"] = {"kind": "poisson", "size": 1, "rate": "40*Hz"}
    plastic = net["projections"][0]
    plastic["on_pre"] = "Apre += dApre\nw = clip(w + Apost, 0, gmax)"
    plastic["values"].update({"w": "0.3 + 0.4*rand()", "dApre": 0.02, "dApost": -0.021})
    net["projections"].append({"name": "teach", "source": "teacher", "target": "neurons", "on_pre": "v_post += weight", "weight": "30*mV"})
    return network_from_dict(net, folder=ports.MODELS)


def _final_weights(twin):
    return twin(record={"S": ["w"]}).traces["S"]["w"][-1, 0]


def test_gradients_through_plastic_weights_match_central_differences():
    """d(sum of final weights)/d(dApre, dApost, taupre) by backpropagation through
    the on_pre and on_post updates equals central differences (float64)."""
    spec = _teacher_network()
    twin = Twin(spec)
    loss = _final_weights(twin).sum()
    names = ("dApre", "dApost", "taupre")
    grads = torch.autograd.grad(loss, [twin.params["S"][n] for n in names])
    with torch.no_grad():
        assert len(torch.nonzero(twin(record={}).spikes["neurons"])) >= 5
    for name, grad in zip(names, grads):
        param = twin.params["S"][name]
        eps = 1e-6 * abs(float(param.detach()))
        with torch.no_grad():
            base = param.clone()
            param.copy_(base + eps)
            up = float(_final_weights(twin).sum())
            param.copy_(base - eps)
            down = float(_final_weights(twin).sum())
            param.copy_(base)
        numeric = (up - down) / (2 * eps)
        assert abs(numeric) > 1e-3 * abs(loss.item())
        assert float(grad) == pytest.approx(numeric, rel=1e-6), name


@pytest.mark.slow
def test_training_the_rule_of_plastic_synapses():
    """Gradient descent on the rule's amplitudes (dApre, dApost) brings the mean
    final weight to a target: the loss falls by 100x in 30 Adam steps."""
    spec = _teacher_network(steps=1000)
    twin = Twin(spec)
    params = [twin.params["S"]["dApre"], twin.params["S"]["dApost"]]
    for name, table in twin.params.items():
        for var, p in table.items():
            p.requires_grad_(any(p is q for q in params))
    optimizer = torch.optim.Adam(params, lr=2e-3, betas=(0.5, 0.9))
    target = 0.3
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = (_final_weights(twin).mean() - target) ** 2
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]


def test_plastic_synapses_are_refused_where_they_cannot_go():
    """Samples run one after another in one binary would carry the weights over;
    NIR has fixed weights; the event-driven reference has fixed synapses."""
    from bioadapt.program.analysis import check_samples
    from bioadapt.reference.event_driven import reference_run

    net, _ = ports.stdp(steps=100)
    spec = network_from_dict(net, folder=ports.MODELS)
    with pytest.raises(BackendError, match="projection 'S' has synaptic equations: their state would carry over"):
        check_samples(spec, "stdp")
    with pytest.raises(BackendError, match="projection 'S' has a synapse model or on_post code"):
        reference_run(spec)
    pytest.importorskip("nir")
    from bioadapt.interop.nir import to_nir

    with pytest.raises(ConfigError, match="projection 'S' has a synapse model or on_post code \\(plastic synapses\\)"):
        to_nir(spec)


def test_trained_rule_parameters_load_back_into_the_network(tmp_path):
    """The parameter file carries a synapse model's values with their units; applied
    to the network, Brian2 runs what the twin ran (numpy runtime = twin, bit for bit)."""
    from bioadapt.train.params import apply_params, load_params, save_params, trainable_values

    spec = _teacher_network(steps=800)
    twin = Twin(spec)
    with torch.no_grad():
        twin.params["S"]["dApre"].mul_(1.5)
        twin.params["S"]["taupre"].mul_(0.5)
        trained = twin(record={"S": ["w"]})
    path = save_params(tmp_path / "params.json", spec, trainable_values(twin))
    params = load_params(path)
    assert params["groups"]["S"]["taupre"][0] == "second" and params["groups"]["S"]["dApre"][0] == "1"
    loaded = apply_params(spec, params)
    assert loaded.projections[0].values["taupre"][0] == 0.5 * spec.projections[0].values["taupre"][0]
    brian = simulate(loaded, backend="numpy", record={"S": ["w"]})
    assert np.array_equal(brian.traces["S"]["w"], trained.traces["S"]["w"][:, 0].numpy())
    params["groups"]["S"]["taupre"] = ("ms", params["groups"]["S"]["taupre"][1])
    with pytest.raises(ConfigError, match="'S.taupre' is in ms, the network's in second"):
        apply_params(spec, params)


def test_plastic_networks_run_long_and_at_another_dt(tmp_path):
    """A long run in chunks carries the synapses' state from chunk to chunk (the
    numpy runtime's and the twin's chunks give the spikes and weights of one whole
    run; synaptic variables recorded at an interval), and
    `at_dt` puts the STDP port on a finer grid where the twin still equals Brian2."""
    from bioadapt import at_dt
    from bioadapt.long_run import load_long_run, long_run

    net, _ = ports.stdp(steps=6000, n=200)
    spec = network_from_dict(net, folder=ports.MODELS)
    whole = simulate(spec, backend="numpy", record={"S": ["w"]})
    assert whole.spike_count("neurons") >= 10
    synapses = [0, 7, 150]
    sampled = whole.traces["S"]["w"][99::100][:, synapses]  # every 10 ms: the states at t = 10 ms, 20 ms, ...
    for backend in ("numpy", "torch"):
        long_run(spec, tmp_path / backend, backend=backend, record={"S": ["w"]}, neurons={"S": synapses}, record_every="10*ms", chunk="0.2*second", progress=False)
        run = load_long_run(tmp_path / backend)
        assert run.spike_set("neurons") == whole.spike_set("neurons"), backend
        assert np.array_equal(run.traces["S"]["w"], sampled), backend
    fine = at_dt(spec, "0.05*ms")
    brian, twin = (simulate(fine, backend=b, record={"S": ["w"]}) for b in ("numpy", "torch"))
    assert fine.n_steps == 12000 and brian.spike_set("neurons") == twin.spike_set("neurons")
    assert np.array_equal(brian.traces["S"]["w"], twin.traces["S"]["w"])
