"""Spike-triggered pathways in the twin (`bioadapt.backends.torch.pathways`):
the synapses in Brian2's spike-queue order, and the dense mode's plan."""

import numpy as np
import torch

from bioadapt import network_from_dict
from bioadapt.backends.brian.extract import extract_program
from bioadapt.backends.torch.pathways import dense_plan, spike_queue_routes
from bioadapt.backends.torch.plan import plan_block
from bioadapt.program import Kind


def _program(on_pre="v_post += weight"):
    spec = network_from_dict({
        "dt": "1*ms", "duration": "5*ms",
        "populations": {"inp": {"kind": "spikes", "size": 3}, "hid": {"model": "lif", "size": 2}},
        "projections": [{"name": "S", "source": "inp", "target": "hid", "on_pre": on_pre, "weight": 0.5,
                         "connect": "all_to_all", "delay": "0*ms"}],
    })
    return spec, extract_program(spec)


def test_queue_order_is_delay_descending_then_presynaptic_then_synapse_index():
    spec, program = _program()
    block = next(b for b in program.blocks if b.kind == Kind.PATHWAY)
    syn = program.synapses["S"]
    delays = np.array([2, 0, 1, 2, 0, 1])  # put other delays in, as learned delays do
    syn["pre_delays"]["pre"] = delays
    route = spike_queue_routes(program)[block.name]
    order = route["perm"].numpy()
    i = syn["i"]
    # Brian2's queue: earlier pushes (longer delays) first, then the presynaptic index, then the synapse index
    expected = sorted(range(len(i)), key=lambda s: (-delays[s], i[s], s))
    assert order.tolist() == expected
    assert torch.equal(route["pre"], torch.as_tensor(i[order])) and torch.equal(route["delay"], torch.as_tensor(delays[order]))
    assert torch.equal(route["perm"][route["inverse"]], torch.arange(len(i)))
    assert route["spiker"] is route["pre"]  # on_pre: the presynaptic spikes trigger it


def test_dense_plan_takes_additions_to_a_postsynaptic_variable_only():
    spec, program = _program()
    block = next(b for b in program.blocks if b.kind == Kind.PATHWAY)
    route = spike_queue_routes(program)[block.name]
    plan = dense_plan(program, block, plan_block(block, program, "numpy", gathered=True).statements, route)
    assert [stmt.var for stmt in plan["targets"]] == ["v_post"] and len(plan["delays"]) == 1
    d, where, pre, post, unique = plan["delays"][0]
    assert d == 0 and where is None and unique  # all-to-all: each (pre, post) pair once
    # a contribution that reads a neuron variable through an index: no dense plan (the weight matrices hold synaptic values only)
    spec, program = _program("v_post += weight*theta_post")
    block = next(b for b in program.blocks if b.kind == Kind.PATHWAY)
    assert dense_plan(program, block, plan_block(block, program, "numpy", gathered=True).statements, spike_queue_routes(program)[block.name]) is None
