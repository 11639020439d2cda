"""The program (`bioadapt.program`): Brian2's per-step code as data, read back
from the objects the Brian2 builder makes, with no torch object in it."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from helpers import MEMBRANE, model_network

from bioadapt import network_from_dict
from bioadapt.program import Block, Kind, Program, Ref, Statement
from bioadapt.program.analysis import assigned_names, neuron_writes, restored_names, written_names
from bioadapt.backends.brian.extract import extract_program

#: the typed field each kind of block carries (and no other kind does)
FIELDS = {Kind.PATHWAY: "pathway", Kind.THRESHOLD: "threshold", Kind.SUMMED: "summed", Kind.GENERATOR: "inputs", Kind.DRIVE: "drive_var"}


def _values(obj):
    """Every value inside a program's dataclasses, tuples, dicts and sets."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _values(getattr(obj, f.name))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _values(key)
            yield from _values(value)
    elif isinstance(obj, (tuple, list, set, frozenset)):
        for value in obj:
            yield from _values(value)
    else:
        yield obj


@pytest.mark.parametrize("model", sorted(MEMBRANE))
def test_every_shipped_model_reads_back_as_plain_data(model):
    spec = network_from_dict(model_network(model, steps=20))
    program = extract_program(spec, drive_vars={})
    assert isinstance(program, Program)
    kinds = [b.kind for b in program.blocks]
    assert {Kind.GENERATOR, Kind.CODE, Kind.THRESHOLD, Kind.PATHWAY} <= set(kinds) or model in ("li", "relay")
    for block in program.blocks:
        assert isinstance(block, Block) and isinstance(block.kind, Kind)
        for kind, name in FIELDS.items():
            assert (getattr(block, name) is not None) == (block.kind == kind), (block.name, name)
        assert block.every is None  # all on the network's clock here
        assert all(isinstance(s, Statement) for s in block.statements)
        if block.kind != Kind.GENERATOR:
            assert block.where.startswith(str(spec.source)) and block.name in block.where
    # no compiled function, tensor or other object of a backend: only data
    allowed = (str, int, float, bool, type(None), np.ndarray, np.generic, np.dtype, Kind, frozenset)
    odd = {type(v).__name__ for v in _values(program) if not isinstance(v, allowed)}
    assert odd <= {"LinearSystem", "DecaySystem", "ProgramExponentials"}, odd  # (the schemes' derived-constant systems)


def test_the_program_package_does_not_import_torch():
    code = "import sys, bioadapt.program, bioadapt.program.analysis; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lif_program_in_schedule_order():
    spec = network_from_dict(model_network("lif", steps=20))
    program = extract_program(spec)
    order = [(b.kind, b.group) for b in program.blocks]
    # Brian2's slots: start (input spikes), groups (state update), thresholds, synapses, resets
    assert order.index((Kind.CODE, "hid")) < order.index((Kind.THRESHOLD, "hid")) < min(i for i, (k, _) in enumerate(order) if k == Kind.PATHWAY)
    assert max(i for i, (k, _) in enumerate(order) if k == Kind.PATHWAY) < order.index((Kind.RESET, "hid"))
    threshold = next(b for b in program.blocks if b.kind == Kind.THRESHOLD)
    assert threshold.threshold.refractory and (threshold.threshold.left, threshold.threshold.right) == ("v", "theta")
    assert threshold.threshold.thresholded == ("v",)
    update = next(b for b in program.blocks if b.kind == Kind.CODE)
    v = update.refs["v"]
    assert isinstance(v, Ref) and (v.owner, v.var, v.dtype, v.conditional) == ("hid", "v", "float", "not_refractory")
    # the recurrent projection writes v of its target through the postsynaptic index
    rec = [b for b in program.blocks if b.kind == Kind.PATHWAY and b.pathway.source == "hid"]
    assert rec and all(b.refs["v_post"].index == "_postsynaptic_idx" for b in rec)
    assert ("hid", "v") in program.written and ("hid", "tau_m") not in program.written


def test_code_analyses_of_a_network():
    spec = network_from_dict(model_network("lif", steps=20))
    pop = spec.populations["hid"]
    writes = {(owner, var) for proj in spec.projections for owner, var, _, _ in neuron_writes(proj)}
    assert writes == {("hid", "I"), ("hid", "v")}  # the input adds to I, the recurrent synapses to v
    assert {"v", "I"} <= assigned_names(spec, pop)  # reset (v = v_reset) and synapses
    assert "tau_m" not in assigned_names(spec, pop) and "tau_m" not in written_names(spec, pop)
    assert assigned_names(spec, pop, driven=["tau_m"]) >= {"tau_m"}
    # the differential equations' variables, and (conservatively) every parameter the reset mentions
    assert set(restored_names(spec, pop)) == {"v", "I", "v_reset"}
