"""The twin's executors (`bioadapt.backends.torch.execute`) one block at a time,
and the compiled schedule's grouping (`bioadapt.backends.torch.compiled.segments`).

The agreement tests run whole networks against Brian2; these run single
executors of a small LIF population on a state set by hand and check them
against the closed-form solution and the threshold/reset semantics, so that a
fault shows in the block that has it.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch.compiled import segments
from bioadapt.backends.torch.env import Step
from bioadapt.backends.torch.execute import EXECUTORS, executors
from bioadapt.backends.torch.twin import Twin
from bioadapt.errors import BackendError
from bioadapt.program import Block, Kind, Pathway, Threshold

TAU_M, TAU_SYN, DT, T_REF = 20e-3, 5e-3, 1e-4, 2e-3
V0 = [0.2, 0.5, 1.2, 0.9, 1.5]
I0 = [0.0, 3.0, 0.0, 1.0, 0.0]


def _lif_twin():
    spec = network_from_dict({
        "dt": f"{DT * 1e3}*ms", "duration": "1*ms",
        "populations": {"hid": {"model": "lif", "size": len(V0), "values": {"v": V0, "I": I0}}},
        "projections": [],
    })
    return Twin(spec)


def _step(twin, k: int):
    """A `Step` at step ``k`` of a fresh call (batch 1), with the initial state."""
    call = twin._prepare(1, torch.device("cpu"))
    state = twin.initial_state(1)
    history = {g: [torch.zeros(1, twin.program.sizes[g], dtype=torch.float64)] for g in twin.program.spiking}
    step = Step(call, state, history, {"steps": {}, "drive": {}}, 0)
    step.t, step.k = torch.tensor(k * DT, dtype=torch.float64), k
    return step


def _run(twin, step, kind: str):
    (run,) = executors(twin.layout, tuple(entry for entry in twin.layout.schedule if entry[0] == kind))
    with torch.no_grad():
        run(step)


def test_every_block_kind_has_an_executor():
    kinds = {"code", "threshold", "reset", "pathway", "summed", "generator", "drive"}  # `program.Block.kind`
    assert kinds | {"regular", "segment"} == set(EXECUTORS)
    with pytest.raises(BackendError, match="unknown block kind 'nope'"):
        executors(None, (("nope", None, None),))


def test_state_update_executor_is_the_closed_form_solution():
    twin = _lif_twin()
    step = _step(twin, 10)
    _run(twin, step, "code")
    v0, i0 = np.array(V0), np.array(I0)
    # dv/dt = (v_rest - v + I)/tau_m, dI/dt = -I/tau_syn, v_rest = 0, over one step
    a, b = np.exp(-DT / TAU_M), np.exp(-DT / TAU_SYN)
    v = v0 * a + i0 * TAU_SYN / (TAU_SYN - TAU_M) * (b - a)
    np.testing.assert_allclose(step.state[("hid", "v")][0].numpy(), v, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(step.state[("hid", "I")][0].numpy(), i0 * b, rtol=1e-13, atol=0)
    assert step.state[("hid", "not_refractory")].all()  # lastspike = -10 s: nobody is refractory


def test_refractory_neurons_keep_v_and_integrate_I():
    twin = _lif_twin()
    step = _step(twin, 10)
    lastspike = torch.tensor([[-1.0, 10 * DT - T_REF / 2, -1.0, 10 * DT - T_REF, -1.0]], dtype=torch.float64)
    step.state[("hid", "lastspike")] = lastspike
    _run(twin, step, "code")
    refractory = [False, True, False, False, False]  # at exactly t_ref the neuron integrates again (Brian2's timestep comparison)
    assert step.state[("hid", "not_refractory")][0].tolist() == [not r for r in refractory]
    v = step.state[("hid", "v")][0].numpy()
    assert v[1] == V0[1]  # (unless refractory): v is written for the others only
    assert v[3] != V0[3]
    assert step.state[("hid", "I")][0, 1] == I0[1] * np.exp(-DT / TAU_SYN)  # I has no write protection


def test_threshold_then_reset_executors():
    twin = _lif_twin()
    step = _step(twin, 7)
    step.state[("hid", "not_refractory")] = torch.tensor([[True, True, True, True, False]])
    _run(twin, step, "threshold")
    # v > theta (1.0) among neurons not refractory: neuron 2; neuron 4 is above but refractory
    expected = [False, False, True, False, False]
    assert step.masks["hid"][0].tolist() == expected
    assert step.fired["hid"][0].tolist() == [float(x) for x in expected]
    assert step.history["hid"][-1] is step.fired["hid"]
    assert step.state[("hid", "lastspike")][0].tolist() == [7 * DT if x else -1e4 for x in expected]
    assert step.state[("hid", "not_refractory")][0].tolist() == [True, True, False, True, False]
    _run(twin, step, "reset")
    assert step.state[("hid", "v")][0].tolist() == [0.2, 0.5, 0.0, 0.9, 1.5]  # v_reset = 0 where it fired


def _entry(kind, group="P", noise=False, source=None):
    block = Block(Kind("code" if kind == "regular" else kind), f"{group}_{kind}", group, "groups",
                  pathway=Pathway(source, group, "pre", "pre") if kind == "pathway" else None,
                  threshold=Threshold(refractory=False) if kind == "threshold" else None, every=2 if kind == "regular" else None)
    plan = SimpleNamespace(constants=(("xi", _noise() if noise else 0.5),))  # (segments look at the kind of constants only)
    return (kind, block, plan)


def _noise():
    from bioadapt.noise import NoiseSource

    return NoiseSource.__new__(NoiseSource)  # only its type is looked at


def test_segments_group_consecutive_code_blocks():
    made = []

    def compile_segment(entries):
        made.append(tuple(block.name for _, block, _ in entries))
        return f"segment{len(made)}"

    schedule = (
        _entry("generator", "inp"),
        _entry("code", "P"), _entry("code", "Q", noise=True), _entry("code", "R"),
        _entry("threshold", "P"), _entry("threshold", "R"),
        _entry("pathway", "S1", source="P"),  # dense, source fired earlier: joins
        _entry("pathway", "S2", source="Q"),  # dense, Q has no threshold before it: ends the run
        _entry("reset", "P"), _entry("regular", "P"), _entry("summed", "T"),
    )
    steps = segments(schedule, compile_segment, dense={"S1_pathway", "S2_pathway"})
    assert [kind for kind, _, _ in steps] == ["generator", "segment", "code", "segment", "pathway", "segment", "regular", "summed"]
    assert made == [("P_code",), ("R_code", "P_threshold", "R_threshold", "S1_pathway"), ("P_reset",)]
    # on the CPU (no dense pathway in a graph) the pathway ends the run
    made.clear()
    steps = segments(schedule, compile_segment, dense=set())
    assert made == [("P_code",), ("R_code", "P_threshold", "R_threshold"), ("P_reset",)]


def test_executors_need_a_layout_and_the_call_not_the_module():
    """What an executor reads is the layout (tables built from the program), the
    call's values and the step: a layout built anew gives the same step."""
    from bioadapt.backends.torch.layout import build_layout

    twin = _lif_twin()
    fresh = build_layout(twin.spec, twin.program, "numpy", "exact", torch.float64)
    results = []
    for layout in (twin.layout, fresh):
        step = _step(twin, 10)
        with torch.no_grad():
            for run in executors(layout, layout.schedule):
                run(step)
        results.append(step.state)
    assert results[0].keys() == results[1].keys()
    assert all(torch.equal(results[0][key], results[1][key]) for key in results[0])


