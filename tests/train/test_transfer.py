"""A trained network in Brian2 reproduces the twin's predictions sample for sample (float64)."""

import json

import numpy as np
import pytest

from bioadapt.train import evaluate, load_train_config, load_params
from bioadapt.train.trainer import train

from train_problem import write_problem


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny problem trained for a few steps with float32 and dense synapses (as the demo trains)."""
    folder = tmp_path_factory.mktemp("transfer")
    config = load_train_config(write_problem(folder / "problem", dtype="float32", synapses="dense"))
    result = train(config, folder / "run")
    assert result.finished
    return config, result.params_path, folder


def test_trained_values_changed_and_carry_units(trained):
    config, params_path, _ = trained
    params = load_params(params_path)
    unit, tau_u = params["groups"]["hid"]["tau_u"]
    assert unit == "second" and np.all((tau_u >= 0.005 - 1e-9) & (tau_u <= 0.025 + 1e-9))  # float32 training
    assert not np.array_equal(tau_u, config.network.populations["hid"].values["tau_u"])
    unit, delays = params["groups"]["recurrent"]["delay_steps"]
    assert unit == "steps" and delays.dtype == np.int64 and delays.max() > 0


@pytest.mark.brian_standalone
def test_cpp_standalone_reproduces_the_twin_sample_for_sample(trained):
    config, params_path, folder = trained
    result = evaluate(config, params_path, backend="cpp_standalone", split="train", out=folder / "eval")
    assert result["samples"] == 34
    assert result["identical_spike_trains"] == 1.0
    assert result["spikes_twin"] == result["spikes_brian"] > 100
    assert result["max_readout_difference"] == 0.0  # bitwise: libm math, Brian2's synaptic order
    assert result["prediction_agreement"] == 1.0
    assert result["twin"] == result["brian"]
    saved = json.loads((folder / "eval" / "evaluation_cpp_standalone.json").read_text())
    assert saved["identical_spike_trains"] == 1.0


def test_numpy_runtime_reproduces_the_twin_sample_for_sample(trained):
    config, params_path, _ = trained
    result = evaluate(config, params_path, backend="numpy", split="test", max_samples=4)
    assert result["identical_spike_trains"] == 1.0 and result["max_readout_difference"] == 0.0
    assert result["twin"] == result["brian"] and result["spikes_twin"] > 0
