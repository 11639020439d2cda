"""symplectic_euler on any conditionally linear ODE model, in every backend."""

from pathlib import Path

import numpy as np
import pytest

from bioadapt import ConfigError, BioadaptError, network_from_dict, simulate
from helpers import assert_same_spikes, assert_same_traces, model_network


def test_lif_membrane_before_reset_current_after():
    """v (in the threshold) is advanced before the threshold, I after the reset:
    the v update uses the I of the previous step."""
    steps = 3
    spec = network_from_dict({"dt": "1*ms", "duration": f"{steps}*ms", "populations": {"n": {"model": "lif", "size": 1, "scheme": "symplectic_euler", "values": {"I": 2.0, "theta": 10.0}}}})
    res = simulate(spec, backend="numpy", record={"n": ["v", "I"]})
    a_m, a_s = np.exp(-1 / 20), np.exp(-1 / 5)
    v, current = 0.0, 2.0
    for k in range(steps):
        v = current + (v - current) * a_m  # with the old current
        current = current * a_s
        assert abs(res.traces["n"]["v"][k, 0] - v) < 1e-14
        assert abs(res.traces["n"]["I"][k, 0] - current) < 1e-14


def test_lif_twin_equals_numpy():
    net = model_network("lif", steps=3000)
    net["populations"]["hid"]["scheme"] = "symplectic_euler"
    spec = network_from_dict(net)
    res = {b: simulate(spec, backend=b, record={"hid": ["v", "I"]}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("hid") > 100
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


def test_eif_follows_brian2_exponential_euler_convention_bitwise():
    """Brian2's conditional-linearity test accepts the EIF (the exp(v) term is
    held over a step, as in Brian2's exponential_euler); the scheme inherits
    that, and both backends agree bit for bit."""
    net = {
        "dt": "0.1*ms", "duration": "200*ms", "seed": 3,
        "populations": {"inp": {"kind": "poisson", "size": 20, "rate": "100*Hz"}, "p": {"model": "tests/models/valid/eif_adaptive.toml", "size": 10, "scheme": "symplectic_euler"}},
        "projections": [{"source": "inp", "target": "p", "on_pre": "I_post += weight", "connect": {"p": 0.5}, "weight": "normal(1, 0.3)"}],
    }
    spec = network_from_dict(net)
    res = {b: simulate(spec, backend=b, record={"p": ["v", "w"]}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("p") > 10
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


def test_stochastic_model_is_refused(tmp_path):
    (tmp_path / "noisy.toml").write_text('equations = """\ndv/dt = -v/tau + xi/sqrt(tau) : 1\ntau : second\n"""\n[defaults]\ntau = "10*ms"\n')
    net = {"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "noisy.toml", "size": 2, "scheme": "symplectic_euler"}}}
    with pytest.raises(BioadaptError, match=r"population 'p'.*symplectic_euler cannot integrate stochastic equations"):
        simulate(network_from_dict(net, folder=tmp_path), backend="numpy")


def test_unknown_scheme_lists_the_valid_ones():
    net = {"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "lif", "size": 2, "scheme": "leapfrog"}}}
    with pytest.raises(ConfigError, match=r"scheme 'leapfrog' is neither a program of model 'lif' \(none\) nor a scheme \(euler, exact, "):
        network_from_dict(net)


def _adlif_spec(steps=400, **values):
    net = model_network("adlif", steps=steps)
    net["populations"]["hid"]["scheme"] = "symplectic_euler"
    net["populations"]["hid"].setdefault("values", {}).update(values)
    return network_from_dict(net)


def test_time_constant_decays_are_constants_brian2_receives():
    """exp(-dt/tau) is computed once per network (the derived constants
    bioadapt_decay_*), not per neuron and step: the code Brian2 generates
    (read back by the twin after Brian2's before_run) reads them."""
    from bioadapt.backends.brian.build import build_network
    from bioadapt.backends.brian.device import brian_device
    from bioadapt.backends.brian.extract import extract_program

    spec = _adlif_spec()
    pop = spec.populations["hid"]
    with brian_device("numpy"):
        group = build_network(spec).network["hid"]
        for var, tau in (("u", "tau_u"), ("w", "tau_w")):
            expected = np.exp(-spec.dt / np.broadcast_to(pop.values[tau], (pop.size,)))
            assert np.array_equal(group.variables[f"bioadapt_decay_{var}"].get_value(), expected)
    blocks = [b for b in extract_program(spec).blocks if b.group == "hid" and b.kind == "code"]
    code = " ".join(repr(s) for b in blocks for s in b.scalar + b.vector)
    assert "exp" not in code and "bioadapt_decay_u" in code and "bioadapt_decay_w" in code


def test_a_time_constant_written_during_the_run_is_not_made_constant(tmp_path):
    """A time constant that code writes (here an every-step block that lets
    tau_w grow) keeps the per-step exp, and the twin still equals Brian2 bit
    for bit; driven variables are excluded the same way."""
    from bioadapt.backends.brian.scheme import decay_system
    from bioadapt.backends.torch import Twin

    spec = _adlif_spec(steps=200)
    assert decay_system(spec, spec.populations["hid"]).names == ["u", "w"]
    assert decay_system(spec, spec.populations["hid"], driven=["tau_u"]).names == ["w"]
    model = (Path(__file__).parents[2] / "equations" / "adlif.toml").read_text()
    model = model.replace('after_groups = """\nI = 0', 'after_groups = """\ntau_w = tau_w*1.01\nI = 0')
    assert "tau_w*1.01" in model
    (tmp_path / "growing.toml").write_text(model)
    net = model_network("adlif", steps=200)
    net["populations"]["hid"]["model"] = str(tmp_path / "growing.toml")
    spec = network_from_dict(net)
    assert decay_system(spec, spec.populations["hid"]).names == ["u"]
    assert Twin(spec).layout.systems["hid"].names == ["u"]
    res = {b: simulate(spec, backend=b, record={"hid": ["u", "w"]}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("hid") > 10
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])

    # code that only reads a time constant leaves it constant (what counts is
    # assignment, `assigned_names`): both decays stay derived constants
    reads = (Path(__file__).parents[2] / "equations" / "adlif.toml").read_text()
    reads = reads.replace('after_groups = """\nI = 0', 'after_groups = """\nI = 0*tau_w/tau_w')
    assert "0*tau_w/tau_w" in reads
    (tmp_path / "reads.toml").write_text(reads)
    net["populations"]["hid"]["model"] = str(tmp_path / "reads.toml")
    spec = network_from_dict(net)
    assert decay_system(spec, spec.populations["hid"]).names == ["u", "w"]
    res = {b: simulate(spec, backend=b, record={"hid": ["u", "w"]}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("hid") > 10
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


def test_gradient_through_the_decay_constants_matches_finite_differences():
    import torch
    from bioadapt.backends.torch import Twin

    spec = _adlif_spec(steps=60, theta=1e3)  # no spikes: a smooth function of tau
    twin = Twin(spec, synapses="dense")
    inputs = twin.default_inputs(batch=2)
    tau = twin.params["hid"]["tau_w"]

    def loss():
        out = twin(inputs=inputs, record={"hid": ["u", "w"]})
        return (out.traces["hid"]["w"] ** 2).mean() + (out.traces["hid"]["u"] ** 2).mean()

    twin.zero_grad()
    loss().backward()
    grad = tau.grad.clone()
    assert torch.any(grad != 0)
    assert not twin(inputs=inputs).spikes["hid"].any()
    direction = torch.randn(tau.shape, dtype=tau.dtype, generator=torch.Generator().manual_seed(0)) * 1e-3
    eps = 1e-4
    with torch.no_grad():
        base = tau.detach().clone()
        tau.copy_(base + eps * direction)
        up = loss()
        tau.copy_(base - eps * direction)
        down = loss()
        tau.copy_(base)
    numeric = float((up - down) / (2 * eps))
    assert abs(float((grad * direction).sum()) - numeric) <= 1e-6 * abs(numeric) + 1e-12


@pytest.mark.brian_standalone
def test_standalone_recomputes_decays_for_new_values(tmp_path):
    """New time constants passed to a compiled network (run_args) get their decay constants."""
    import dataclasses

    from bioadapt.backends.brian.standalone import StandaloneNetwork

    spec = _adlif_spec(steps=300)
    net = StandaloneNetwork(spec, record={"hid": ["u", "w"]}, directory=str(tmp_path / "p"))
    try:
        tau_w = np.random.default_rng(4).uniform(30e-3, 300e-3, spec.populations["hid"].size)
        hid = spec.populations["hid"]
        new = dataclasses.replace(spec, populations=dict(spec.populations, hid=dataclasses.replace(hid, values=dict(hid.values, tau_w=tau_w))))
        got = net.run(values={"hid": {"tau_w": tau_w}})
    finally:
        net.close()
    want = simulate(new, backend="torch", record={"hid": ["u", "w"]}, math="libm")
    old = simulate(spec, backend="torch", record={"hid": ["w"]}, math="libm")
    assert got.spike_count("hid") > 10
    assert not np.array_equal(old.traces["hid"]["w"], want.traces["hid"]["w"])
    assert_same_spikes(got, want)
    assert_same_traces(got, want)
