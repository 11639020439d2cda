"""Twin vs Brian2, spike for spike and bit for bit, for every shipped model.

Each network has Poisson input, recurrent synapses with heterogeneous delays
(some 0) and autapses, and a refractory period where the model has one; it
runs 5000 steps. The twin with ``math="numpy"`` must equal Brian2's numpy
runtime bit for bit, and with ``math="libm"`` compiled cpp_standalone (no fast
math) bit for bit. Spike trains of all three must be identical.
"""

import numpy as np
import pytest

from bioadapt import network_from_dict, shipped_models
from helpers import MEMBRANE, assert_same_spikes, assert_same_traces, model_network, run_all

MODELS = shipped_models()


def _spec(model):
    spec = network_from_dict(model_network(model), source=f"<{model} test network>")
    # the features this test claims to cover are really there
    recurrent = [p for p in spec.projections if p.source == p.target and p.on_pre]
    if model == "relay":
        assert any(p.delay_steps.min() == 0 and p.delay_steps.max() >= 2 for p in spec.projections if p.source == "hid")
    elif model != "li":
        assert any(np.any(p.i == p.j) for p in recurrent), "no autapses"
        assert any(p.delay_steps.min() == 0 and p.delay_steps.max() >= 2 for p in recurrent), "delays not heterogeneous with zeros"
    assert spec.n_steps >= 5000
    return spec


def test_every_shipped_model_is_covered():
    assert set(MODELS) == set(MEMBRANE)


@pytest.mark.parametrize("model", MODELS)
def test_twin_equals_numpy_runtime_bitwise(model):
    spec = _spec(model)
    record = {"hid": [MEMBRANE[model]]}
    res = run_all(spec, ["numpy", "torch"], record)
    assert res["numpy"].spike_count("hid") > 0 or model == "li"
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


# two models in the default run (a continuous and a discrete one), every model in the slow run:
# the numpy runtime comparison above runs every model by default
@pytest.mark.brian_standalone
@pytest.mark.parametrize("model", [m if m in ("lif", "adlif") else pytest.param(m, marks=pytest.mark.slow) for m in MODELS])
def test_twin_equals_cpp_standalone(model):
    spec = _spec(model)
    record = {"hid": [MEMBRANE[model]]}
    res = run_all(spec, ["cpp_standalone", "torch:libm", "torch"], record)
    # spikes: identical across the three
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_spikes(res["cpp_standalone"], res["torch"])
    # state: bit for bit when the twin uses the C library's functions
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def test_refractory_write_protection_is_exercised():
    """In the LIF network, recurrent on_pre writes to v hit refractory neurons
    (and are dropped by Brian2): the agreement test above would catch a twin
    that ignored the protection."""
    spec = _spec("lif")
    res = run_all(spec, ["torch"], {"hid": ["v"]})["torch"]
    steps, idx = res.spikes["hid"][1], res.spikes["hid"][0]
    refractory_steps = 20  # t_ref = 2 ms at dt = 0.1 ms
    v = res.traces["hid"]["v"]
    # during refractoriness v stays exactly at the reset value although input arrives
    held = [np.all(v[s : s + refractory_steps, n] == 0.0) for s, n in zip(steps[:200], idx[:200]) if s + refractory_steps < len(v)]
    assert len(held) > 50 and all(held)


SCHEME_NAMES = sorted(__import__("bioadapt.schemes", fromlist=["SCHEMES"]).SCHEMES)


def _scheme_spec(scheme, steps=3000):
    net = model_network("lif", steps=steps)
    net["populations"]["hid"]["scheme"] = scheme
    return network_from_dict(net, source=f"<lif with {scheme}>")


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
def test_every_scheme_twin_equals_numpy(scheme):
    res = run_all(_scheme_spec(scheme), ["numpy", "torch"], {"hid": ["v", "I"]})
    assert res["numpy"].spike_count("hid") > 100
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
@pytest.mark.parametrize("scheme", ["symplectic_euler", pytest.param("rk4", marks=pytest.mark.slow)])
def test_scheme_twin_equals_cpp_standalone(scheme):
    res = run_all(_scheme_spec(scheme), ["cpp_standalone", "torch:libm"], {"hid": ["v", "I"]})
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def _stc_grid_spec(grid=5, channels=2, steps=60):
    """An STC grid as in examples/stc_moving_shapes.py: analog frames through relays, 3x3
    neighbourhoods written as Brian2 conditions, autapses into G_h, lateral synapses into G_x,
    a leaky-integrator readout; some synaptic delays."""
    p, n = grid * grid, channels * grid * grid
    near = f"abs((i % {p}) % {grid} - (j % {p}) % {grid}) <= 1 and abs((i % {p}) // {grid} - (j % {p}) // {grid}) <= 1"
    net = {
        "dt": "1*ms",
        "duration": f"{steps}*ms",
        "seed": 4,
        "populations": {"enc": {"model": "relay", "size": p}, "hid": {"model": "stc", "size": n, "values": {"theta": "uniform(0.5, 1.5)"}}, "out": {"model": "li", "size": p, "values": {"tau": "uniform(1*ms, 3*ms)"}}},
        "projections": [
            {"name": "input", "source": "enc", "target": "hid", "on_pre": "I_post += weight*x_pre", "connect": {"condition": f"abs(i % {grid} - (j % {p}) % {grid}) <= 1 and abs(i // {grid} - (j % {p}) // {grid}) <= 1"}, "weight": "uniform(-0.5, 1)"},
            {"name": "autapses", "source": "hid", "target": "hid", "on_pre": "G_h_post += weight", "connect": {"condition": "i == j"}, "weight": "uniform(-1, 0.5)", "delay": "uniform(0*ms, 1.4*ms)"},
            {"name": "lateral", "source": "hid", "target": "hid", "on_pre": "G_x_post += weight", "connect": {"condition": near + " and i != j"}, "weight": "normal(0, 0.5)"},
            {"name": "readout", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": {"condition": f"abs((i % {p}) % {grid} - j % {grid}) <= 1 and abs((i % {p}) // {grid} - j // {grid}) <= 1"}, "weight": "uniform(-0.1, 0.3)"},
        ],
    }
    return network_from_dict(net, source="<stc grid>")


def test_stc_grid_twin_equals_numpy_runtime_bitwise():
    from bioadapt import simulate
    from bioadapt.tasks import moving_shapes

    spec = _stc_grid_spec()
    lateral = next(p for p in spec.projections if p.name == "lateral")
    assert lateral.size == 2 * 2 * (9 * 9 + 12 * 6 + 4 * 4) - spec.populations["hid"].size  # 3x3 pixels (fewer at borders), 2 x 2 channels, no self
    frames = moving_shapes(n_samples=1, seed=2, height=5, width=5, frames=spec.n_steps).x[0]
    record = {"hid": ["H", "G_h", "G_x"], "out": ["y"]}
    res = {b: simulate(spec, backend=b, record=record, drive={"enc": {"x": frames}}) for b in ("numpy", "torch")}
    assert res["numpy"].spike_count("hid") > 50
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
