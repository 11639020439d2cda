"""cpp_standalone is compiled once per structure; new values go in through run_args."""

import dataclasses
import os

import numpy as np
import pytest

from bioadapt import network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from helpers import assert_same_spikes, assert_same_traces, model_network

pytestmark = pytest.mark.brian_standalone


def _changed(spec):
    """The same structure with new parameters, weights, delays and input spikes."""
    rng = np.random.default_rng(42)
    hid = spec.populations["hid"]
    values = dict(hid.values, tau_u=rng.uniform(5e-3, 25e-3, hid.size), a=rng.uniform(0, 1, hid.size))
    pops = dict(spec.populations, hid=dataclasses.replace(hid, values=values))
    inp = spec.populations["inp"]
    raster = rng.random((spec.n_steps, inp.size)) < 0.03
    steps, idx = np.nonzero(raster)
    pops["inp"] = dataclasses.replace(inp, input_steps=steps, input_indices=idx)
    projections = tuple(
        dataclasses.replace(p, weight=rng.normal(0, 1.2, p.size), delay_steps=rng.integers(0, 5, p.size)) if p.source == p.target else p for p in spec.projections
    )
    return dataclasses.replace(spec, populations=pops, projections=projections), raster.astype(float)


def test_compile_once_rerun_with_new_values_matches_twin(tmp_path):
    spec = network_from_dict(model_network("adlif", steps=2000))
    record = {"hid": ["u", "w"]}
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"))
    binary = tmp_path / "project" / "main"
    built = os.path.getmtime(binary)
    assert net.loop_time is None

    first = net.run()
    # Brian2's timing of the loop (CPU time), part of the run's wall time
    info = (tmp_path / "project" / net.results_directory / "last_run_info.txt").read_text().split()
    assert net.loop_time == float(info[0]) and 0 < net.loop_time < first.wall_time
    assert_same_spikes(first, simulate(spec, backend="torch", record=record, math="libm"))
    assert_same_traces(first, simulate(spec, backend="torch", record=record, math="libm"))

    new, raster = _changed(spec)
    rec = [p for p in new.projections if p.source == p.target][0]
    second = net.run(
        values={"hid": {"tau_u": new.populations["hid"].values["tau_u"], "a": new.populations["hid"].values["a"]}},
        weights={rec.name: rec.weight},
        delay_steps={rec.name: rec.delay_steps},
        inputs={"inp": raster},
    )
    twin = simulate(new, backend="torch", record=record, math="libm")
    assert_same_spikes(second, twin)
    assert_same_traces(second, twin)
    assert second.spike_set("hid") != first.spike_set("hid")
    assert os.path.getmtime(binary) == built and net.runs == 2

    # back to the defaults: the first result again
    third = net.run()
    assert_same_traces(first, third)

    from bioadapt import BackendError

    n_inp = spec.populations["inp"].size
    for kwargs, message in [
        (dict(weights={rec.name: np.full(rec.size, np.nan)}), rf"{rec.name}.weight: contains NaN"),
        (dict(inputs={"inp": np.full((spec.n_steps, n_inp), np.nan)}), r"inputs inp: contains NaN"),
        (dict(inputs={"inp": np.full((spec.n_steps, n_inp), 2.0)}), r"inputs inp: expected 0/1 spikes"),
    ]:
        with pytest.raises(BackendError, match=message):
            net.run(**kwargs)


@pytest.mark.slow  # two compiled projects
def test_superseded_network_refuses_to_run(tmp_path):
    spec = network_from_dict(model_network("lif", steps=200))
    old = StandaloneNetwork(spec, directory=str(tmp_path / "a"))
    assert not old.superseded
    new = StandaloneNetwork(spec, directory=str(tmp_path / "b"))
    assert old.superseded and not new.superseded
    from bioadapt import BackendError

    with pytest.raises(BackendError, match="superseded by a later cpp_standalone build"):
        old.run()


def _without_delays(config):
    for proj in config["projections"]:
        if "delay" in proj:
            proj["delay"] = "0*ms"
    return config


def _with_inputs(spec, raster):
    steps, idx = np.nonzero(raster)
    pops = dict(spec.populations, inp=dataclasses.replace(spec.populations["inp"], input_steps=steps, input_indices=idx))
    return dataclasses.replace(spec, populations=pops)


