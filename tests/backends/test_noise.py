"""Noise (``xi``, ``rand()``, ``randn()``) is drawn from the network's ``seed``:
two runs give the same spikes, another seed others; the twin draws the numbers
of the Brian2 backends (`bioadapt.noise`), so noisy networks stay spike-identical."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from bioadapt import BackendError, network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from bioadapt.backends.torch import Twin
from helpers import HAVE_BRIAN2CUDA, assert_same_spikes, assert_same_traces, run_all

MODELS = Path(__file__).parent.parent / "models"


def _spec(seed=1, steps=1000):
    """A sparse inhibitory network of noisy LIF neurons (Brunel & Hakim 1999,
    ``xi``, delay 2 ms) and neurons with a ``randn()`` input and a ``rand()`` reset."""
    return network_from_dict(
        {
            "dt": "0.1*ms",
            "duration": f"{steps}*0.1*ms",
            "seed": seed,
            "populations": {"bh": {"model": "valid/noisy_lif.toml", "size": 100}, "rr": {"model": "valid/random_reset.toml", "size": 20}},
            "projections": [{"source": "bh", "target": "bh", "on_pre": "V_post += weight", "connect": {"p": 0.2}, "weight": "-0.1*mV", "delay": "2*ms"}],
        },
        folder=MODELS,
    )


def _differ(a, b) -> bool:
    return any(a.spike_set(pop) != b.spike_set(pop) for pop in ("bh", "rr"))


def test_noise_is_reproducible_numpy():
    spec = _spec()
    first = simulate(spec)
    assert first.spike_count("bh") > 100 and first.spike_count("rr") > 50
    np.random.seed(123)  # numpy's global generator (Brian2's on this runtime) elsewhere
    before = np.random.get_state()
    second = simulate(spec)
    after = np.random.get_state()
    assert_same_spikes(first, second)
    # the run leaves numpy's global generator as it found it
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    assert _differ(first, simulate(dataclasses.replace(spec, seed=2)))


@pytest.mark.brian_standalone
def test_noise_is_reproducible_cpp_standalone(tmp_path):
    """Two runs of one binary draw the same numbers (each run starts the
    process anew: unseeded, Brian2 seeds from std::random_device); the seed in main()
    is the network's (another seed: other numbers, as numpy shows above)."""
    spec = _spec(seed=7)
    net = StandaloneNetwork(spec, directory=str(tmp_path / "a"))
    first, second = net.run(), net.run()
    assert first.spike_count("bh") > 100 and first.spike_count("rr") > 50
    assert_same_spikes(first, second)
    assert "brian::_random_generators[_i].seed(7L + _i);" in (tmp_path / "a" / "main.cpp").read_text()


def test_twin_draws_the_numbers_of_the_numpy_runtime():
    """xi (Euler-Maruyama), randn() in code run every step and rand() in a reset:
    the twin's spikes and traces are the numpy runtime's, bit for bit."""
    spec = _spec(steps=600)
    record = {"bh": ["V"], "rr": ["v", "I_noise"]}
    res = run_all(spec, ["numpy", "torch"], record)
    assert res["numpy"].spike_count("bh") > 50 and res["numpy"].spike_count("rr") > 30
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])


@pytest.mark.brian_standalone
def test_twin_draws_the_numbers_of_cpp_standalone():
    spec = _spec(steps=600)
    record = {"bh": ["V"], "rr": ["v", "I_noise"]}
    res = run_all(spec, ["cpp_standalone", "torch:libm", "numpy"], record)
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])
    # the generator itself has no C library function: compiled code and numpy draw alike
    assert_same_spikes(res["cpp_standalone"], res["numpy"])
    assert np.array_equal(res["cpp_standalone"].traces["rr"]["I_noise"], res["numpy"].traces["rr"]["I_noise"])


def test_batch_samples_draw_their_own_streams():
    """Sample 0 of a batch draws what the Brian2 backends draw; the others draw other numbers."""
    spec = _spec(steps=300)
    twin = Twin(spec)
    with torch.no_grad():
        out = twin(n_steps=spec.n_steps, state=twin.initial_state(3), record={"rr": ["I_noise"]})
    noise = out.traces["rr"]["I_noise"]
    single = simulate(spec, record={"rr": ["I_noise"]}).traces["rr"]["I_noise"]
    assert np.array_equal(noise[:, 0].numpy(), single)
    assert not torch.equal(noise[:, 0], noise[:, 1]) and not torch.equal(noise[:, 1], noise[:, 2])


