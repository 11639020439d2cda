"""A model file written by a user (adaptive exponential IF, refractory period)
runs in all three backends with identical spikes, without touching the library."""

from pathlib import Path

import numpy as np
import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin
from helpers import assert_same_spikes, assert_same_traces, run_all

HERE = Path(__file__).parent


def _spec(steps=5000):
    return network_from_dict(
        {
            "dt": "0.1*ms",
            "duration": f"{steps}*0.1*ms",
            "seed": 11,
            "populations": {
                "inp": {"kind": "poisson", "size": 20, "rate": "100*Hz"},
                "exc": {"model": "valid/eif_adaptive.toml", "size": 25, "values": {"tau_w": "uniform(50*ms, 200*ms)"}},
            },
            "projections": [
                {"source": "inp", "target": "exc", "on_pre": "I_post += weight", "connect": {"p": 0.5}, "weight": "normal(1.0, 0.3)", "delay": "uniform(0*ms, 1*ms)"},
                {"source": "exc", "target": "exc", "on_pre": "v_post += weight", "connect": {"p": 0.3, "autapses": True}, "weight": "normal(0.1, 0.2)", "delay": "uniform(0*ms, 0.5*ms)"},
            ],
        },
        source="<user model network>",
        folder=HERE,
    )


def test_user_model_twin_equals_numpy():
    res = run_all(_spec(), ["numpy", "torch"], {"exc": ["v", "w"]})
    assert res["numpy"].spike_count("exc") > 100
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_user_model_twin_equals_cpp_standalone():
    res = run_all(_spec(), ["cpp_standalone", "torch:libm", "torch"], {"exc": ["v", "w"]})
    assert_same_spikes(res["cpp_standalone"], res["torch"])
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def _physical_spec(steps=5000):
    return network_from_dict(
        {
            "dt": "0.1*ms",
            "duration": f"{steps}*0.1*ms",
            "seed": 4,
            "populations": {
                "inp": {"kind": "poisson", "size": 30, "rate": "60*Hz"},
                "pyr": {"model": "valid/lif_physical.toml", "size": 20, "values": {"v_th": "uniform(-52*mV, -48*mV)"}},
            },
            "projections": [
                {"source": "inp", "target": "pyr", "on_pre": "I_syn_post += weight", "connect": {"p": 0.5}, "weight": "normal(0.12*nA, 0.04*nA)", "delay": "uniform(0*ms, 1*ms)"},
                {"source": "pyr", "target": "pyr", "on_pre": "v_post += weight", "connect": {"p": 0.4}, "weight": "normal(0.5*mV, 1*mV)", "delay": "uniform(0*ms, 2*ms)"},
            ],
        },
        folder=HERE,
    )


def test_physical_units_integer_counter_and_shared_parameter():
    res = run_all(_physical_spec(), ["numpy", "torch"], {"pyr": ["v", "count"]})
    assert res["numpy"].spike_count("pyr") > 50
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    # the counter counts the spikes
    assert res["torch"].traces["pyr"]["count"][-1].sum() == res["torch"].spike_count("pyr")


@pytest.mark.brian_standalone
@pytest.mark.slow  # physical units in cpp_standalone also in tests/backends/test_drive.py
def test_physical_units_cpp_standalone():
    res = run_all(_physical_spec(), ["cpp_standalone", "torch:libm"], {"pyr": ["v"]})
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


@pytest.mark.parametrize(
    "model, scheme",
    [
        ("valid/eif_adaptive.toml", "rk4"),
        ("valid/eif_adaptive.toml", "heun"),
        ("lif", "exponential_euler"),
        ("lif", "exact"),
        ("valid/lif_physical.toml", "exact"),
    ],
)
def test_brian2_methods_bit_exact(model, scheme):
    """The twin runs whatever abstract code the chosen Brian2 method generates."""
    physical = "physical" in model
    spec = network_from_dict(
        {
            "dt": "0.1*ms",
            "duration": "300*ms",
            "seed": 2,
            "scheme": scheme,
            "populations": {"inp": {"kind": "poisson", "size": 20, "rate": "100*Hz"}, "p": {"model": model, "size": 15}},
            "projections": [
                {
                    "source": "inp",
                    "target": "p",
                    "on_pre": "I_syn_post += weight" if physical else "I_post += weight",
                    "connect": {"p": 0.5},
                    "weight": "normal(0.15*nA, 0.05*nA)" if physical else "normal(1.0, 0.3)",
                    "delay": "uniform(0*ms, 1*ms)",
                }
            ],
        },
        folder=HERE,
    )
    res = run_all(spec, ["numpy", "torch"], {"p": ["v"]})
    assert res["numpy"].spike_count("p") > 100
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


