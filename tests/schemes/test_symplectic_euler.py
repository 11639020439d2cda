"""symplectic_euler on any conditionally linear ODE model, in every backend."""

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
