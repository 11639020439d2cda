"""Training configurations: their sections, and one ConfigError naming the file and the key of what is wrong."""

import warnings

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
    assert config.task.input_population == "inp" and config.task.input_variable is None
    rules = {(r.owner, r.var): r for r in config.train.params}
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
        ('threads = 1', 'threads = 1\ncuda_graph = true', r"\[runtime\] key 'cuda_graph': CUDA graphs need a GPU; set device = \"cuda\""),
        ('threads = 1', 'threads = 1\ndevice = "cuda"\ncuda_graph = 1', r"\[runtime\] key 'cuda_graph' must be true or false, got 1"),
        ('threads = 1', 'threads = 1\nexecution = "fast"', r"\[runtime\] key 'execution' must be one of exact, compiled, got 'fast'"),
        ('threads = 1', 'threads = 1\ndevice = "cuda"\ncuda_graph = true\nexecution = "compiled"', r"\[runtime\] keys 'cuda_graph' and 'execution'"),
        ('threads = 1', 'threads = 0', r"\[runtime\] key 'threads' must be an integer >= 1, got 0"),
        ('threads = 1', 'threads = 1\nlr = 0.1', r"train.toml: \[runtime\]: unknown key\(s\) \['lr'\]"),
        ('[runtime]', '[runtime]\n[runtime.more]', r"\[runtime\]: unknown key\(s\) \['more'\]"),
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
        Trainer(load_train_config(_with(tmp_path, old, new)), tmp_path / "run").setup()


def test_sections_hold_the_keys_of_their_tables(problem):
    """task, readout, train (optimisation) and runtime are the file's tables; the network the physics."""
    config = load_train_config(problem)
    assert (config.task.name, config.task.input, config.task.options["samples"]) == ("bsd", "inp", 48)
    assert (config.readout.population, config.readout.variable, config.readout.loss, config.readout.ignore_first) == ("out", "y", "ce_sum_softmax", 30)
    assert (config.train.epochs, config.train.batch_size, config.train.lr, config.train.schedule) == (5, 8, 0.1, "cosine")
    assert (config.runtime.dtype, config.runtime.synapses, config.runtime.checkpoint_every, config.runtime.threads) == ("float64", "dense", 2, 1)
    assert config.network.dt == pytest.approx(1e-3) and config.task.drive_vars is None


def test_with_replaces_a_field_in_its_section(problem):
    config = load_train_config(problem)
    changed = config.with_(epochs=2, dtype="float32", ignore_first=5, seed=config.seed + 1)
    assert (changed.train.epochs, changed.runtime.dtype, changed.readout.ignore_first, changed.seed) == (2, "float32", 5, config.seed + 1)
    assert (config.train.epochs, config.runtime.dtype, config.readout.ignore_first) == (5, "float64", 30)
    assert changed.train.params == config.train.params and changed.task == config.task
    with pytest.raises(TypeError, match="no section has a field 'epoch'"):
        config.with_(epoch=2)


def _future_warnings(load, path):
    """What ``load(path)`` returns, and the texts of its FutureWarnings (others, e.g. from
    Brian2's parser, are not this test's business)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load(path)
    return result, [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]


def test_runtime_keys_in_train_are_read_with_a_warning(tmp_path):
    """A file written before [runtime] existed trains as before; each moved key is named."""
    text = TRAIN.format(dtype="float64", synapses="dense")
    runtime = text[text.index("[runtime]"):]
    old = text[: text.index("[runtime]")].replace('schedule = "cosine"\n', 'schedule = "cosine"\n' + runtime.replace("[runtime]\n", ""))
    config, messages = _future_warnings(load_train_config, write_problem(tmp_path, train_text=old))
    assert len(messages) == 1 and "[train] key(s) ['checkpoint_every', 'dtype', 'synapses', 'threads'] belong in [runtime]; move them there" in messages[0]
    assert config.runtime == load_train_config(write_problem(tmp_path / "new")).runtime
    with pytest.raises(ConfigError, match=r"\[train\] key 'threads' must be an integer >= 1, got 0"):
        _future_warnings(load_train_config, write_problem(tmp_path / "bad", train_text=old.replace("threads = 1", "threads = 0")))
    both = old + "\n[runtime]\ndtype = \"float32\"\n"
    with pytest.raises(ConfigError, match=r"key\(s\) \['dtype'\] are in both \[train\] and \[runtime\]"):
        load_train_config(write_problem(tmp_path / "both", train_text=both))


def test_the_trainer_constructor_only_stores(problem, tmp_path):
    """Building (dataset, twin, optimizer, torch's thread count) waits for the first use."""
    import torch

    threads = torch.get_num_threads()
    config = load_train_config(problem).with_(threads=threads + 1)
    trainer = Trainer(config, tmp_path / "run")
    try:
        assert trainer._parts is None and torch.get_num_threads() == threads and not (tmp_path / "run").exists()
        assert trainer.steps_per_epoch == 5  # 40 training samples in batches of 8: built on first use
        assert trainer._parts is not None and torch.get_num_threads() == threads + 1
    finally:
        torch.set_num_threads(threads)