def _driven(model, size, values, steps, dt, seed, rate, on_pre, weight, scheme=None):
    """One population of ``model`` driven by Poisson inputs (20 sources, p = 0.5)."""
    net = {
        "dt": dt,
        "duration": f"{steps}*{dt}",
        "seed": seed,
        "populations": {"inp": {"kind": "poisson", "size": 20, "rate": rate}, "p": {"model": model, "size": size, "values": values}},
        "projections": [{"source": "inp", "target": "p", "on_pre": on_pre, "connect": {"p": 0.5}, "weight": weight}],
    }
    return network_from_dict(dict(net, scheme=scheme) if scheme else net, folder=HERE)


def _shared_spec(scheme, steps=600):
    return _driven("valid/shared_drive.toml", 12, {"tau": "uniform(5*ms, 20*ms)"}, steps, "0.5*ms", 3, "80*Hz", "I_post += weight", "normal(0.5, 0.2)", scheme)


@pytest.mark.parametrize("scheme", ["exact", "symplectic_euler"])
def test_shared_variable_written_every_step(scheme):
    """A shared variable that code writes is one value per sample, read by every neuron."""
    spec = _shared_spec(scheme)
    res = run_all(spec, ["numpy", "torch"], {"p": ["v", "m"]})
    assert res["numpy"].spike_count("p") > 50
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    m = res["torch"].traces["p"]["m"]
    assert np.all(m == m[:, :1]) and m[0, 0] > -0.5 and abs(m[-1, 0] - 0.8) < 1e-3

    # a batch as large as the population: each sample equals its own run
    twin = Twin(spec)
    x = (torch.rand((spec.n_steps, 12, 20), generator=torch.Generator().manual_seed(1)) < 0.04).double()
    with torch.no_grad():
        together = twin(inputs={"inp": x}, record={"p": ["v", "m"]})
        for k in (0, 5, 11):
            alone = twin(inputs={"inp": x[:, k : k + 1]}, record={"p": ["v", "m"]})
            assert torch.equal(together.traces["p"]["v"][:, k], alone.traces["p"]["v"][:, 0])
            assert torch.equal(together.traces["p"]["m"][:, k], torch.as_tensor(m))


def test_shared_variable_gradient_closed_form():
    """m_k = m_inf + (m_0 - m_inf) (1 - dt/tau_d)^k, so d(sum_k m_k)/d m_inf = sum_k 1 - (1 - dt/tau_d)^k."""
    twin = Twin(_shared_spec("exact", steps=200))
    m = twin(record={"p": ["m"]}).traces["p"]["m"]
    m[:, 0, 0].sum().backward()
    k = np.arange(1, 201)
    expected = np.sum(1 - (1 - 0.5e-3 / 40e-3) ** k)
    # not bitwise: backpropagation sums the recursion's terms, the closed form takes powers
    assert twin.params["p"]["m_inf"].grad.item() == pytest.approx(expected, rel=1e-12)


def _integer_spec(steps=3000):
    return _driven("valid/integer_arithmetic.toml", 10, {"tau": "uniform(5*ms, 20*ms)"}, steps, "0.1*ms", 1, "200*Hz", "v_post += 0.4*weight", "normal(1.5, 0.3)")


def test_integer_arithmetic_follows_numpy():
    """Integers and booleans meet floats in float64, `%` and `//` as numpy computes them."""
    res = run_all(_integer_spec(), ["numpy", "torch"], {"p": ["v", "phase", "n"]})
    assert res["numpy"].spike_count("p") > 500
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_integer_arithmetic_follows_compiled_code():
    """cpp_standalone's `%` and `//` of floats are Brian2's C++ formulas (math='libm')."""
    res = run_all(_integer_spec(), ["cpp_standalone", "torch:libm"], {"p": ["v", "phase", "n"]})
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def _izhikevich_spec(steps=3000):
    """Izhikevich (2003) neurons (``0.04*v**2``) firing under constant inputs."""
    return network_from_dict(
        {"dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 5, "populations": {"n": {"model": "valid/izhikevich.toml", "size": 20, "values": {"I": "uniform(5, 15)"}}}},
        folder=HERE,
    )


def test_izhikevich_twin_equals_numpy():
    res = run_all(_izhikevich_spec(), ["numpy", "torch"], {"n": ["v", "u"]})
    assert res["numpy"].spike_count("n") > 100
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_libm_power_folding_izhikevich():
    """Compiled code computes ``v**2`` as ``v*v`` (g++ folds ``pow(v, 2)``);
    the twin with ``math="libm"`` does the same, bit for bit."""
    res = run_all(_izhikevich_spec(), ["cpp_standalone", "torch:libm"], {"n": ["v", "u"]})
    assert res["cpp_standalone"].spike_count("n") > 100
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])
