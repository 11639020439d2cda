"""Noise (``xi``, ``rand()``, ``randn()``) on the Brian2 backends is drawn from
the network's ``seed``: two runs give the same spikes, another seed others."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bioadapt import BackendError, network_from_dict, simulate
from bioadapt.backends.brian.standalone import StandaloneNetwork
from bioadapt.backends.torch import Twin
from helpers import HAVE_BRIAN2CUDA, assert_same_spikes

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


@pytest.mark.parametrize("pop, model", [("bh", "noisy_lif"), ("rr", "random_reset")])
def test_twin_refuses_noise_naming_the_population(pop, model):
    spec = _spec()
    spec = dataclasses.replace(spec, populations={pop: spec.populations[pop]}, projections=tuple(p for p in spec.projections if p.source == pop))
    with pytest.raises(BackendError, match=rf"population '{pop}' \(model file .*{model}\.toml\).*the twin cannot translate 'randn\(\)'.*The Brian2 backends \(numpy, cpp_standalone, cuda_standalone\) run this network, drawing them from the network's seed"):
        Twin(spec)


@pytest.mark.skipif(not HAVE_BRIAN2CUDA, reason="brian2cuda is not installed (pip install 'bioadapt[cuda]')")
def test_cuda_standalone_project_seeds_its_generator(tmp_path):
    """The generated CUDA project sets the network's seed (running it needs a GPU:
    test_noise_is_reproducible_cuda_standalone)."""
    spec = _spec(seed=1234, steps=20)
    StandaloneNetwork(spec, directory=str(tmp_path / "cuda"), target="cuda_standalone", compile=False, compute_capability=9.0)
    main = (tmp_path / "cuda" / "main.cu").read_text()
    assert "random_number_buffer.set_seed(1234ULL);" in main


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