def test_samples_in_one_call_each_match_a_fresh_run(tmp_path):
    # lif: refractoriness and its write protection of v must end between samples
    spec = network_from_dict(_without_delays(model_network("lif", steps=400)))
    record = {"hid": ["v", "I"]}
    rasters = (np.random.default_rng(3).random((3, spec.n_steps, spec.populations["inp"].size)) < 0.05).astype(float)
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"), samples=3)

    results = net.run_samples(inputs={"inp": rasters})
    assert len(results) == 3
    for raster, result in zip(rasters, results):
        twin = simulate(_with_inputs(spec, raster), backend="torch", record=record, math="libm")
        assert_same_spikes(result, twin)
        assert_same_traces(result, twin)
    # every sample ends with neurons refractory or away from rest: the restore matters
    assert all(len(r.spikes["hid"][0]) > 100 for r in results)

    # fewer samples than compiled; new initial state and parameters for all of them
    hid = spec.populations["hid"]
    v0 = np.linspace(-0.5, 0.9, hid.size)
    tau_m = np.full(hid.size, 15e-3)
    again = net.run_samples(inputs={"inp": rasters[:2]}, values={"hid": {"v": v0, "tau_m": tau_m}})
    assert len(again) == 2
    changed = dataclasses.replace(spec, populations=dict(spec.populations, hid=dataclasses.replace(hid, values=dict(hid.values, v=v0, tau_m=tau_m))))
    for raster, result in zip(rasters, again):
        twin = simulate(_with_inputs(changed, raster), backend="torch", record=record, math="libm")
        assert_same_spikes(result, twin)
        assert_same_traces(result, twin)

    from bioadapt import BackendError

    with pytest.raises(BackendError, match="at most 3"):
        net.run_samples(inputs={"inp": np.zeros((4, spec.n_steps, spec.populations["inp"].size))})
    with pytest.raises(BackendError, match="use run_samples"):
        net.run()
    rec = [p for p in spec.projections if p.source == p.target][0]
    with pytest.raises(BackendError, match="spikes in flight"):
        net.run_samples(delay_steps={rec.name: np.ones(rec.size, dtype=int)})


def test_samples_refuse_state_that_outlives_a_sample(tmp_path):
    from bioadapt import BackendError

    spec = network_from_dict(model_network("adlif", steps=50))  # heterogeneous delays
    with pytest.raises(BackendError, match="has delays"):
        StandaloneNetwork(spec, directory=str(tmp_path / "a"), samples=2)
    with pytest.raises(BackendError, match="positive integer"):
        StandaloneNetwork(spec, directory=str(tmp_path / "b"), samples=0)
    # a model that reads the absolute time
    (tmp_path / "clocked.toml").write_text('equations = """\ndv/dt = (sin(2*pi*t/(50*ms)) - v)/tau : 1\ntau : second\n"""\nthreshold = "v > 0.5"\nreset = "v = 0"\n[defaults]\ntau = "10*ms"\n')
    net = {"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "clocked.toml", "size": 2}}}
    with pytest.raises(BackendError, match=r"population 'p' \(model file .*clocked.toml\) reads \['t'\]"):
        StandaloneNetwork(network_from_dict(net, folder=tmp_path), directory=str(tmp_path / "c"), samples=2)


@pytest.mark.slow  # test_samples_in_one_call_each_match_a_fresh_run compiles samples by default
def test_samples_restore_a_shared_written_variable(tmp_path):
    # the shared drive m relaxes during a sample and must start from m(0) again
    spec = network_from_dict(
        {
            "dt": "0.5*ms",
            "duration": "100*ms",
            "populations": {"inp": {"kind": "spikes", "size": 10}, "p": {"model": "../../models/valid/shared_drive.toml", "size": 6}},
            "projections": [{"source": "inp", "target": "p", "on_pre": "I_post += weight", "weight": 0.6}],
        },
        folder=os.path.dirname(__file__),
    )
    record = {"p": ["v", "m"]}
    rasters = (np.random.default_rng(5).random((2, spec.n_steps, 10)) < 0.1).astype(float)
    results = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"), samples=2).run_samples(inputs={"inp": rasters})
    for raster, result in zip(rasters, results):
        twin = simulate(_with_inputs(spec, raster), backend="torch", record=record, math="libm")
        assert_same_spikes(result, twin)
        assert_same_traces(result, twin)
        assert result.traces["p"]["m"][0, 0] < -0.4 and result.spike_count("p") > 10


@pytest.mark.slow  # two cpp projects
def test_record_spikes_of_named_populations_only(tmp_path):
    """record_spikes=False: only the recorded variables come back (the same
    values); a list: the spikes of those populations, identical to a run
    that records all."""
    from bioadapt import BackendError, ConfigError

    spec = network_from_dict(model_network("li", steps=300))
    record = {"hid": ["y"]}
    full = simulate(spec, backend="torch", record=record, math="libm")
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "none"), record_spikes=False)
    quiet = net.run()
    assert quiet.spikes == {}
    assert np.array_equal(quiet.traces["hid"]["y"], full.traces["hid"]["y"])
    with pytest.raises(ConfigError, match="no spikes of 'spk' in this result"):
        quiet.spike_set("spk")
    net.close()
    net = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "spk"), record_spikes=["spk"])
    some = net.run()
    assert list(some.spikes) == ["spk"] and some.spike_count("spk") > 0
    assert some.spike_set("spk") == full.spike_set("spk")
    net.close()
    with pytest.raises(ConfigError, match=r"record_spikes: \['hid'\] not spiking populations"):
        StandaloneNetwork(spec, record=record, directory=str(tmp_path / "bad"), record_spikes=["hid"])
    with pytest.raises(BackendError, match="record_spikes must be True, False or a list"):
        StandaloneNetwork(spec, record=record, directory=str(tmp_path / "bad2"), record_spikes="spk")