def _ou(steps, size, seed=3):
    """Ornstein-Uhlenbeck processes dy = -y dt/tau + sqrt(2 sigma^2/tau) dW, no threshold."""
    return network_from_dict(
        {
            "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": seed,
            "populations": {"N": {"model": "../brian2_examples/models/ornstein_uhlenbeck.toml", "size": size, "scheme": "euler",
                                  "values": {"tau": "10*ms", "sigma": 0.5, "y": 1}}},
        },
        folder=MODELS,
    )


def test_ornstein_uhlenbeck_moments_against_the_euler_maruyama_closed_form():
    """Euler-Maruyama of the OU process is y' = (1 - a) y + sqrt(2 a) sigma N(0, 1),
    a = dt/tau: after n steps from y = 1, mean (1 - a)^n, variance
    2 a sigma^2 (1 - (1 - a)^(2n)) / (1 - (1 - a)^2). Over 20000 processes the
    sample moments lie within 4 standard errors of these (and the closed form
    is not that of a noiseless run, nor of twice the noise)."""
    size, steps = 20000, 300
    y = simulate(_ou(steps, size), backend="torch", record={"N": ["y"]}).traces["N"]["y"]
    a, sigma = 1e-4 / 1e-2, 0.5
    for n in (50, 300):
        mean = (1 - a) ** n
        var = 2 * a * sigma**2 * (1 - (1 - a) ** (2 * n)) / (1 - (1 - a) ** 2)
        sample = y[n - 1]
        assert abs(sample.mean() - mean) < 4 * np.sqrt(var / size), n
        assert abs(sample.var() / var - 1) < 4 * np.sqrt(2 / size), n


def test_gradients_flow_through_the_noise_amplitude():
    """d/d sigma of a smooth quantity of a noisy run (no spikes): autograd against
    central finite differences with the same draws."""
    spec = _ou(200, 8)
    twin = Twin(spec)
    sigma = twin.params["N"]["sigma"]

    def objective():
        y = twin(n_steps=spec.n_steps, record={"N": ["y"]}).traces["N"]["y"]
        return (y**2).sum()

    loss = objective()
    loss.backward()
    for k in range(3):
        with torch.no_grad():
            original = sigma.view(-1)[k].item()
            h = 1e-6 * abs(original)
            sigma.view(-1)[k] = original + h
            up = objective().item()
            sigma.view(-1)[k] = original - h
            down = objective().item()
            sigma.view(-1)[k] = original
        numeric = (up - down) / (2 * h)
        assert sigma.grad.view(-1)[k].item() == pytest.approx(numeric, rel=1e-6)
    assert sigma.grad.abs().min() > 0


def test_noise_keeps_its_seed_and_another_seed_draws_others():
    spec = _spec(steps=300)
    a, b = simulate(spec, backend="torch"), simulate(spec, backend="torch")
    assert_same_spikes(a, b)
    assert _differ(a, simulate(dataclasses.replace(spec, seed=2), backend="torch"))


def test_twin_refuses_noise_it_cannot_draw():
    """xi under a method other than Euler's (Brian2's stochastic Heun) stays with
    the Brian2 backends, as does poisson()."""
    spec = _spec(steps=50)
    heun = dataclasses.replace(spec, populations={"bh": dataclasses.replace(spec.populations["bh"], scheme="heun")}, projections=())
    with pytest.raises(BackendError, match=r"population 'bh' \(model file .*noisy_lif\.toml\).*the twin cannot translate 'randn\(\)'"):
        Twin(heun)
    assert simulate(dataclasses.replace(heun, n_steps=600)).spike_count("bh") > 0
    poisson = dataclasses.replace(spec, projections=(dataclasses.replace(spec.projections[0], on_pre="V_post += weight*poisson(2)"),))
    with pytest.raises(BackendError, match=r"the twin cannot translate 'poisson\(\)'.*The Brian2 backends \(numpy, cpp_standalone, cuda_standalone\) run this network"):
        Twin(poisson)


