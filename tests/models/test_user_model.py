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
