"""cpp_standalone is compiled once per structure; new values go in through run_args."""

import dataclasses
import os

import numpy as np
import pytest

from bioadapt import network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from helpers import assert_same_spikes, assert_same_traces, model_network

pytestmark = pytest.mark.brian_standalone


def _changed(spec):
    """The same structure with new parameters, weights, delays and input spikes."""
    rng = np.random.default_rng(42)
    hid = spec.populations["hid"]
    values = dict(hid.values, tau_u=rng.uniform(5e-3, 25e-3, hid.size), a=rng.uniform(0, 1, hid.size))
    pops = dict(spec.populations, hid=dataclasses.replace(hid, values=values))
    inp = spec.populations["inp"]
    raster = rng.random((spec.n_steps, inp.size)) < 0.03
    steps, idx = np.nonzero(raster)
    pops["inp"] = dataclasses.replace(inp, input_steps=steps, input_indices=idx)
    projections = tuple(
        dataclasses.replace(p, weight=rng.normal(0, 1.2, p.size), delay_steps=rng.integers(0, 5, p.size)) if p.source == p.target else p for p in spec.projections
    )
    return dataclasses.replace(spec, populations=pops, projections=projections), raster.astype(float)


def test_compile_once_rerun_with_new_values_matches_twin(tmp_path):
    spec = network_from_dict(model_network("adlif", steps=2000))
    record = {"hid": ["u", "w"]}
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"))
    binary = tmp_path / "project" / "main"
    built = os.path.getmtime(binary)

    first = net.run()
    assert_same_spikes(first, simulate(spec, backend="torch", record=record, math="libm"))
    assert_same_traces(first, simulate(spec, backend="torch", record=record, math="libm"))

    new, raster = _changed(spec)
    rec = [p for p in new.projections if p.source == p.target][0]
    second = net.run(
        values={"hid": {"tau_u": new.populations["hid"].values["tau_u"], "a": new.populations["hid"].values["a"]}},
        weights={rec.name: rec.weight},
        delay_steps={rec.name: rec.delay_steps},
        inputs={"inp": raster},
    )
    twin = simulate(new, backend="torch", record=record, math="libm")
    assert_same_spikes(second, twin)
    assert_same_traces(second, twin)
    assert second.spike_set("hid") != first.spike_set("hid")
    assert os.path.getmtime(binary) == built and net.runs == 2

    # back to the defaults: the first result again
    third = net.run()
    assert_same_traces(first, third)


def test_superseded_network_refuses_to_run(tmp_path):
    spec = network_from_dict(model_network("lif", steps=200))
    old = StandaloneNetwork(spec, directory=str(tmp_path / "a"))
    StandaloneNetwork(spec, directory=str(tmp_path / "b"))
    from bioadapt import BackendError

    with pytest.raises(BackendError, match="superseded by a later cpp_standalone build"):
        old.run()
