"""External drives (``drive=``) of variables with a physical unit: the arrays
hold SI values (amperes for a current in ``amp``) on every backend."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bioadapt import network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from helpers import assert_same_spikes, assert_same_traces

MODELS = Path(__file__).parent.parent / "models"
DT, E_L, R, TAU_M = 0.1e-3, -70e-3, 100e6, 20e-3  # lif_physical.toml's defaults
#: per-neuron constant currents (A): none, below threshold (R*I = 10 mV), above
CURRENTS = np.array([0.0, 0.1e-9, 0.5e-9])


def _spec(steps=400):
    """Three lif_physical neurons (v in volt, I_syn in amp), Euler, plus a unit
    weight projection from an input population (for ``run(weights=...)``)."""
    return network_from_dict(
        {
            "dt": "0.1*ms",
            "duration": f"{steps}*0.1*ms",
            "seed": 3,
            "populations": {
                "inp": {"kind": "poisson", "size": 4, "rate": "200*Hz"},
                "p": {"model": "valid/lif_physical.toml", "size": 3, "scheme": "euler"},
            },
            "projections": [{"source": "inp", "target": "p", "on_pre": "v_post += weight", "connect": {"p": 0.5}, "weight": "0*mV"}],
        },
        folder=MODELS,
    )


def _drive(spec, scale=1.0):
    return {"p": {"I_syn": np.tile(scale * CURRENTS, (spec.n_steps, 1))}}


def test_drive_with_unit():
    """numpy and the twin agree bit for bit, and the drive acts as the Euler
    map's closed form says: v_n = E_L + R*I*(1 - (1 - dt/tau_m)**(n + 1))."""
    spec = _spec()
    res = {b: simulate(spec, backend=b, drive=_drive(spec), record={"p": ["v", "I_syn"]}) for b in ("numpy", "torch")}
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    v = res["numpy"].traces["p"]["v"]
    n = np.arange(spec.n_steps)
    expected = E_L + R * CURRENTS[1] * (1 - (1 - DT / TAU_M) ** (n + 1))
    np.testing.assert_allclose(v[:, 1], expected, rtol=1e-12, atol=0)
    assert np.all(v[:, 0] == E_L)  # no current: rest
    counts = np.bincount(res["numpy"].spikes["p"][0], minlength=3)
    assert counts[0] == counts[1] == 0 and counts[2] > 2  # R*I = 50 mV: above threshold


@pytest.mark.brian_standalone
def test_drive_with_unit_cpp_standalone(tmp_path):
    """cpp_standalone (drive through run_args, reruns with new drives and unit
    weights) equals the twin with ``math="libm"`` bit for bit."""
    spec = _spec()
    record = {"p": ["v"]}
    net = StandaloneNetwork(spec, record=record, drive_vars={"p": ["I_syn"]}, directory=str(tmp_path / "project"))
    first = net.run(drive=_drive(spec))
    twin = simulate(spec, backend="torch", math="libm", drive=_drive(spec), record=record)
    assert_same_spikes(first, twin)
    assert_same_traces(first, twin)
    assert first.spike_count("p") > 2

    weights = {spec.projections[0].name: np.full(spec.projections[0].size, 2e-3)}  # 2 mV kicks
    second = net.run(drive=_drive(spec, 0.5), weights=weights)
    spec2 = dataclasses.replace(spec, projections=(dataclasses.replace(spec.projections[0], weight=weights[spec.projections[0].name]),))
    twin2 = simulate(spec2, backend="torch", math="libm", drive=_drive(spec, 0.5), record=record)
    assert_same_spikes(second, twin2)
    assert_same_traces(second, twin2)
    assert not np.array_equal(second.traces["p"]["v"], first.traces["p"]["v"])
