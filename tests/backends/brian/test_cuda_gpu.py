"""cuda_standalone on a GPU against cpp_standalone (marker ``cuda``: deselected
by default, skipped without a GPU; run with ``pytest -m cuda``).

The networks are those of the other backend tests with the recurrent
projections removed and at most one input spike per step: every neuron then
receives at most one synaptic contribution per step, so the GPU's atomic
additions cannot sum in another order than the CPU, and the two targets
differ only by the last bits of the elementary functions (CUDA's ``exp``,
``log``, ``tanh`` are within 1 to 2 ulp of glibc's; both compile without fast
math and without fused multiply-add).
"""

import dataclasses

import numpy as np
import pytest

from bioadapt import network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from helpers import MEMBRANE, assert_same_spikes, model_network

pytestmark = pytest.mark.cuda

#: Relative trace tolerance: a few ulp (~1e-16) per step of function error,
#: carried through 1000 steps of contracting dynamics, stays orders of
#: magnitude below this; a spike that moves or a wrong variable is far above.
TRACE_RTOL = 1e-9
#: Absolute tolerance for traces that pass through zero (states of order 1).
TRACE_ATOL = 1e-12
STEPS = 1000


def feed_forward(spec):
    """``spec`` without recurrent projections and with at most one input spike per step."""
    inp = spec.populations["inp"]
    _, first = np.unique(inp.input_steps, return_index=True)
    pops = dict(spec.populations, inp=dataclasses.replace(inp, input_steps=inp.input_steps[first], input_indices=inp.input_indices[first]))
    projections = tuple(p for p in spec.projections if p.source != p.target)
    return dataclasses.replace(spec, populations=pops, projections=projections)


def assert_close_traces(a, b):
    for pop, variables in a.traces.items():
        for var, values in variables.items():
            np.testing.assert_allclose(values, b.traces[pop][var], rtol=TRACE_RTOL, atol=TRACE_ATOL, err_msg=f"{a.backend} vs {b.backend}: {pop}.{var}")


@pytest.mark.parametrize("model", ["lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"])
def test_cuda_matches_cpp_standalone(model):
    spec = feed_forward(network_from_dict(model_network(model, steps=STEPS)))
    assert np.all(np.bincount(spec.populations["inp"].input_steps) <= 1)
    record = {"hid": [MEMBRANE[model]]}
    cpu = simulate(spec, backend="cpp_standalone", record=record)
    gpu = simulate(spec, backend="cuda_standalone", record=record)
    assert gpu.backend == "cuda_standalone" and gpu.traces["hid"][MEMBRANE[model]].shape == (STEPS, spec.populations["hid"].size)
    for pop in spec.populations.values():  # every spiking population spikes (numpy: 12 to 1162 spikes)
        if pop.model is not None and pop.model.threshold:
            assert len(cpu.spikes[pop.name][0]) > 0, pop.name
    assert_same_spikes(cpu, gpu)
    assert_close_traces(cpu, gpu)


def test_cuda_rerun_with_new_values_matches_cpp_standalone(tmp_path):
    spec = feed_forward(network_from_dict(model_network("adlif", steps=STEPS)))
    record = {"hid": ["u", "w"]}
    rng = np.random.default_rng(5)
    size = spec.populations["hid"].size
    proj = spec.projections[0]
    new = dict(values={"hid": {"tau_u": rng.uniform(5e-3, 25e-3, size)}}, weights={proj.name: rng.normal(3, 1, proj.size)}, delay_steps={proj.name: rng.integers(0, 4, proj.size)})
    results = {}
    for target in ("cpp_standalone", "cuda_standalone"):
        net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / target), target=target)
        results[target] = (net.run(), net.run(**new))
    for cpu, gpu in zip(results["cpp_standalone"], results["cuda_standalone"]):
        assert_same_spikes(cpu, gpu)
        assert_close_traces(cpu, gpu)
    assert results["cuda_standalone"][0].spike_set("hid") != results["cuda_standalone"][1].spike_set("hid")
