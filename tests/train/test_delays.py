"""Learnable synaptic delays: the relaxed kernel, its gradient, rounding into Brian2, config errors, resume."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from bioadapt import ConfigError
from bioadapt.backends.torch import Twin
from bioadapt.train import evaluate, load_params, load_train_config
from bioadapt.train.data import make_dataset
from bioadapt.train.trainer import Trainer

from train_problem import TRAIN, write_problem

DELAYS = """[train.params.input]
weight = {{}}
delay = {{ max = 4, lr_scale = 30 }}
[train.params.recurrent]
weight = {{}}
delay = {{ max = 5, lr_scale = 30, relaxation = "linear" }}"""


def _delay_problem(tmp_path, old=None, new=None, dtype="float64"):
    text = TRAIN.format(dtype=dtype, synapses="dense").replace("[train.params.input]\nweight = {}\n[train.params.recurrent]\nweight = {}", DELAYS.format())
    assert "delay = {" in text
    if old is not None:
        assert old in text
        text = text.replace(old, new)
    return write_problem(tmp_path, train_text=text)


@pytest.fixture(scope="module")
def network_and_inputs(tmp_path_factory):
    config = load_train_config(write_problem(tmp_path_factory.mktemp("net")))
    data = make_dataset(config)
    spec = dataclasses.replace(config.network, n_steps=data.n_steps)
    x = torch.as_tensor(np.ascontiguousarray(data.x[:6].transpose(1, 0, 2)), dtype=torch.float64)
    return spec, {"inp": x}


def _run(twin, inputs):
    with torch.no_grad():
        return twin(inputs=inputs, record={"out": ["y"]})


@pytest.mark.parametrize("relaxation", ["gaussian", "linear"])
def test_relaxed_kernel_at_whole_steps_is_the_integer_delay_twin(network_and_inputs, relaxation):
    """Positions at the network's delays, sigma tiny: bitwise the dense twin with integer delays."""
    spec, inputs = network_and_inputs
    reference = _run(Twin(spec, synapses="dense"), inputs)
    twin = Twin(spec, synapses="dense")
    for name, largest in (("input", 4), ("recurrent", 5), ("readout", 3)):
        twin.learn_delays(name, largest, relaxation).sigma.fill_(1e-3)
    out = _run(twin, inputs)
    assert twin.max_delay == {"inp": 4, "hid": 5}
    assert reference.spikes["hid"].sum() > 10
    assert torch.equal(out.spikes["hid"], reference.spikes["hid"])
    assert torch.equal(out.traces["out"]["y"], reference.traces["out"]["y"])


def test_hard_delays_are_the_rounded_positions(network_and_inputs):
    """Off-grid positions evaluated with `hard_delays` equal the twin of the network with the rounded delays."""
    spec, inputs = network_and_inputs
    twin = Twin(spec, synapses="dense")
    relaxed = twin.learn_delays("recurrent", 6)
    rng = np.random.default_rng(1)
    with torch.no_grad():
        relaxed.position.copy_(torch.as_tensor(rng.uniform(0, 6, relaxed.position.shape)))
    rounded = relaxed.rounded().numpy()
    assert rounded.min() == 0 and rounded.max() == 6
    projections = tuple(dataclasses.replace(p, delay_steps=rounded) if p.name == "recurrent" else p for p in spec.projections)
    reference = _run(Twin(dataclasses.replace(spec, projections=projections), synapses="dense"), inputs)
    with twin.hard_delays():
        out = _run(twin, inputs)
    assert torch.equal(out.traces["out"]["y"], reference.traces["out"]["y"])
    assert not torch.equal(_run(twin, inputs).traces["out"]["y"], reference.traces["out"]["y"])  # relaxed: another network


