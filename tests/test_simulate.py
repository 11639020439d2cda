"""`simulate` checks what it is given once, the same way for every backend."""

import numpy as np
import pytest

from bioadapt import ConfigError, simulate

EXAMPLE = "examples/adlif_network.toml"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(
    "record, drive, message",
    [
        ({"inp": ["u"]}, None, r"record: 'inp' is not a neuron population or projection \(hid"),
        ({"hid": [3]}, None, r"record: population 'hid' needs variable names, got \[3\]"),
        (None, {"hid": {"I": np.zeros((10, 40))}}, r"drive hid.I: expected shape \(n_steps, size\) = \(5000, 40\), got \(10, 40\)"),
        (None, {"hid": {"I": np.full((5000, 40), np.nan)}}, r"drive hid.I: contains NaN or infinite values"),
        (None, {"nope": {"I": np.zeros((5000, 40))}}, r"drive: 'nope' is not a neuron population \(hid\)"),
    ],
)
def test_simulate_checks_record_and_drive_alike_for_every_backend(backend, record, drive, message):
    with pytest.raises(ConfigError, match=message):
        simulate(EXAMPLE, backend=backend, record=record, drive=drive)


def test_record_takes_one_name_for_a_list_of_one():
    assert set(simulate(EXAMPLE, backend="numpy", record={"hid": "u"}).traces["hid"]) == {"u"}


def test_population_rate_is_what_brian2s_rate_monitor_records():
    """`SimulationResult.population_rate` against a `PopulationRateMonitor` on the same
    network: the rate at every step bit for bit, and its flat and Gaussian smoothing."""
    from brian2 import PopulationRateMonitor, ms, second

    from bioadapt import load_network
    from bioadapt.backends.brian.build import build_network
    from bioadapt.backends.brian.device import brian_device

    spec = load_network(EXAMPLE)
    with brian_device("numpy", seed=spec.seed):
        net = build_network(spec)
        monitor = PopulationRateMonitor(net.groups["hid"])
        net.network.add(monitor)
        net.network.run(spec.n_steps * spec.dt * second, namespace={})
        rate = np.asarray(monitor.rate_)
        smooth = {window: np.asarray(monitor.smooth_rate(window, width=width * ms)) for window, width in (("flat", 5), ("gaussian", 2))}
    for backend in ("numpy", "torch"):
        res = simulate(spec, backend=backend)
        assert np.array_equal(res.population_rate("hid"), rate) and rate.max() > 0
        for window, width in (("flat", 5e-3), ("gaussian", 2e-3)):
            assert np.array_equal(res.population_rate("hid", window, width), smooth[window]), window
    with pytest.raises(ConfigError, match="window 'flat' needs a positive width in seconds"):
        res.population_rate("hid", "flat")


@pytest.mark.parametrize("every, n_steps", [(3, 200), (4, 200), (7, 200)])
def test_record_every_is_brian2s_monitor_clock_in_every_backend(every, n_steps):
    """``record_every`` records the end of steps 0, k, 2k, ... as Brian2's
    ``StateMonitor(..., dt=k*dt)`` does: the rows of an every-step recording,
    bit for bit, in Brian2 (numpy runtime; cpp_standalone for one interval)
    and in the twin, neuron and synaptic variables alike."""
    from bioadapt import load_network
    from bioadapt.network import with_duration

    spec = with_duration(load_network(EXAMPLE), f"{n_steps}*ms")
    record = {"hid": ["u", "w"]}
    full = simulate(spec, backend="numpy", record=record)
    backends = ["numpy", "torch"] + (["cpp_standalone"] if every == 7 else [])
    for backend in backends:
        res = simulate(spec, backend=backend, record=record, record_every=f"{every}*ms", **({"math": "libm"} if backend == "torch" and "cpp" in backends else {}))
        assert res.record_every == every and np.array_equal(res.trace_steps, np.arange(0, n_steps, every))
        for var in ("u", "w"):
            assert res.traces["hid"][var].shape == (len(res.trace_steps), 40)
            if backend != "cpp_standalone":
                assert np.array_equal(res.traces["hid"][var], full.traces["hid"][var][::every]), (backend, var)
        assert res.spike_set("hid") == full.spike_set("hid")
    if "cpp_standalone" in backends:
        twin = simulate(spec, backend="torch", record=record, math="libm")
        assert np.array_equal(res.traces["hid"]["u"], twin.traces["hid"]["u"][::every])
    with pytest.raises(ConfigError, match=r"record_every: 2.5 ms must be a positive whole number of steps of dt = 1 ms"):
        simulate(spec, backend="numpy", record=record, record_every="2.5*ms")