def _release_spec(steps=2000, p=0.3):
    """Stochastic release: each arriving spike is released with probability p
    (counted in the synaptic variables ``released`` and ``arrived``) and, drawn
    anew, moves V with probability p and a noisy amplitude (randn()); on_post
    adds a uniform number to a synaptic variable."""
    spec = _spec(steps=steps)
    release = dataclasses.replace(
        spec.projections[0], model="released : 1\narrived : 1\ncount : 1", on_post="count = count + rand()",
        on_pre=f"released += int(rand() < {p})\narrived += 1\nV_post += weight*int(rand() < {p})*(1 + 0.1*randn())")
    return dataclasses.replace(spec, projections=(release,))


RELEASE_RECORD = {"bh": ["V"], "bh_to_bh_0": ["released", "arrived", "count"]}


def test_noise_in_synapse_code_is_drawn_alike():
    """rand()/randn() in on_pre and on_post code draw per synapse and step from the
    seed: the numpy runtime and the twin bit for bit, the twin with gradients (all
    synapses every step) as without (the synapses a spike reaches: the same numbers);
    each spike is released with probability p (within 4 standard errors)."""
    spec = _release_spec()
    res = run_all(spec, ["numpy", "torch"], RELEASE_RECORD)
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    graded = Twin(spec)(record=RELEASE_RECORD)
    for owner, variables in RELEASE_RECORD.items():
        for var in variables:
            assert np.array_equal(graded.traces[owner][var][:, 0].detach().numpy(), res["torch"].traces[owner][var]), (owner, var)
    last = {var: res["numpy"].traces["bh_to_bh_0"][var][-1] for var in ("released", "arrived", "count")}
    arrived, released = last["arrived"].sum(), last["released"].sum()
    assert arrived > 1000 and last["count"].max() > 0
    assert abs(released / arrived - 0.3) < 4 * np.sqrt(0.3 * 0.7 / arrived)
    assert_same_spikes(simulate(spec), simulate(spec))  # reproducible
    assert simulate(_release_spec(p=1.0)).spike_set("bh") != res["numpy"].spike_set("bh")


@pytest.mark.slow  # (test_noise_in_synapse_code_is_drawn_alike runs it in the numpy runtime by default)
@pytest.mark.brian_standalone
def test_noise_in_synapse_code_cpp_standalone():
    spec = _release_spec(steps=1000)
    res = run_all(spec, ["cpp_standalone", "torch:libm"], RELEASE_RECORD)
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


@pytest.mark.skipif(not HAVE_BRIAN2CUDA, reason="brian2cuda is not installed (pip install 'bioadapt[cuda]')")
def test_cuda_standalone_project_draws_the_same_noise(tmp_path):
    """The generated CUDA project sets the network's seed for Brian2's own
    generator and draws xi, rand() and randn() from the counter-based sources, as
    host-and-device functions in the kernels that call them (running it needs a
    GPU: test_noise_is_reproducible_cuda_standalone; nvcc builds it:
    test_nvcc_builds_a_noisy_network)."""
    spec = _spec(seed=1234, steps=20)
    StandaloneNetwork(spec, directory=str(tmp_path / "cuda"), target="cuda_standalone", compile=False, compute_capability=9.0)
    main = (tmp_path / "cuda" / "main.cu").read_text()
    assert "random_number_buffer.set_seed(1234ULL);" in main
    kernels = {path.name: path.read_text() for path in (tmp_path / "cuda" / "code_objects").glob("*.cu")}
    for kernel, source in [("bh_stateupdater", "bioadapt_noise_bh_0"), ("rr_spike_resetter", "bioadapt_noise_rr_0"), ("rr_every_step_before_groups", "bioadapt_noise_rr_1")]:
        # (Brian2 appends _1, _2 ... to code object names already used in the process)
        code = next(code for name, code in kernels.items() if re.fullmatch(rf"{kernel}_codeobject(_\d+)?\.cu", name))
        assert f"__host__ __device__ static inline double {source}(const double t, const int i)" in code, kernel
        assert "curand" not in code.split("__global__")[-1], kernel


