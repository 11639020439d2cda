"""Input spikes given at run time (`bioadapt.network.inputs`), a `spikes`
population left without them, drives of variables that synapses write."""

import numpy as np
import pytest

from bioadapt import ConfigError, network_from_dict, simulate
from bioadapt.network.inputs import poisson_spikes, with_inputs
from bioadapt.network.retime import with_duration


def _net(duration="20*ms", dt="0.5*ms") -> dict:
    return {
        "dt": dt, "duration": duration, "seed": 3,
        "populations": {"inp": {"kind": "spikes", "size": 4}, "bg": {"kind": "poisson", "size": 3, "rate": "200*Hz"}, "hid": {"model": "lif", "size": 5, "values": {"tau_m": "10*ms"}}},
        "projections": [
            {"name": "input", "source": "inp", "target": "hid", "on_pre": "v_post += weight", "connect": "all_to_all", "weight": 0.3, "delay": "uniform(0*ms, 2*ms)"},
            {"name": "background", "source": "bg", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": 0.4},
            {"name": "recurrent", "source": "hid", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.5}, "weight": 0.2},
        ],
    }


def _spikes(spec, name="inp"):
    pop = spec.populations[name]
    return list(zip(pop.input_steps.tolist(), pop.input_indices.tolist()))


def test_spike_times_fall_into_the_step_that_contains_them(tmp_path):
    """Brian2's rule for SpikeGeneratorGroup: int((t + 1e-3*dt)/dt); times in
    seconds or whole steps, from a mapping or a .npz file."""
    spec = network_from_dict(_net())
    t = np.array([0.0, 0.5e-3, 0.5e-3 - 1e-8, 0.74e-3, 9.99e-3])
    expected = [(0, 0), (1, 1), (1, 2), (1, 3), (19, 0)]  # 0.5 ms - 1e-8 s: shifted into step 1 as in Brian2
    given = with_inputs(spec, {"inp": {"i": [0, 1, 2, 3, 0], "t": t}})
    assert _spikes(given) == expected
    np.savez(tmp_path / "spikes.npz", i=np.array([0, 1, 2, 3, 0]), t=t)
    assert _spikes(with_inputs(spec, {"inp": str(tmp_path / "spikes.npz")})) == expected
    np.savez(tmp_path / "steps.npz", i=np.array([3, 1]), step=np.array([39, 7]))
    assert _spikes(with_inputs(spec, {"inp": tmp_path / "steps.npz"})) == [(7, 1), (39, 3)]
    raster = np.zeros((40, 4))
    raster[[5, 5, 9], [0, 2, 1]] = 1
    assert _spikes(with_inputs(spec, {"inp": raster})) == [(5, 0), (5, 2), (9, 1)]


def test_poisson_input_is_drawn_from_the_seed_and_the_same_in_every_backend():
    spec = network_from_dict(_net(duration="400*ms"))
    a = with_inputs(spec, {"inp": "poisson:100Hz"})
    b = with_inputs(spec, {"inp": "poisson:100*Hz"})
    assert _spikes(a) == _spikes(b)
    count = len(_spikes(a))
    assert abs(count - 160) < 5 * np.sqrt(160)  # 4 neurons x 800 steps x 0.05
    runs = {backend: simulate(spec, backend=backend, inputs={"inp": "poisson:100Hz"}, record={"hid": ["v"]}) for backend in ("numpy", "torch")}
    assert runs["numpy"].spike_set("inp") == set((s, i) for s, i in _spikes(a))
    assert runs["numpy"].spike_set("hid") == runs["torch"].spike_set("hid") and runs["numpy"].spike_count("hid") > 10
    assert np.array_equal(runs["numpy"].traces["hid"]["v"], runs["torch"].traces["hid"]["v"])


def test_poisson_draws_in_blocks_equal_one_draw():
    steps, index = poisson_spikes(1, "k", 3, 250.0, 1e-3, 1000)
    x = np.random.default_rng([1, __import__("zlib").crc32(b"k")]).random((1000, 3)) < 0.25
    assert np.array_equal(np.stack(np.nonzero(x)), np.stack([steps, index]))


def test_a_longer_duration_keeps_the_poisson_spikes_where_runs_overlap():
    spec = network_from_dict(_net(duration="20*ms"))
    longer = with_duration(spec, "60ms")
    assert longer.n_steps == 120
    early = [(s, i) for s, i in _spikes(longer, "bg") if s < 40]
    assert early == _spikes(spec, "bg") and len(_spikes(longer, "bg")) > len(early)
    given = with_inputs(longer, {"inp": {"i": [0], "step": [100]}})
    with pytest.raises(ConfigError, match=r"duration: input population 'inp' has spikes up to step 100, after the end of a run of 40 steps"):
        with_duration(given, "20ms")


