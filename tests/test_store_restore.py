"""Brian2's ``net.store()`` / ``net.restore()`` in the middle of a run
(``simulate(..., store=True)``, ``simulate(..., restore=result.stored)``): a run
continued from a stored state is the second half of one long run, bit for bit, in
the numpy runtime and the twin (spikes in flight on delayed synapses,
refractoriness, noise and input spikes running on); values set after a restore are
a change at that time; one error where it cannot work."""

import dataclasses

import numpy as np
import pytest

from bioadapt import BackendError, ConfigError, network_from_dict, simulate

RECORD = {"hid": ["v", "I"]}
HALF = 500  # steps of each part


def _net(steps):
    return network_from_dict({
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 4,
        "populations": {"inp": {"kind": "spikes", "size": 20}, "hid": {"model": "lif", "size": 12}},
        "projections": [{"name": "S", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.5}, "weight": "rand()*0.9", "delay": "uniform(0*ms, 4*ms)"},
                        {"name": "R", "source": "hid", "target": "hid", "on_pre": "v_post += weight", "connect": {"p": 0.3}, "weight": "-0.2*rand()", "delay": "uniform(0.5*ms, 3*ms)"}],
        "run_regularly": [{"target": "hid", "code": "I = I + 0.05*randn()", "dt": "1*ms"}],
    })


def _input(first, end):
    rng = np.random.default_rng(1)
    raster = rng.random((2 * HALF, 20)) < 0.04
    steps, i = np.nonzero(raster[first:end])
    return {"inp": {"i": i, "step": steps}}


def _shifted(result, start):
    """``result``'s spikes as steps of a run that began ``start`` steps earlier."""
    return {pop: (i, steps + start) for pop, (i, steps) in result.spikes.items()}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_restored_run_is_the_second_half_of_one_run(backend):
    whole = simulate(_net(2 * HALF), backend=backend, record=RECORD, inputs=_input(0, 2 * HALF))
    first = simulate(_net(HALF), backend=backend, record=RECORD, inputs=_input(0, HALF), store=True)
    second = simulate(_net(HALF), backend=backend, record=RECORD, inputs=_input(HALF, 2 * HALF), restore=first.stored)
    assert first.stored.step == HALF and second.n_steps == HALF
    for var in RECORD["hid"]:
        assert np.array_equal(np.concatenate([first.traces["hid"][var], second.traces["hid"][var]]), whole.traces["hid"][var]), var
    i, steps = whole.spikes["hid"]
    late = steps >= HALF
    assert np.array_equal(_shifted(second, HALF)["hid"][1], steps[late]) and np.array_equal(second.spikes["hid"][0], i[late])
    # spikes sent in the first half arrive in the second: without them the second half differs
    fresh = simulate(_net(HALF), backend=backend, record=RECORD, inputs=_input(HALF, 2 * HALF))
    assert whole.spike_count("hid") > 20 and not np.array_equal(fresh.traces["hid"]["v"], second.traces["hid"]["v"])


def test_values_set_after_a_restore_and_both_families_agree():
    """``restore(); G.tau_m = 10*ms; run()`` is one run with that change at the restored time;
    the twin's restored run equals the numpy runtime's."""
    change = {"tau_m": "10*ms", "v": 0.2}
    whole = simulate(_net(2 * HALF), backend="numpy", record=RECORD, inputs=_input(0, 2 * HALF), changes={f"{HALF}*0.1*ms": {"hid": change}})
    results = {}
    for backend in ("numpy", "torch"):
        first = simulate(_net(HALF), backend=backend, inputs=_input(0, HALF), store=True)
        results[backend] = simulate(_net(HALF), backend=backend, record=RECORD, inputs=_input(HALF, 2 * HALF), restore=first.stored, changes={"0*ms": {"hid": change}})
    for var in RECORD["hid"]:
        assert np.array_equal(results["numpy"].traces["hid"][var], whole.traces["hid"][var][HALF:]), var
        assert np.array_equal(results["torch"].traces["hid"][var], results["numpy"].traces["hid"][var]), var


def test_store_and_restore_refuse_what_cannot_work():
    spec = _net(100)
    inputs = _input(0, 100)
    with pytest.raises(BackendError, match="store/restore: backend 'cpp_standalone' runs a compiled binary"):
        simulate(spec, backend="cpp_standalone", inputs=inputs, store=True)
    stored = simulate(spec, backend="numpy", inputs=inputs, store=True).stored
    with pytest.raises(ConfigError, match=r"restore: the state was stored by the numpy backend; it restores there \(numpy\), not in 'torch'"):
        simulate(spec, backend="torch", inputs=inputs, restore=stored)
    bigger = dataclasses.replace(spec, populations={**spec.populations, "hid": dataclasses.replace(spec.populations["hid"], size=13)})
    with pytest.raises(ConfigError, match=r"restore: the state was stored for populations \{'inp': 20, 'hid': 12\}"):
        simulate(bigger, backend="numpy", inputs=inputs, restore=stored)
    with pytest.raises(ConfigError, match="restore: expected the `stored` of a result of simulate"):
        simulate(spec, backend="numpy", inputs=inputs, restore={"hid": 1})
    with pytest.raises(ConfigError, match=r"changes at '0\*ms': 0 ms must be a positive whole number of steps"):
        simulate(spec, backend="numpy", inputs=inputs, changes={"0*ms": {"hid": {"v": 0}}})
