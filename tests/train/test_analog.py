"""Analog input (the oscillator task through a relay population) trains and transfers to Brian2 bit for bit."""

from pathlib import Path

import pytest

from bioadapt.train import evaluate, load_train_config
from bioadapt.train.trainer import train

EXAMPLES = Path(__file__).parents[2] / "examples" / "training"


@pytest.fixture(scope="module")
def oscillator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oscillator")
    net = (EXAMPLES / "oscillator_network.toml").read_text().replace("size = 64", "size = 12")
    cfg = (EXAMPLES / "oscillator.toml").read_text().replace("sequences = 512", "sequences = 40").replace("epochs = 5", "epochs = 3").replace('dtype = "float32"', 'dtype = "float64"')
    (folder / "oscillator_network.toml").write_text(net)
    (folder / "oscillator.toml").write_text(cfg)
    config = load_train_config(folder / "oscillator.toml")
    return config, train(config, folder / "run")


def test_oscillator_regression_trains(oscillator):
    config, result = oscillator
    assert config.task.input_population == "enc" and config.task.input_variable == "x"
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert "valid_nmse" in result.history[-1]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("cpp_standalone", marks=pytest.mark.brian_standalone)])
def test_oscillator_network_transfers_bitwise(oscillator, backend):
    config, result = oscillator
    ev = evaluate(config, result.params_path, backend=backend, split="test", max_samples=2)
    assert ev["identical_spike_trains"] == 1.0 and ev["max_readout_difference"] == 0.0
    assert ev["twin"] == ev["brian"] and ev["spikes_twin"] > 0