@pytest.mark.parametrize("value, message", [
    ({"i": [0], "t": [0.02]}, r"input 'inp': 1 spike\(s\) outside the run \(0 to 0.02 s, steps 0 to 39 of dt = 0.5 ms\), the first at t = 0.02 s"),
    ({"i": [0], "t": [-1e-3]}, r"outside the run .* the first at t = -0.001 s"),
    ({"i": [0], "step": [40]}, r"outside the run .* the first at step 40"),
    ({"i": [4], "t": [0.0]}, r"neuron index 4 does not exist; population 'inp' has 4 neurons \(0 to 3\)"),
    ({"i": [0], "time": [0.0]}, r"expected the arrays 'i' \(neuron indices\) and 't' \(spike times in seconds\) or 'i' and 'step' \(steps of dt = 0.5 ms\), got \['i', 'time'\]"),
    ({"i": [0], "t": [0.0], "step": [0]}, r"expected the arrays 'i'"),
    ({"i": [0, 1], "t": [0.0]}, r"'i' and 't' must be one-dimensional arrays of the same length"),
    ({"i": [1, 1], "t": [1e-3, 1.2e-3]}, r"neuron 1 spikes twice in step 2 \(dt = 0.5 ms\)"),
    ({"i": [0.5], "t": [0.0]}, r"'i' must hold whole neuron indices"),
    ({"i": [0], "step": [1.5]}, r"'step' must hold whole steps"),
    ({"i": [0], "t": [np.nan]}, r"'t' contains NaN"),
    ("poisson:3000Hz", r"input 'inp': a Poisson rate must lie in \[0, 1/dt\] = \[0, 2000 Hz\]"),
    ("poisson:3mV", r"input 'inp': poisson rate: expected a rate such as '20\*Hz' or '20Hz', got '3mV'"),
    ("missing.npz", r"input 'inp': missing.npz: no such file"),
    (np.ones((40, 4)) * 2, r"a raster holds 0 \(no spike\) and 1 \(a spike\) only"),
    (np.ones((39, 4)), r"or a 0/1 raster of shape \(n_steps, size\) = \(40, 4\); got ndarray of shape \(39, 4\)"),
])
def test_bad_inputs_give_one_error(value, message):
    spec = network_from_dict(_net())
    with pytest.raises(ConfigError, match=message):
        with_inputs(spec, {"inp": value})


def test_inputs_only_for_input_populations(tmp_path):
    spec = network_from_dict(_net())
    with pytest.raises(ConfigError, match=r"inputs: 'hid' is not an input population of <dict> \(input populations: inp, bg\)"):
        with_inputs(spec, {"hid": "poisson:10Hz"})
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"x.npz: not a .npz file of arrays"):
        with_inputs(spec, {"inp": str(tmp_path / "x.npz")})


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_spikes_population_without_spikes_is_an_error(backend):
    """A `spikes` population given nothing would run silently without input."""
    spec = network_from_dict(_net())
    with pytest.raises(ConfigError, match=r"input population\(s\) 'inp' \(kind 'spikes'\) have no spikes: give them with --input POP=poisson:RATE or --input POP=FILE.npz on the command line, or simulate\(\.\.\., inputs="):
        simulate(spec, backend=backend)
    empty = {"i": np.zeros(0, dtype=int), "step": np.zeros(0, dtype=int)}  # given, even if empty
    assert simulate(spec, backend=backend, inputs={"inp": empty}).spike_count("inp") == 0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_drive_of_a_variable_that_synapses_write_is_refused(backend):
    """Driving I would overwrite what the synapses added to it every step
    (recurrent weights x1 and x0 would give the same output)."""
    spec = network_from_dict(_net())
    drive = {"hid": {"I": np.zeros((40, 5))}}
    with pytest.raises(ConfigError, match=r"drive hid.I: projection 'background' writes 'I' too \(on_pre 'I_post \+= weight'\); the drive sets 'I' at the start of every step, so the synaptic input would be lost"):
        simulate(spec, backend=backend, drive=drive, inputs={"inp": "poisson:10Hz"})
    graded = network_from_dict({"dt": "1*ms", "duration": "5*ms", "populations": {"m": {"model": "mtc", "size": 3}},
                                "projections": [{"name": "graded", "source": "m", "target": "m", "summed": "I_syn_post = weight*s_pre", "weight": 0.1}]})
    with pytest.raises(ConfigError, match=r"drive m.I_syn: projection 'graded' writes 'I_syn' too \(summed"):
        simulate(graded, backend=backend, drive={"m": {"I_syn": np.zeros((5, 3))}})
    simulate(graded, backend=backend, drive={"m": {"I_app": np.zeros((5, 3))}})  # a variable of its own