@pytest.mark.cuda_build
def test_nvcc_builds_a_noisy_network(tmp_path):
    """Noise in neuron code and in synapse code (on_pre, on_post; a synapse model)."""
    net = StandaloneNetwork(_release_spec(steps=20), directory=str(tmp_path / "project"), target="cuda_standalone", compute_capability=9.0)
    assert (tmp_path / "project" / "main").is_file() and net.compile_time > 0
    kernels = " ".join(path.read_text() for path in (tmp_path / "project" / "code_objects").glob("*.cu"))
    assert "bioadapt_noise_bh_to_bh_0_0" in kernels


@pytest.mark.cuda
def test_noise_is_reproducible_cuda_standalone():
    spec = _spec()
    first = simulate(spec, backend="cuda_standalone")
    second = simulate(spec, backend="cuda_standalone")
    assert first.spike_count("bh") > 100
    assert_same_spikes(first, second)
    assert _differ(first, simulate(dataclasses.replace(spec, seed=2), backend="cuda_standalone"))


def test_seed_beyond_brian2s_range():
    """Brian2 takes seeds below 2**32; a network's seed is reduced modulo 2**32."""
    spec = _spec(seed=2**40 + 1, steps=100)
    assert_same_spikes(simulate(spec), simulate(dataclasses.replace(spec, seed=1)))


@pytest.mark.brian_standalone
def test_samples_of_one_binary_call_draw_the_twins_batch_streams(tmp_path):
    """Samples run one after another in one cpp_standalone run draw the streams
    of the twin's batch: sample b of the run is sample b of the batch, bitwise."""
    spec = network_from_dict(
        {
            "dt": "0.1*ms", "duration": "30*ms", "seed": 5,
            "populations": {"inp": {"kind": "spikes", "size": 10}, "rr": {"model": "valid/random_reset.toml", "size": 20}},
            "projections": [{"source": "inp", "target": "rr", "on_pre": "v_post += weight", "weight": 0.2}],
        },
        folder=MODELS,
    )
    record = {"rr": ["v", "I_noise"]}
    rasters = (np.random.default_rng(5).random((3, spec.n_steps, 10)) < 0.05).astype(float)
    results = StandaloneNetwork(spec, record=record, directory=str(tmp_path / "project"), samples=3).run_samples(inputs={"inp": rasters})
    with torch.no_grad():
        out = Twin(spec, math="libm")(inputs={"inp": torch.as_tensor(rasters).transpose(0, 1)}, record=record)
    for b, result in enumerate(results):
        for var in record["rr"]:
            assert np.array_equal(result.traces["rr"][var], out.traces["rr"][var][:, b].numpy()), (b, var)
        assert result.spike_set("rr") == {(int(k), int(n)) for k, n in zip(*np.nonzero(out.spikes["rr"][:, b].numpy()))}
    assert results[0].spike_set("rr") != results[1].spike_set("rr") and results[0].spike_count("rr") > 20


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_long_run_in_chunks_draws_the_numbers_of_one_run(backend, tmp_path):
    """Chunks continue the steps: the noise of chunk 2 is not that of chunk 1 again."""
    from bioadapt import load_long_run, long_run

    spec = _spec(steps=400)
    long_run(spec, tmp_path / "run", backend=backend, chunk=150 * spec.dt, progress=False)
    chunked = load_long_run(tmp_path / "run")
    whole = simulate(spec, backend=backend)
    assert whole.spike_count("bh") > 20
    assert_same_spikes(whole, chunked)


def test_poisson_neurons_with_rand_in_the_threshold():
    """``threshold = "rand() < rates*dt"`` (Brian2 users' Poisson neurons) driving LIF
    neurons: numpy runtime and twin alike, and about rates*duration spikes."""
    spec = network_from_dict(
        {
            "dt": "0.1*ms", "duration": "200*ms", "seed": 4,
            "populations": {"P": {"model": "valid/poisson_neuron.toml", "size": 50, "values": {"rates": "10*Hz + 2*i*Hz"}}, "Q": {"model": "lif", "size": 5}},
            "projections": [{"source": "P", "target": "Q", "on_pre": "I_post += weight", "weight": 0.3}],
        },
        folder=MODELS,
    )
    res = run_all(spec, ["numpy", "torch"], {})
    assert_same_spikes(res["numpy"], res["torch"])
    expected = sum(10 + 2 * i for i in range(50)) * 0.2  # 590
    assert abs(res["numpy"].spike_count("P") - expected) < 4 * np.sqrt(expected) and res["numpy"].spike_count("Q") > 10