@pytest.mark.parametrize("delay", [pytest.param("0*ms", marks=pytest.mark.slow), "2*ms"])
def test_one_delay_per_projection_as_brian2s_scalar_delay(tmp_path, delay):
    """Projections whose synapses share one delay run with Brian2's scalar
    pathway delay (numpy runtime; cpp_standalone with settable_delays=False):
    the same spikes and bitwise the same traces as the twin."""
    from bioadapt import BackendError
    from bioadapt.backends.brian.build import build_network
    from bioadapt.backends.brian.device import brian_device

    net = model_network("adlif", steps=400)
    for proj in net["projections"]:
        proj["delay"] = delay
    spec = network_from_dict(net)
    with brian_device("numpy"):
        built = build_network(spec)
        assert all(syn.pre.variables["delay"].scalar for syn in built.synapses.values())
    record = {"hid": ["u", "w"]}
    twin = simulate(spec, backend="torch", record=record)
    numpy_run = simulate(spec, backend="numpy", record=record)
    assert numpy_run.spike_count("hid") > 50
    assert_same_spikes(numpy_run, twin)
    assert_same_traces(numpy_run, twin)
    standalone = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"), settable_delays=False)
    fixed = standalone.run()
    libm = simulate(spec, backend="torch", record=record, math="libm")
    assert_same_spikes(fixed, libm)
    assert_same_traces(fixed, libm)
    rec = [p for p in spec.projections if p.source == p.target][0]
    with pytest.raises(BackendError, match="compiled with settable_delays=False"):
        standalone.run(delay_steps={rec.name: np.zeros(rec.size, dtype=int)})
    standalone.close()


def _without_synapses(proj):
    return dataclasses.replace(proj, i=np.zeros(0, np.int64), j=np.zeros(0, np.int64), weight=np.zeros(0), delay_steps=np.zeros(0, np.int64))


