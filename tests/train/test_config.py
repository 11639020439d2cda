"""Bad training configurations: one ConfigError naming the file and the key."""

import pytest

from bioadapt import ConfigError
from bioadapt.train import load_train_config
from bioadapt.train.trainer import Trainer

from train_problem import TRAIN, write_problem


def _with(tmp_path, old, new):
    text = TRAIN.format(dtype="float64", synapses="dense")
    assert old in text
    return write_problem(tmp_path, train_text=text.replace(old, new))


def test_the_tiny_problem_loads(problem):
    config = load_train_config(problem)
    assert config.input_population == "inp" and config.input_variable is None
    rules = {(r.owner, r.var): r for r in config.params}
    assert rules[("hid", "tau_u")].kind == "interpolate" and rules[("hid", "tau_u")].low == pytest.approx(0.005)
    assert rules[("hid", "a")].scale == 120 and rules[("hid", "a")].high == 1
    assert rules[("readout", "weight")].kind == "free"


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('lr = 0.1', 'lr = 0.1\nlearning_rate = 1', r"train.toml: \[train\]: unknown key\(s\) \['learning_rate'\]"),
        ('tau_u = { interpolate = ["5*ms", "25*ms"] }', 'tau_u = { interpolate = [5, 25] }', r"\[train.params.hid\] key 'tau_u': key 'interpolate' must be a quantity in s, got 5"),
        ('tau_u = { interpolate = ["5*ms", "25*ms"] }', 'tau_x = {}', r"\[train.params.hid\] key 'tau_x': 'tau_x' is not a parameter of population 'hid'"),
        ('[train.params.readout]', '[train.params.nowhere]', r"'nowhere' is neither a neuron population nor a projection"),
        ('tau_w = { interpolate = ["60*ms", "300*ms"] }', 'tau_w = { scale = 2 }', r"key 'tau_w': 'scale' applies to dimensionless values"),
        ('input = "inp"', 'input = "hid"', r"\[task\] key 'input': 'hid' must be a population of kind \"spikes\""),
        ('variable = "y"', 'variable = "v"', r"\[readout\] key 'variable': 'v' is not a variable of model li"),
        ('loss = "ce_sum_softmax"', 'loss = "hinge"', r"\[readout\] key 'loss' must be one of"),
        ('schedule = "cosine"', 'schedule = "warm"', r"\[train\] key 'schedule' must be one of"),
        ('name = "bsd"', 'name = "mnist"', r"\[task\] key 'name' must be one of"),
        ('network = "net.toml"', 'network = "other.toml"', r"key 'network': file 'other.toml' not found"),
        ('epochs = 5', 'epochs = 0', r"\[train\] key 'epochs' must be an integer >= 1, got 0"),
        ('lr = 0.1', 'lr = nan', r"\[train\] key 'lr' must be a finite number >= 0, got nan"),
        ('clip_grad_norm = 1.5', 'clip_grad_norm = nan', r"\[train\] key 'clip_grad_norm' must be a finite number"),
        ('clip_grad_norm = 1.5', 'clip_grad_norm = 0', r"\[train\] key 'clip_grad_norm' must be > 0"),
        ('threads = 1', 'threads = 1\ncuda_graph = true', r"\[train\] key 'cuda_graph': CUDA graphs need a GPU; set device = \"cuda\""),
        ('threads = 1', 'threads = 1\ndevice = "cuda"\ncuda_graph = 1', r"\[train\] key 'cuda_graph' must be true or false, got 1"),
        ('threads = 1', 'threads = 1\nexecution = "fast"', r"\[train\] key 'execution' must be one of exact, compiled, got 'fast'"),
        ('threads = 1', 'threads = 1\ndevice = "cuda"\ncuda_graph = true\nexecution = "compiled"', r"\[train\] keys 'cuda_graph' and 'execution'"),
        ('a = { scale = 120, range = [0, 1] }', 'a = { scale = inf, range = [0, 1] }', r"\[train.params.hid\] key 'a': key 'scale' must be a finite number"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(_with(tmp_path, old, new))


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("channels = 6", "channels = 7", r"\[task\] gives 7 input channels, population 'inp' of the network has size 6"),
        ("classes = 4", "classes = 5", r"\[readout\] task 'bsd' has 5 classes"),
        ("ignore_first = 30", "ignore_first = 40", r"key 'ignore_first' \(40\) leaves no step"),
        ("width = 0.08", "colour = 1", r"\[task\] unknown key\(s\) \['colour'\] for task 'bsd'"),
        ('tau_u = { interpolate = ["5*ms", "25*ms"] }', 'tau_u = { interpolate = ["10*ms", "25*ms"] }', r"key 'tau_u': initial values span"),
    ],
)
def test_problems_found_when_the_run_is_set_up(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(load_train_config(_with(tmp_path, old, new)), tmp_path / "run")
