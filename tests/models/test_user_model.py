"""A model file written by a user (adaptive exponential IF, refractory period)
runs in all three backends with identical spikes, without touching the library."""

from pathlib import Path

import pytest

from bioadapt import network_from_dict
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