@pytest.mark.parametrize("relaxation, sigma", [("gaussian", 0.8), ("gaussian", 2.5), ("linear", None)])
def test_gradient_of_the_loss_wrt_positions_matches_finite_differences(network_and_inputs, relaxation, sigma):
    """Delays of the readout projection (into a non-spiking integrator): the loss is smooth in the positions."""
    spec, inputs = network_and_inputs
    twin = Twin(spec, synapses="dense")
    relaxed = twin.learn_delays("readout", 6, relaxation)
    if sigma is not None:
        relaxed.sigma.fill_(sigma)
    rng = np.random.default_rng(2)
    with torch.no_grad():
        relaxed.position.copy_(torch.as_tensor(rng.uniform(0.3, 5.7, relaxed.position.shape)))
    target = torch.as_tensor(rng.normal(size=(spec.n_steps, 6, 4)))

    def loss():
        y = twin(inputs=inputs, record={"out": ["y"]}).traces["out"]["y"]
        return ((y - target) ** 2).sum()

    grad = torch.autograd.grad(loss(), relaxed.position)[0]
    assert grad.abs().max() > 0.05
    h = 1e-6
    for k in torch.argsort(grad.abs(), descending=True)[:8].tolist():  # synapses whose presynaptic neuron spikes
        with torch.no_grad():
            base = relaxed.position[k].item()
            relaxed.position[k] = base + h
            up = loss().item()
            relaxed.position[k] = base - h
            down = loss().item()
            relaxed.position[k] = base
        assert (up - down) / (2 * h) == pytest.approx(grad[k].item(), rel=1e-6)


def test_trained_delays_move_and_round_into_the_parameter_file(tmp_path):
    config = load_train_config(_delay_problem(tmp_path / "problem"))
    trainer = Trainer(config, tmp_path / "run")
    initial = {name: m.position.detach().clone() for name, m in trainer.twin.relaxed_delays.items()}
    assert trainer.twin.relaxed_delays["input"].sigma.item() == 2.0  # max / 2 at step 0
    trainer.fit()
    # sigma fell geometrically from 2 to 0.23 over the first quarter of the 25 optimizer steps
    assert trainer.total_steps == 25
    assert trainer.twin.relaxed_delays["input"].sigma.item() == pytest.approx(0.23)
    params = load_params(tmp_path / "run" / "params.json")
    positions = json.loads((tmp_path / "run" / "params.json").read_text())["meta"]["delay_positions"]
    for name, largest in (("input", 4), ("recurrent", 5)):
        position = trainer.twin.relaxed_delays[name].position.detach()
        assert not torch.equal(position, initial[name])
        assert position.min() >= 0 and position.max() <= largest
        unit, steps = params["groups"][name]["delay_steps"]
        assert unit == "steps" and np.array_equal(steps, np.clip(np.round(position.numpy()), 0, largest).astype(np.int64))
        assert positions[name] == position.tolist()
    assert not np.array_equal(params["groups"]["input"]["delay_steps"][1], config.network.projections[0].delay_steps)


@pytest.fixture(scope="module")
def trained_with_delays(tmp_path_factory):
    folder = tmp_path_factory.mktemp("delays")
    config = load_train_config(_delay_problem(folder / "problem", dtype="float32"))
    trainer = Trainer(config, folder / "run")
    result = trainer.fit()
    return config, result.params_path, folder


def test_rounded_delays_give_the_numpy_runtime_spikes(trained_with_delays):
    config, params_path, _ = trained_with_delays
    result = evaluate(config, params_path, backend="numpy", split="test", max_samples=3)
    assert result["identical_spike_trains"] == 1.0 and result["max_readout_difference"] == 0.0
    assert result["twin"] == result["brian"] and result["spikes_twin"] > 0


@pytest.mark.slow
@pytest.mark.brian_standalone
def test_rounded_delays_give_the_cpp_standalone_spikes(trained_with_delays):
    config, params_path, folder = trained_with_delays
    result = evaluate(config, params_path, backend="cpp_standalone", split="train", out=folder / "eval")
    assert result["identical_spike_trains"] == 1.0 and result["max_readout_difference"] == 0.0
    assert result["spikes_twin"] == result["spikes_brian"] > 100


