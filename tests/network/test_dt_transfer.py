"""The dt rule (`bioadapt.network.transfer`): one-step inputs keep their charge,
the trained timing is kept or only the declared one, per-step maps are refused,
the own dt changes nothing."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from brian2 import ms

from bioadapt import ConfigError, at_dt, network_from_dict, simulate
from bioadapt.network import transfer
from bioadapt.network.inputs import with_inputs
from bioadapt.reference import reference_run
from helpers import model_network


def _adlif_readout(steps=120, seed=7) -> dict:
    """model_network's adlif layer (Poisson input, recurrent delays, autapses) with a li readout."""
    net = model_network("adlif", steps=steps, seed=seed)
    net["populations"]["out"] = {"model": "li", "size": 5}
    net["projections"].append({"name": "readout", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 1)", "delay": "uniform(0*ms, 2.4*ms)"})
    return net


def _same(a, b):
    for pop in a.spikes:
        assert np.array_equal(a.spikes[pop][0], b.spikes[pop][0]) and np.array_equal(a.spikes[pop][1], b.spikes[pop][1]), pop
    for pop, variables in a.traces.items():
        for var, values in variables.items():
            assert np.array_equal(values, b.traces[pop][var]), (pop, var)


def test_own_dt_changes_nothing_bitwise():
    """At its own dt a network is the same object; a round trip through a finer
    grid gives charge 1.0 and the original delays, so the code Brian2 gets is
    the original and the run is bit for bit the original one."""
    spec = network_from_dict(_adlif_readout())
    assert at_dt(spec, spec.dt) is spec and at_dt(spec, "1*ms") is spec
    back = at_dt(at_dt(spec, "0.25ms"), "1ms")
    assert transfer.charge(back) == 1.0 and back.base_dt == spec.dt
    for a, b in zip(spec.projections, back.projections):
        assert np.array_equal(a.delay_steps, b.delay_steps) and transfer.on_pre_code(back, b) is b.on_pre
    assert transfer.reset_code(back, back.populations["hid"]) is spec.populations["hid"].model.reset
    record = {"hid": ["u", "w"], "out": ["y"]}
    _same(simulate(spec, backend="numpy", record=record), simulate(back, backend="numpy", record=record))


def test_writes_into_one_step_inputs_scale_and_the_trained_timing_is_kept():
    spec = network_from_dict(_adlif_readout())
    fine = at_dt(spec, 0.1 * ms)
    assert fine.dt == pytest.approx(1e-4, rel=1e-15) and fine.base_dt == 1e-3 and transfer.charge(fine) == 10.0
    assert transfer.impulse_variables(fine.populations["hid"]) == ("I", "z")  # inferred from [every_step]
    assert transfer.impulse_variables(fine.populations["out"]) == ("I",)  # declared by li.toml
    assert transfer.on_pre_code(fine, fine.projections[0]) == "I_post += (weight)*bioadapt_charge"
    assert transfer.reset_code(fine, fine.populations["hid"]).split() == ["u", "=", "u_rest", "z", "=", "(1)*bioadapt_charge"]
    for a, b in zip(spec.projections, fine.projections):  # (d + 1)*dt0 after the spike: (d + 1)*10 - 1 steps
        assert np.array_equal(b.delay_steps, (a.delay_steps + 1) * 10 - 1)
    # at most one spike per dt0: a refractory period of one step of dt0 where the model has none
    assert transfer.refractory(fine, fine.populations["hid"]) == "0.001*second" and transfer.refractory(spec, spec.populations["hid"]) is False
    assert transfer.refractory(fine, fine.populations["out"]) is False  # no threshold
    declared = at_dt(spec, "0.1ms", timing="declared")
    for a, b in zip(spec.projections, declared.projections):
        assert np.array_equal(b.delay_steps, a.delay_steps * 10)
    assert transfer.refractory(declared, declared.populations["hid"]) is False and transfer.charge(declared) == 10.0
    with pytest.raises(ConfigError, match="timing must be one of 'trained', 'declared'"):
        at_dt(spec, "0.1ms", timing="half")


@pytest.mark.parametrize("dt", ["0.25*ms", "0.25ms", 0.25 * ms, 0.25e-3])
def test_time_steps_as_quantities(dt):
    spec = network_from_dict(_adlif_readout(steps=20))
    assert at_dt(spec, dt).n_steps == 80


@pytest.mark.parametrize("dt, message", [("0.1*mV", r"at_dt: dt: expected a time such as '0.1\*ms' or '0.1ms', got '0.1\*mV'"), ("fast", "unknown unit or name 'fast'"), (None, "expected a time"), (-1e-4, "dt must be positive")])
def test_bad_time_steps(dt, message):
    spec = network_from_dict(_adlif_readout(steps=20))
    with pytest.raises(ConfigError, match=message):
        at_dt(spec, dt)


def test_twin_equals_numpy_bitwise_at_a_finer_dt():
    """The charge is a constant of the code Brian2 generates; the twin reads it there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fine = at_dt(network_from_dict(_adlif_readout(steps=200)), "0.25ms")
    record = {"hid": ["u", "w", "z"], "out": ["y"]}
    a = simulate(fine, backend="numpy", record=record)
    b = simulate(fine, backend="torch", record=record)
    assert a.spike_count("hid") > 40
    _same(a, b)


def test_per_step_maps_are_refused_with_the_reason(tmp_path):
    for model, reason in [("stc", "is defined per step: the gains and the integration act once per step"), ("cadlif", "w adds a\\*u \\+ b\\*z once per step"), ("relay", "fires every step")]:
        spec = network_from_dict(model_network(model, steps=20))
        with pytest.raises(ConfigError, match=f"cannot be put on a time step of 0.5 ms .*population 'hid' \\(model {model}, .*{reason}"):
            at_dt(spec, "0.5ms")
    program = (tmp_path / "step.toml")
    text = (Path(__file__).parents[1] / "models" / "valid" / "retime_program.toml").read_text()
    program.write_text(text)
    net = {"dt": "1*ms", "duration": "4*ms", "populations": {"n": {"model": "step.toml", "size": 2}}}
    assert transfer.impulse_variables(network_from_dict(net, folder=tmp_path).populations["n"]) == ("I",)
    at_dt(network_from_dict(net, folder=tmp_path), "0.5ms")  # declared: accepted
    program.write_text(text.replace('[retime]\nimpulse = ["I"]', ""))
    with pytest.raises(ConfigError, match=r"runs the 'step' program, a map per step; whether it is a discretization consistent in dt cannot be inferred"):
        at_dt(network_from_dict(net, folder=tmp_path), "0.5ms")
    program.write_text(text.replace('[retime]\nimpulse = ["I"]', "").replace("exp(-dt/tau)", "0.9"))
    with pytest.raises(ConfigError, match=r"runs the 'step' program, a map per step that does not use dt"):
        at_dt(network_from_dict(net, folder=tmp_path), "0.5ms")


@pytest.mark.parametrize("equations, threshold, message", [
    ("dv/dt = (-v + I**2)/tau : 1", "v > 1", "dv/dt depends non-linearly on the one-step input 'I'"),
    ("dv/dt = (-v + I)/tau : 1", "v + I > 1", "the threshold reads the one-step input 'I'"),
])
def test_one_step_inputs_must_act_linearly(tmp_path, equations, threshold, message):
    (tmp_path / "m.toml").write_text(f'equations = """\n{equations}\nI : 1\ntau : second\n"""\nthreshold = "{threshold}"\nreset = "v = 0"\n[every_step]\nafter_groups = "I = 0"\n[defaults]\ntau = "10*ms"\n')
    spec = network_from_dict({"dt": "1*ms", "duration": "4*ms", "populations": {"n": {"model": "m.toml", "size": 1}}}, folder=tmp_path)
    with pytest.raises(ConfigError, match=message):
        at_dt(spec, "0.5ms")


def test_a_projection_into_one_step_input_and_state_needs_two_projections():
    net = _adlif_readout(steps=20)
    net["projections"][0]["on_pre"] = "I_post += weight\nu_post += 0.1*weight"
    spec = network_from_dict(net)
    with pytest.raises(ConfigError, match="writes the one-step input 'I_post' and 'u_post' at once"):
        at_dt(spec, "0.5ms")
    at_dt(spec, "0.5ms", timing="declared")  # one delay fits both


def _pulse_neuron():
    net = {"dt": "1*ms", "duration": "40*ms", "populations": {"inp": {"kind": "spikes", "size": 1}, "n": {"model": "adlif", "size": 1, "values": {"tau_u": "20*ms", "tau_w": "100*ms", "a": 0.5, "b": 2.0}}},
           "projections": [{"name": "input", "source": "inp", "target": "n", "on_pre": "I_post += weight", "weight": 15.0}]}
    return with_inputs(network_from_dict(net), {"inp": {"i": [0, 0, 0], "step": [5, 6, 30]}})


@pytest.mark.parametrize("timing", ["trained", "declared"])
def test_finer_grids_converge_to_the_impulse_network(timing):
    """An adlif neuron (adaptation, a spike, one-step input) at dt0/k converges
    at first order to the reference integrator's continuous-time network with
    impulse synapses: the L1 error of u and w (over the fine grid's step ends)
    and the spike time error halve with each halving of dt."""
    spec = _pulse_neuron()
    finest = 16
    times = (np.arange(spec.n_steps * finest) + 1) * spec.dt / finest  # the step ends of every grid below
    ref = reference_run(spec, record={"n": ["u", "w"]}, sample_times=times, timing=timing)
    count = len(ref.spike_times["n"][1])
    assert count == 1
    errors, lags = [], []
    for k in (2, 4, 8, finest):
        fine = at_dt(spec, spec.dt / k, timing=timing)
        grid = simulate(fine, backend="torch", record={"n": ["u", "w"]})
        at = slice(finest // k - 1, None, finest // k)
        errors.append([np.abs(grid.traces["n"][v][:, 0] - ref.traces["n"][v][at, 0]).mean() for v in ("u", "w")])
        assert len(grid.spikes["n"][1]) == count
        lags.append((grid.spikes["n"][1] + 1) * fine.dt - ref.spike_times["n"][1])
    ratios = np.asarray(errors)[1:] / np.asarray(errors)[:-1]
    assert np.all((ratios > 0.4) & (ratios < 0.6)), ratios
    # a grid spike is placed at the end of its step (one fine step late); with
    # timing="declared" the one-step hold of the input adds one more
    lag = 1 if timing == "trained" else 2
    for k, found in zip((2, 4, 8, finest), lags):
        np.testing.assert_allclose(found, lag * spec.dt / k, rtol=1e-9)


def test_code_that_reads_a_one_step_input_is_refused():
    net = _adlif_readout(steps=20)
    net["projections"][2]["on_pre"] = "I_post += weight*z_pre"
    with pytest.raises(ConfigError, match=r"projection 'readout' reads the one-step input 'z_pre', whose value depends on dt"):
        at_dt(network_from_dict(net), "0.5ms")


def test_the_trained_timing_keeps_one_spike_per_step():
    """At dt0 = 1 ms a neuron spikes at most once per step. Under a strong
    constant current (a drive: a current, not an impulse) an adlif neuron at
    dt = 0.1 ms fires every few steps with timing="declared", at most once
    per 1 ms (10 steps) with "trained"; Brian2 and the twin agree."""
    net = {"dt": "1*ms", "duration": "30*ms", "populations": {"n": {"model": "adlif", "size": 2, "values": {"tau_u": "5*ms", "a": 0.0, "b": 0.0}}}}
    spec = network_from_dict(net)
    for timing, shortest in (("trained", 10), ("declared", 3)):
        fine = at_dt(spec, "0.1ms", timing=timing)
        drive = {"n": {"I": np.full((fine.n_steps, 2), 20.0)}}
        runs = [simulate(fine, backend=backend, drive=drive) for backend in ("numpy", "torch")]
        assert runs[0].spike_set("n") == runs[1].spike_set("n")
        i, step = runs[0].spikes["n"]
        gaps = np.diff(step[i == 0])
        assert gaps.min() == shortest and len(step) > 20, (timing, gaps)
