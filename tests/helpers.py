"""Shared network builders and exactness assertions for the tests."""

from __future__ import annotations

import importlib.util

import numpy as np

from bioadapt import simulate

#: Whether the ``cuda`` extra is installed (checked without importing it).
HAVE_BRIAN2CUDA = importlib.util.find_spec("brian2cuda") is not None

#: Variable recorded per shipped model (its membrane-like state).
MEMBRANE = {"adlif": "u", "cadlif": "u", "li": "y", "stc": "H", "mtc": "V", "lif": "v", "relay": "x"}


def model_network(model: str, steps: int = 5000, seed: int = 7) -> dict:
    """A network config exercising ``model`` in every feature the twin mirrors.

    Poisson input with heterogeneous delays (some 0), recurrent synapses with
    heterogeneous delays (some 0) and autapses, and the model's refractory
    period where it has one. Discrete-time models run at dt = 1 ms, the scale
    they are published at; ODE models at 0.1 ms.
    """
    discrete = model in ("adlif", "cadlif", "li", "stc", "relay")
    dt = "1*ms" if discrete else "0.1*ms"
    net = {
        "dt": dt,
        "duration": f"{steps}*{dt}",
        "seed": seed,
        "populations": {
            "inp": {"kind": "poisson", "size": 20, "rate": "20*Hz" if discrete else "80*Hz"},
            "hid": {"model": model, "size": 30},
        },
        "projections": [],
    }
    inp = {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.4}, "delay": f"uniform(0*{dt}, 2.4*{dt})"}
    rec = {"source": "hid", "target": "hid", "connect": {"p": 0.3, "autapses": True}, "delay": f"uniform(0*{dt}, 3.4*{dt})"}
    if model in ("adlif", "cadlif"):
        net["populations"]["hid"]["values"] = {"tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 1)", "b": "uniform(0, 2)"}
        if model == "cadlif":
            net["populations"]["hid"]["values"].update({"a": "uniform(0, 0.1)", "b": "uniform(0, 0.5)"})
        net["projections"] += [dict(inp, weight="normal(3, 1)"), dict(rec, on_pre="I_post += weight", weight="normal(0, 1)")]
    elif model == "stc":
        net["projections"] += [
            dict(inp, weight="normal(0.3, 0.2)"),
            {"name": "autapses", "source": "hid", "target": "hid", "on_pre": "G_h_post += weight", "connect": "one_to_one", "weight": "uniform(-0.8, -0.1)", "delay": f"uniform(0*{dt}, 2.4*{dt})"},
            dict(rec, name="lateral", on_pre="G_x_post += weight", weight="normal(0, 0.3)"),
        ]
    elif model == "lif":
        # recurrent input goes straight into v: exercises refractory write protection of on_pre code
        net["populations"]["hid"]["values"] = {"tau_m": "uniform(10*ms, 30*ms)"}
        net["projections"] += [dict(inp, weight="normal(0.6, 0.2)"), dict(rec, on_pre="v_post += weight", weight="normal(0.05, 0.2)")]
    elif model == "mtc":
        net["populations"]["hid"]["values"] = {"I_app": "uniform(-2.2, 0.5)"}
        net["projections"] += [
            dict(inp, weight="normal(0.6, 0.2)"),
            dict(rec, on_pre="I_post += weight", weight="normal(0, 0.3)"),
            {"name": "graded", "source": "hid", "target": "hid", "summed": "I_syn_post = weight*s_pre", "connect": {"p": 0.2}, "weight": "normal(0, 0.05)"},
        ]
    elif model == "li":
        # a non-spiking readout of a spiking LIF layer
        net["populations"]["spk"] = {"model": "lif", "size": 25}
        net["projections"] += [
            {"source": "inp", "target": "spk", "on_pre": "I_post += weight", "connect": {"p": 0.4}, "weight": "normal(0.6, 0.2)", "delay": "uniform(0*ms, 2.4*ms)"},
            {"source": "spk", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 1)", "delay": "uniform(0*ms, 3.4*ms)"},
        ]
    elif model == "relay":
        # fires every step; input spikes move x (delays); a readout reads x_pre at delivery (delays).
        # (recurrent on_pre reading x_pre while writing x_post would be ambiguous: Brian2's numpy
        # runtime reads the values before the loop, cpp_standalone the values updated so far)
        net["populations"]["hid"]["values"] = {"x": "uniform(-1, 1)"}
        net["populations"]["out"] = {"model": "li", "size": 5}
        net["projections"] += [
            dict(inp, on_pre="x_post += weight", weight="normal(0, 0.1)"),
            {"source": "hid", "target": "out", "on_pre": "I_post += weight*tanh(x_pre)", "connect": "all_to_all", "weight": "normal(0, 1)", "delay": f"uniform(0*{dt}, 3.4*{dt})"},
        ]
    else:
        raise ValueError(model)
    return net


def run_all(spec, backends, record, inputs=None):
    """``{label: SimulationResult}``; labels ``numpy``, ``cpp_standalone``, ``torch``, ``torch:libm``."""
    results = {}
    for label in backends:
        backend, _, math = label.partition(":")
        results[label] = simulate(spec, backend=backend, record=record, math=math or "numpy", inputs=inputs)
    return results


def assert_same_spikes(a, b):
    for pop in a.spikes:
        ia, sa = a.spikes[pop]
        ib, sb = b.spikes[pop]
        assert np.array_equal(sa, sb) and np.array_equal(ia, ib), (
            f"{a.backend} vs {b.backend}: population {pop}: {len(ia)} vs {len(ib)} spikes, "
            f"{len(a.spike_set(pop) ^ b.spike_set(pop))} differ"
        )


def assert_same_traces(a, b):
    """Bitwise equality of every recorded trace (no tolerance)."""
    for pop, variables in a.traces.items():
        for var, values in variables.items():
            other = b.traces[pop][var]
            differ = np.nonzero((values != other).any(axis=1))[0]
            assert len(differ) == 0, (
                f"{a.backend} vs {b.backend}: {pop}.{var} differs from step {differ[0]} on "
                f"(max |diff| {np.abs(values - other).max():.3g})"
            )