def test_generated_synapses_phase_times_and_profile(tmp_path):
    """Synapses the binary draws itself (fixed in-degree, random weights and
    delays) simulate the same network as those synapses given as arrays
    (read back, then the twin with libm: identical spikes and traces); the
    phases timed inside the binary bracket Brian2's own loop timing and fit
    in the binary's wall time seen from Python; profiling gives the CPU time
    of every code object of the loop."""
    from bioadapt import BackendError
    from bioadapt.backends.brian.standalone import GeneratedSynapses
    from bioadapt.backends.brian.timing import PHASES

    spec = network_from_dict(model_network("adlif", steps=500))
    rec = [p for p in spec.projections if p.source == p.target][0]
    generated = dataclasses.replace(spec, projections=tuple(_without_synapses(p) if p is rec else p for p in spec.projections))
    rule = GeneratedSynapses(connect={"i": "k for k in sample(N_pre, size=5)"}, weight="0.8 * randn()", delay_steps="int(rand() * 4)")
    record = {"hid": ["u", "w"]}
    net = StandaloneNetwork(generated, record=record, directory=str(tmp_path / "project"), profile=True, generated={rec.name: rule})
    result = net.run()

    syn = net.synapses(rec.name)
    size = spec.populations["hid"].size
    assert np.array_equal(np.bincount(syn["j"], minlength=size), np.full(size, 5))
    assert all(len(np.unique(syn["i"][syn["j"] == k])) == 5 for k in range(size))  # sampled without replacement
    assert set(syn["delay_steps"].tolist()) == {0, 1, 2, 3} and np.std(syn["weight"]) > 0.3
    same = dataclasses.replace(rec, i=syn["i"], j=syn["j"], weight=syn["weight"], delay_steps=syn["delay_steps"])
    twin = simulate(dataclasses.replace(spec, projections=tuple(same if p is rec else p for p in spec.projections)), backend="torch", record=record, math="libm")
    assert result.spike_count("hid") > 20
    assert_same_spikes(result, twin)
    assert_same_traces(result, twin)

    times = net.phase_times
    assert set(PHASES) | {f"{p}_cpu" for p in PHASES} | {"binary", "process", "read"} <= set(times) and all(times[p] >= 0 for p in PHASES)
    # ours (std::chrono and std::clock around the loop) brackets Brian2's std::clock inside it
    assert 0 < net.loop_time <= times["loop_cpu"] + 1e-4 and 0 < times["loop"]
    assert sum(times[p] for p in PHASES) < times["binary"] and times["process"] > 0
    profiled = net.profiling_info
    assert any(name.startswith("hid_stateupdater_codeobject") for name in profiled) and any(name.startswith(f"{rec.name}_pre_push_spikes") for name in profiled)
    assert 0 < sum(profiled.values()) <= times["loop_cpu"] + 1e-3
    with pytest.raises(BackendError, match=f"the synapses of '{rec.name}' are generated by the binary"):
        net.run(weights={rec.name: np.zeros(0)})
    net.close()


def test_generated_synapses_and_preferences_are_checked(tmp_path):
    from bioadapt import BackendError
    from bioadapt.backends.brian.standalone import GeneratedSynapses

    spec = network_from_dict(model_network("adlif", steps=20))
    rec = [p for p in spec.projections if p.source == p.target][0]
    rule = GeneratedSynapses(connect={"p": 0.1}, weight=1.0)
    folder = str(tmp_path / "p")
    with pytest.raises(BackendError, match=f"projection '{rec.name}' has {rec.size} synapses in the spec and generated synapses; give it none"):
        StandaloneNetwork(spec, directory=folder, compile=False, generated={rec.name: rule})
    with pytest.raises(BackendError, match=r"generated synapses for \['nope'\], which are not projections of the network"):
        StandaloneNetwork(spec, directory=folder, compile=False, generated={"nope": rule})
    with pytest.raises(BackendError, match="connect must be a non-empty dict of Synapses.connect arguments"):
        GeneratedSynapses(connect={"probability": 0.1}, weight=1.0)
    with pytest.raises(BackendError, match="delay_steps must be a non-negative integer or Brian2 code"):
        GeneratedSynapses(connect={"p": 0.1}, weight=1.0, delay_steps=-1)
    with pytest.raises(BackendError, match="generated synapses and samples > 1 cannot be combined"):
        StandaloneNetwork(spec, directory=folder, compile=False, samples=2, generated={rec.name: rule})
    with pytest.raises(BackendError, match=r"preferences: 'devices.cpp_standalone.nope' is not a Brian2 preference; for cpp_standalone: .*devices.cpp_standalone.openmp_threads"):
        StandaloneNetwork(spec, directory=folder, compile=False, preferences={"devices.cpp_standalone.nope": 1})
    with pytest.raises(BackendError, match=r"preferences: Brian2 rejects 'four' for 'devices.cpp_standalone.openmp_threads'"):
        StandaloneNetwork(spec, directory=folder, compile=False, preferences={"devices.cpp_standalone.openmp_threads": "four"})
