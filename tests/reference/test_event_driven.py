"""The reference integrator against closed forms: smooth traces and analytic spike times."""

import numpy as np
import pytest

from bioadapt import BackendError, network_from_dict
from bioadapt.analysis.convergence import lif_closed_form
from bioadapt.reference import reference_run

# DOP853 at rtol=1e-12, atol=1e-14
TRACE_ATOL = 1e-9
# spike times to ~1e-9 of a 0.1 ms step
SPIKE_ATOL = 1e-13


def test_smooth_trace_matches_closed_form():
    spec = network_from_dict({"dt": "0.1*ms", "duration": "40*ms", "populations": {"n": {"model": "lif", "size": 1, "values": {"tau_m": "20*ms", "tau_syn": "5*ms", "I": 2.0, "theta": 1e9}}}})
    ref = reference_run(spec, record={"n": ["v"]})
    np.testing.assert_allclose(ref.traces["n"]["v"][:, 0], lif_closed_form(ref.sample_times), atol=TRACE_ATOL, rtol=0)


def test_analytic_spike_times_with_refractoriness():
    """Constant current I (tau_syn very long): v = I(1 - exp(-t/tau_m)) crosses
    theta at t* = tau_m*ln(I/(I - theta)); after the reset to 0 and t_ref the
    cycle repeats with period t* + t_ref."""
    tau_m, current, theta, t_ref = 20e-3, 1.5, 1.0, 2e-3
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "200*ms",
        "populations": {"n": {"model": "lif", "size": 2, "values": {"tau_m": "20*ms", "tau_syn": "1e15*second", "I": current, "theta": theta, "t_ref": "2*ms"}}},
    })
    ref = reference_run(spec)
    i, t = ref.spike_times["n"]
    t_star = tau_m * np.log(current / (current - theta))
    expected = t_star + np.arange(20) * (t_star + t_ref)
    expected = expected[expected < 0.2]
    for n in range(2):
        np.testing.assert_allclose(t[i == n], expected, atol=SPIKE_ATOL, rtol=0)


def test_input_spikes_act_at_stamp_plus_delay():
    """A single input spike with delay d gives v a jump of w at t_s + d."""
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "10*ms", "seed": 0,
        "populations": {"inp": {"kind": "poisson", "size": 1, "rate": "500*Hz"}, "n": {"model": "lif", "size": 1, "values": {"theta": 1e9}}},
        "projections": [{"source": "inp", "target": "n", "on_pre": "v_post += weight", "connect": "all_to_all", "weight": 0.25, "delay": "1.5*ms"}],
    })
    stamps = spec.populations["inp"].input_steps * spec.dt
    ref = reference_run(spec, record={"n": ["v"]})
    v = ref.traces["n"]["v"][:, 0]
    first = stamps[0] + 1.5e-3
    k = int(round(first / spec.dt)) - 1  # sample index of time `first`
    assert v[k - 1] == 0 and abs(v[k] - 0.25) < 1e-12


def test_each_pathway_acts_at_stamp_plus_its_own_delay():
    """Two on_pre pathways (Brian2's on_pre={...}, delay={...}): +w at t_s + 1.5 ms, -w at
    t_s + 3 ms; v (tau_m = 20 ms, no synaptic current) between them decays from w."""
    spec = network_from_dict({
        "dt": "0.1*ms", "duration": "10*ms", "seed": 0,
        "populations": {"inp": {"kind": "poisson", "size": 1, "rate": "500*Hz"}, "n": {"model": "lif", "size": 1, "values": {"theta": 1e9}}},
        "projections": [{"source": "inp", "target": "n", "on_pre": {"up": "v_post += weight", "down": "v_post -= weight"}, "connect": "all_to_all", "weight": 0.25,
                         "delay": {"up": "1.5*ms", "down": "3*ms"}}],
    })
    first = spec.populations["inp"].input_steps[0] * spec.dt
    ref = reference_run(spec, record={"n": ["v"]}, sample_times=first + np.array([1.4e-3, 1.5e-3, 2.9e-3, 3.0e-3]))
    v = ref.traces["n"]["v"][:, 0]
    assert v[0] == 0 and abs(v[1] - 0.25) < 1e-12
    assert abs(v[2] - 0.25 * np.exp(-1.4e-3 / 20e-3)) < 1e-9 and abs(v[3] - (0.25 * np.exp(-1.5e-3 / 20e-3) - 0.25)) < 1e-9


def test_derivatives_that_are_not_finite_at_the_start_are_an_error():
    """exp((v - V_T)/D_T) overflows at v = 0 for V_T = -200: one error naming
    the population and the time, not a solver running on infinities."""
    spec = network_from_dict({"dt": "0.1*ms", "duration": "1*ms", "populations": {"n": {"model": "tests/models/valid/eif_adaptive.toml", "size": 2, "values": {"V_T": -200.0}}}})
    with pytest.raises(BackendError, match=r"reference: population 'n': the model's derivatives are not finite at t = 0 s"):
        reference_run(spec)


@pytest.mark.parametrize("model", ["stc", "li", "relay"])
def test_discrete_models_have_no_reference(model):
    spec = network_from_dict({"dt": "1*ms", "duration": "5*ms", "populations": {"n": {"model": model, "size": 1}}})
    with pytest.raises(BackendError, match="no continuous-time reference"):
        reference_run(spec)


