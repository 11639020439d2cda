"""Gradients of the twin: every trainable parameter, checked against central
finite differences on smooth quantities (no spikes crossing), plus surrogate
gradients through spikes."""

import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch import Surrogate, Twin

# Central differences in float64 have truncation error O(h^2) and rounding
# error O(eps/h); h = 1e-6 (relative) balances them near 1e-9 relative error.
FD_STEP = 1e-6
FD_RTOL = 1e-5


def _adlif_subthreshold():
    return network_from_dict({
        "dt": "1*ms", "duration": "60*ms", "seed": 5,
        "populations": {
            "inp": {"kind": "poisson", "size": 6, "rate": "100*Hz"},
            "hid": {"model": "adlif", "size": 4, "values": {"tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 1)", "b": "uniform(0, 2)", "theta": 1e3}},
            "out": {"model": "li", "size": 2},
        },
        "projections": [
            {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.7}, "weight": "normal(1, 0.5)", "delay": "uniform(0*ms, 2.4*ms)"},
            {"source": "inp", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 1)", "delay": "uniform(0*ms, 1.4*ms)"},
        ],
    })


def _mtc_graded():
    return network_from_dict({
        "dt": "0.2*ms", "duration": "20*ms", "seed": 2,
        "populations": {
            "inp": {"kind": "poisson", "size": 4, "rate": "200*Hz"},
            "hid": {"model": "mtc", "size": 3, "values": {"I_app": "uniform(-0.5, 0.5)", "V_th": -5.0, "V_sat": 5.0}},
        },
        "projections": [
            {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0.5, 0.2)"},
            {"source": "hid", "target": "hid", "summed": "I_syn_post = weight*s_pre", "connect": "all_to_all", "weight": "normal(0, 0.3)"},
        ],
    })


def _objective(twin, record):
    out = twin(record=record)
    return sum((values ** 2).sum() for variables in out.traces.values() for values in variables.values())


def _check_fd(spec, record, skip=()):
    twin = Twin(spec)
    loss = _objective(twin, record)
    loss.backward()
    checked = 0
    for owner, params in twin.params.items():
        for name, param in params.items():
            if name in skip:
                continue
            analytic = param.grad.detach().clone()
            for k in range(min(3, param.numel())):
                with torch.no_grad():
                    original = param.view(-1)[k].item()
                    h = FD_STEP * max(abs(original), 1e-3)
                    param.view(-1)[k] = original + h
                    up = _objective(twin, record).item()
                    param.view(-1)[k] = original - h
                    down = _objective(twin, record).item()
                    param.view(-1)[k] = original
                numeric = (up - down) / (2 * h)
                scale = max(abs(numeric), abs(loss.item()) * 1e-9)
                assert abs(analytic.view(-1)[k].item() - numeric) <= FD_RTOL * scale, f"{owner}.{name}[{k}]: autograd {analytic.view(-1)[k].item():.10g} vs FD {numeric:.10g}"
                checked += 1
    return checked


def test_adlif_gradients_match_finite_differences():
    assert _check_fd(_adlif_subthreshold(), {"hid": ["u", "w"], "out": ["y"]}) > 20


def test_mtc_graded_gradients_match_finite_differences():
    # every MTC parameter, synaptic weights of both kinds; V_th/V_sat set so the
    # graded output stays inside its linear range (clip is not differentiable at its ends)
    assert _check_fd(_mtc_graded(), {"hid": ["V"]}) > 30


def test_every_parameter_receives_gradient_through_spikes():
    spec = network_from_dict({
        "dt": "1*ms", "duration": "80*ms", "seed": 1,
        "populations": {
            "inp": {"kind": "poisson", "size": 10, "rate": "100*Hz"},
            "hid": {"model": "adlif", "size": 8},
            "out": {"model": "li", "size": 2},
        },
        "projections": [
            {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(2, 1)"},
            {"source": "hid", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.5}, "weight": "normal(0, 1)", "delay": "uniform(0*ms, 3*ms)"},
            {"source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 1)"},
        ],
    })
    twin = Twin(spec, surrogate=Surrogate("exponential", alpha=5.0, c=0.4))
    out = twin(record={"out": ["y"]})
    assert out.spikes["hid"].sum() > 10
    out.traces["out"]["y"].pow(2).sum().backward()
    for owner, params in twin.params.items():
        for name, param in params.items():
            if name == "u_rest":
                continue  # the reset value of u is detached by convention (published models)
            assert param.grad is not None and torch.any(param.grad != 0), f"no gradient reaches {owner}.{name}"


def test_forward_is_identical_with_and_without_grad():
    spec = _adlif_subthreshold()
    twin = Twin(spec)
    with torch.no_grad():
        a = twin(record={"hid": ["u"]}).traces["hid"]["u"]
    b = twin(record={"hid": ["u"]}).traces["hid"]["u"]
    assert torch.equal(a, b.detach())


@pytest.mark.parametrize("name", ["exponential", "boxcar", "sigmoid", "arctan"])
def test_surrogates_are_nonnegative_and_peak_at_threshold(name):
    s = Surrogate(name, alpha=2.0, c=1.0)
    x = torch.linspace(-3, 3, 61)
    d = s.derivative(x)
    assert torch.all(d >= 0) and d[30] == d.max()


def test_exact_scheme_gradients_reach_parameters_inside_the_propagator():
    """Under the exact scheme a and tau_w enter only through P = exp(A dt): their
    gradients come from torch's matrix_exp, the forward from scipy (as Brian2)."""
    net = _adlif_subthreshold()
    import dataclasses

    pops = dict(net.populations, hid=dataclasses.replace(net.populations["hid"], scheme="exact"))
    spec = dataclasses.replace(net, populations=pops)
    assert _check_fd(spec, {"hid": ["u", "w"], "out": ["y"]}) > 20
    twin = Twin(spec)
    assert "a" in twin.params["hid"] and "tau_w" in twin.params["hid"]
