"""Analog input (the oscillator task through a relay population) trains and transfers to Brian2 bit for bit."""

from pathlib import Path

from bioadapt.train import evaluate, load_train_config
from bioadapt.train.trainer import train

EXAMPLES = Path(__file__).parents[2] / "examples" / "training"


def test_oscillator_regression_trains_and_transfers(tmp_path):
    net = (EXAMPLES / "oscillator_network.toml").read_text().replace("size = 64", "size = 12")
    cfg = (EXAMPLES / "oscillator.toml").read_text().replace("sequences = 512", "sequences = 40").replace("epochs = 5", "epochs = 3").replace('dtype = "float32"', 'dtype = "float64"')
    (tmp_path / "oscillator_network.toml").write_text(net)
    (tmp_path / "oscillator.toml").write_text(cfg)
    config = load_train_config(tmp_path / "oscillator.toml")
    assert config.input_population == "enc" and config.input_variable == "x"
    result = train(config, tmp_path / "run")
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert "valid_nmse" in result.history[-1]
    ev = evaluate(config, result.params_path, backend="numpy", split="test", max_samples=2)
    assert ev["identical_spike_trains"] == 1.0 and ev["max_readout_difference"] == 0.0
    assert ev["twin"] == ev["brian"] and ev["spikes_twin"] > 0