def _adlif_pulse(theta: float, weight: float, steps, dt="1*ms"):
    from bioadapt.network.inputs import with_inputs

    net = {"dt": dt, "duration": "40*ms", "populations": {"inp": {"kind": "spikes", "size": 1}, "n": {"model": "adlif", "size": 1, "values": {"tau_u": "20*ms", "tau_w": "50*ms", "a": 0.0, "b": 3.0, "theta": theta}}},
           "projections": [{"name": "input", "source": "inp", "target": "n", "on_pre": "I_post += weight", "weight": weight}]}
    return with_inputs(network_from_dict(net), {"inp": {"i": [0] * len(steps), "step": list(steps)}})


@pytest.mark.parametrize("timing, arrival", [("trained", 6e-3), ("declared", 5e-3)])
def test_one_step_input_is_an_impulse_of_its_charge(timing, arrival):
    """adlif's I holds one step (dt0 = 1 ms) of input: in the limit it is a
    Dirac impulse of charge weight*dt0, so u jumps by weight*dt0/tau_u when it
    arrives, (d + 1)*dt0 after the input spike with timing="trained", d*dt0 with
    "declared" (d = 0 here), and then decays with tau_u (a = 0, no spike: w = 0)."""
    spec = _adlif_pulse(theta=1e9, weight=8.0, steps=[5])
    times = np.arange(1, 401) * 1e-4
    u = reference_run(spec, record={"n": ["u", "w"]}, sample_times=times, timing=timing).traces["n"]["u"][:, 0]
    expected = np.where(times >= arrival - 1e-12, 8.0 * 1e-3 / 20e-3 * np.exp(-(times - arrival) / 20e-3), 0.0)
    np.testing.assert_allclose(u, expected, atol=TRACE_ATOL, rtol=0)


def test_the_spike_carrier_is_an_impulse_into_w():
    """The reset's z = 1 holds one step in adlif: in the limit w jumps by
    b*dt0/tau_w at the spike (the input's jump crosses theta: the neuron
    fires at the instant the impulse arrives) and decays with tau_w (a = 0)."""
    spec = _adlif_pulse(theta=0.2, weight=8.0, steps=[5])
    times = np.arange(1, 401) * 1e-4
    ref = reference_run(spec, record={"n": ["w"]}, sample_times=times)
    assert np.array_equal(ref.spike_times["n"][1], [6e-3])
    expected = np.where(times >= 6e-3 - 1e-12, 3.0 * 1e-3 / 50e-3 * np.exp(-(times - 6e-3) / 50e-3), 0.0)
    np.testing.assert_allclose(ref.traces["n"]["w"][:, 0], expected, atol=TRACE_ATOL, rtol=0)


@pytest.mark.parametrize(
    "model, values, rate",
    [pytest.param("mtc", {"I_app": "uniform(-0.5, 0.5)"}, "200*Hz", marks=pytest.mark.slow), pytest.param("tests/models/valid/eif_adaptive.toml", {}, "100*Hz", marks=pytest.mark.slow)],
    ids=["mtc", "eif"],
)
def test_nonlinear_models_agree_with_a_fine_grid(model, values, rate):
    """MTC (upward crossings without reset) and adaptive EIF (reset, adaptation,
    refractoriness): the reference and rk4 at dt = 12.5 us give the same spikes,
    within a few grid steps (grid spikes are placed at the end of their step and
    inputs act at the end of theirs). For EIF, some adaptive trial steps would
    reach past a spike where exp overflows: the reference restarts those
    segments with smaller steps (the warning filter turns any overflow that
    reaches scipy into an error)."""
    import dataclasses

    from bioadapt import at_dt, simulate

    spec = network_from_dict({
        "dt": "0.05*ms", "duration": "150*ms", "seed": 2,
        "populations": {"inp": {"kind": "poisson", "size": 5, "rate": rate}, "hid": {"model": model, "size": 3, "values": values}},
        "projections": [{"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0.5, 0.1)", "delay": "uniform(0*ms, 1*ms)"}],
    })
    ref = reference_run(spec)
    fine = at_dt(dataclasses.replace(spec, populations={**spec.populations, "hid": dataclasses.replace(spec.populations["hid"], scheme="rk4")}), 12.5e-6)
    grid = simulate(fine, backend="torch")
    ri, rt = ref.spike_times["hid"]
    gi, gs = grid.spikes["hid"]
    assert len(rt) >= 4
    for n in range(3):
        a, b = np.sort(rt[ri == n]), np.sort((gs[gi == n] + 1) * fine.dt)
        assert len(a) == len(b)
        np.testing.assert_allclose(a, b, atol=0.05e-3, rtol=0)


@pytest.mark.parametrize("timing, expected", [("trained", [6e-3, 7e-3]), ("declared", [5e-3, 5.3e-3])])
def test_the_limit_keeps_one_spike_per_trained_step(timing, expected):
    """The network trained at dt0 = 1 ms, put on 0.1 ms, fed two input spikes
    0.3 ms apart, each alone above threshold: with timing="trained" they
    arrive 1 ms later and the neuron, refractory for dt0 after the first
    spike, fires again when that ends (u still above threshold: no clamping);
    with "declared" they arrive at once and each fires."""
    from bioadapt import at_dt
    from bioadapt.network.inputs import with_inputs

    spec = at_dt(_adlif_pulse(theta=1.0, weight=30.0, steps=[]), "0.1ms", timing=timing)
    spec = with_inputs(spec, {"inp": {"i": [0, 0], "t": [5e-3, 5.3e-3]}})
    ref = reference_run(spec, timing=timing)
    np.testing.assert_allclose(ref.spike_times["n"][1], expected, atol=1e-12, rtol=0)