def test_a_stopped_run_with_learned_delays_resumes_bitwise(tmp_path):
    config = load_train_config(_delay_problem(tmp_path / "problem"))
    full = Trainer(config, tmp_path / "full")
    full.fit()
    Trainer(config, tmp_path / "parts").fit(max_steps=5)  # mid-anneal (sigma falls over steps 0..6)
    second = Trainer(config, tmp_path / "parts")
    second.fit()
    a, b = full.twin.state_dict(), second.twin.state_dict()
    assert "relaxed_delays.input.position" in a and "relaxed_delays.input.sigma" in a
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "full" / "params.json").read_text().split('"meta"')[0] == (tmp_path / "parts" / "params.json").read_text().split('"meta"')[0]


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("max = 4, lr_scale = 30 }", "lr_scale = 30 }", r"\[train.params.input\] key 'delay': key 'max' \(the largest delay, in steps\) is required"),
        ("max = 4,", "max = 1,", r"\[train.params.input\] key 'delay': key 'max': the network's delays reach 2 steps, more than max = 1"),
        ("max = 4,", "max = 2.5,", r"\[train.params.input\] key 'delay': key 'max' must be an integer"),
        ("max = 4,", "max = 4, relaxation = \"box\",", r"\[train.params.input\] key 'delay': key 'relaxation' must be one of gaussian, linear, got 'box'"),
        ("max = 4,", "max = 4, sigma = [2, 0],", r"\[train.params.input\] key 'delay': key 'sigma' must be positive widths in steps"),
        ("max = 4,", "max = 4, sigma = 2,", r"\[train.params.input\] key 'delay': key 'sigma' must be \[start, end\] in steps"),
        ("max = 4,", "max = 4, anneal = 1.5,", r"\[train.params.input\] key 'delay': key 'anneal' is the fraction of training"),
        ("relaxation = \"linear\" }", "relaxation = \"linear\", sigma = [2, 0.2] }", r"\[train.params.recurrent\] key 'delay': keys 'sigma' and 'anneal' apply to relaxation = \"gaussian\" only"),
        ("max = 4,", "max = 4, speed = 1,", r"\[train.params.input\] key 'delay': unknown key\(s\) \['speed'\]"),
        ('synapses = "dense"', 'synapses = "exact"', r"\[train.params.input\] key 'delay': learnable delays need \[runtime\] synapses = \"dense\""),
        ("[train.params.hid]\n", "[train.params.hid]\ndelay = { max = 3 }\n", r"\[train.params.hid\] key 'delay': 'hid' is not a spike-triggered projection"),
    ],
)
def test_delay_config_errors_name_file_and_key(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=r"train.toml: " + message) as info:
        load_train_config(_delay_problem(tmp_path, old, new))
    assert "\n" not in str(info.value)


def test_a_projection_the_dense_pathway_cannot_take_is_refused(tmp_path):
    """on_pre code reading a postsynaptic variable stays on the exact pathway: no learnable delays there."""
    from train_problem import NETWORK

    folder = tmp_path / "p"
    path = _delay_problem(folder)
    (folder / "net.toml").write_text(NETWORK.replace('on_pre = "I_post += weight"\nconnect = "all_to_all"\nweight = "uniform(-6, 6)"', 'on_pre = "I_post += weight*(1 + u_post)"\nconnect = "all_to_all"\nweight = "uniform(-6, 6)"', 1))
    with pytest.raises(ConfigError, match=r"\[train.params.input\] key 'delay': projection 'input': its on_pre code is not of the form"):
        Trainer(load_train_config(path), tmp_path / "run").setup()


def test_learn_delays_refuses_what_it_cannot_relax(network_and_inputs):
    from bioadapt.errors import BackendError

    spec, _ = network_and_inputs
    with pytest.raises(BackendError, match="learnable delays need the dense synaptic pathway"):
        Twin(spec, synapses="exact").learn_delays("input", 4)
    twin = Twin(spec, synapses="dense")
    with pytest.raises(BackendError, match="the network's delays reach 3 steps, above the largest learnable delay 2"):
        twin.learn_delays("recurrent", 2)
    with pytest.raises(BackendError, match="'hid' is not a spike-triggered projection"):
        twin.learn_delays("hid", 4)
    with pytest.raises(BackendError, match="relaxation must be one of gaussian, linear"):
        twin.learn_delays("input", 4, "box")