def test_step_is_a_function_of_state_and_history():
    """`execute.step` leaves its arguments as they were, gives the same result
    twice, and stepped by hand gives what `Twin.forward` gives."""
    from bioadapt.backends.torch.execute import step

    spec = network_from_dict({
        "dt": "1*ms", "duration": "20*ms", "seed": 3,
        "populations": {"inp": {"kind": "poisson", "size": 4, "rate": "300*Hz"}, "hid": {"model": "adlif", "size": 6}},
        "projections": [{"name": "input", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": 4.0, "delay": "2*ms"}],
    })
    twin = Twin(spec)
    inputs = twin.default_inputs()
    with torch.no_grad():
        expected = twin(inputs=inputs)
        call = twin._prepare(1, torch.device("cpu"))
        state = twin.initial_state(1)
        history = {g: [torch.zeros(1, twin.program.sizes[g], dtype=torch.float64)] * (twin.max_delay.get(g, 0) + 1) for g in twin.program.spiking}
        feeds = {"inputs": inputs, "steps": {"inp": inputs["inp"].unbind(0)}, "drive": {}}
        schedule = executors(twin.layout, twin.layout.schedule)
        spikes = []
        for k in range(spec.n_steps):
            before = {key: value.clone() for key, value in state.items()}
            t = torch.arange(k, k + 1, dtype=torch.float64)[0] * call.dt  # as forward computes it
            new_state, new_history, fired = step(schedule, call, state, history, feeds, k, t)
            again, _, fired_again = step(schedule, call, state, history, feeds, k, t)
            assert all(torch.equal(state[key], before[key]) for key in state)  # the arguments are as they were
            assert all(torch.equal(new_state[key], again[key]) for key in new_state) and torch.equal(fired["hid"], fired_again["hid"])
            state, history = new_state, new_history
            spikes.append(fired["hid"])
    assert torch.equal(torch.stack(spikes), expected.spikes["hid"]) and expected.spikes["hid"].sum() > 0
    assert all(torch.equal(state[key], expected.state[key]) for key in state)
