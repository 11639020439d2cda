"""The twin's planner (`bioadapt.backends.torch.plan`): a block's names split
into what is fixed over a call and what is read every step, its statements
into a per-call prelude and a per-step body, and compiled statements that
evaluate as numpy does."""

import numpy as np
import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch.plan import SCALAR, WHOLE, plan_block
from bioadapt.errors import BackendError
from bioadapt.program import Block, Kind, Program, Ref, Statement
from bioadapt.backends.brian.extract import extract_program


@pytest.fixture(scope="module")
def lif():
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"hid": {"model": "lif", "size": 3}}, "projections": []})
    return extract_program(spec)


def test_state_update_reads_state_every_step_and_parameters_once(lif):
    block = next(b for b in lif.blocks if b.kind == Kind.CODE)
    plan = plan_block(block, lif, "numpy")
    step = {name for name, *_ in plan.step}
    fixed = {name for name, *_ in plan.fixed}
    assert step == {"v", "I", "lastspike", "not_refractory"}  # what the program writes
    assert {"tau_m", "v_rest", "t_ref"} <= fixed and not fixed & step
    assert plan.clock_t == ("t",) and all(how is WHOLE for *_, how in plan.step)
    # the temporaries of parameters only (_b_I := 0, _b_v := v_rest/tau_m, timestep(t_ref, dt))
    # are computed once per call; the body writes the state
    assert {stmt.var for _, _, stmt in plan.prelude if stmt is not None} >= {"_b_I", "_b_v"}
    assert [stmt.var for stmt, _ in plan.body if stmt.op == "="] == ["not_refractory", "I", "v"]
    assert plan.surrogate is None


def test_threshold_plan_has_its_surrogate_sides(lif):
    block = next(b for b in lif.blocks if b.kind == Kind.THRESHOLD)
    plan = plan_block(block, lif, "numpy")
    left, right = plan.surrogate
    env = {"v": torch.tensor([0.5, 1.5]), "theta": torch.tensor(1.0)}
    assert torch.equal(left(env) - right(env), torch.tensor([-0.5, 0.5]))


def _program(block):
    return Program(blocks=(block,), sizes={"G": 3}, initial={}, dtypes={}, written=frozenset({("G", "x")}), synapses={}, spiking=(), dt=1e-4, clock="defaultclock")


def test_compiled_statements_follow_numpy_and_name_the_block():
    ref = Ref("G", "x", "_idx", "float", False)
    block = Block(Kind.CODE, "G_stateupdater", "G", "groups", vector=(Statement("x", "=", "x*0.1 + 0.2", names=frozenset({"x"})),),
                  refs={"x": ref}, where="net.toml: population 'G'")
    plan = plan_block(block, _program(block), "numpy")
    (stmt,) = plan.statements
    assert plan.body == ((stmt, None),) and stmt.statement is block.vector[0]  # compiled once, the body holds it
    x = np.array([0.3, -1.7, 1e300])
    assert np.array_equal(stmt.fn({"x": torch.tensor(x)}).numpy(), x * 0.1 + 0.2)
    for expr in ("nosuch(x)", "x*("):
        bad = Block(Kind.CODE, "G_stateupdater", "G", "groups", vector=(Statement("x", "=", expr, names=frozenset({"x"})),),
                    refs={"x": ref}, where="net.toml: population 'G'")
        with pytest.raises(BackendError, match="net.toml: population 'G'"):
            plan_block(bad, _program(bad), "numpy")
    assert SCALAR != WHOLE


def test_pathway_plans_mark_the_unconditional_additions_of_fixed_values():
    """`BlockPlan.additions`: which statements of synapse code add a value
    fixed over the call to a pre- or postsynaptic variable without
    condition, what the synapses a spike reaches take without the block's
    names (`execute.run_arriving`); a target written ``unless refractory``,
    and a value read from the state are not."""
    projections = [{"name": name, "source": "hid", "target": "hid", "on_pre": code, "connect": "all_to_all", "weight": "0.1"}
                   for name, code in (("fixed", "I_post += weight"), ("scaled", "I_post -= 2*weight"), ("refractory", "v_post += weight"),
                                      ("state", "I_post += weight*v_pre"))]
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"hid": {"model": "lif", "size": 3}}, "projections": projections})
    program = extract_program(spec)
    additions = {}
    for block in program.blocks:
        if block.kind == Kind.PATHWAY:
            plan = plan_block(block, program, "numpy", gathered=True)
            additions[block.group] = [(stmt.var, added) for (stmt, _), added in zip(plan.body, plan.additions)]
    assert additions == {"fixed": [("I_post", True)], "scaled": [("I_post", True)], "refractory": [("v_post", False)], "state": [("I_post", False)]}
    neuron = next(b for b in program.blocks if b.kind == Kind.CODE)
    assert plan_block(neuron, program, "numpy").additions == ()
