"""One registry per kind of choice (`bioadapt.registry`): the lists that
validation, error messages and the command line's choices are taken from."""

import pytest

from bioadapt import BACKENDS as SIMULATE_BACKENDS
from bioadapt.backends.brian.device import BRIAN_TARGETS
from bioadapt.backends.registry import BACKENDS
from bioadapt.backends.torch.spikes import SURROGATES, Surrogate
from bioadapt.cli import build_parser
from bioadapt.errors import BackendError, ConfigError
from bioadapt.long_run import LONG_RUN_BACKENDS
from bioadapt.registry import Registry
from bioadapt.train.config import make_surrogate
from bioadapt.train.evaluate import BACKENDS as EVALUATE_BACKENDS
from bioadapt.train.losses import LOSSES, readout_loss


def test_check_names_where_the_choices_and_what_was_given():
    colours = Registry("colour", {"red": 1, "blue": 2})
    assert colours.check("blue", "paint: key 'colour'") == "blue"
    for bad in ("green", 3, None, ["red"]):
        with pytest.raises(ConfigError) as info:
            colours.check(bad, "paint: key 'colour'")
        assert str(info.value) == f"paint: key 'colour' must be one of red, blue, got {bad!r}."
    with pytest.raises(BackendError):
        colours.check("green", "x", BackendError)


def test_backend_lists_are_selections_of_the_registry():
    assert SIMULATE_BACKENDS == BACKENDS.names == ("numpy", "cpp_standalone", "cuda_standalone", "torch")
    assert LONG_RUN_BACKENDS == ("numpy", "cpp_standalone", "torch")
    assert EVALUATE_BACKENDS == ("numpy", "cpp_standalone", "cuda_standalone")
    assert BRIAN_TARGETS == ("numpy", "cpp_standalone", "cuda_standalone")
    parser = build_parser()
    choices = {name: [a.choices for a in sub._actions if a.dest == "backend"] for name, sub in parser._subparsers._group_actions[0].choices.items()}
    assert choices["simulate"] == [BACKENDS.names]
    assert choices["evaluate"] == [EVALUATE_BACKENDS]
    assert choices["compare"] == [BACKENDS.where(compares=True).names]


def test_losses_and_surrogates_refuse_unknown_names():
    assert set(LOSSES) == {"ce_sum_softmax", "ce_mean", "mse"}
    with pytest.raises(ValueError, match="readout loss must be one of ce_sum_softmax, ce_mean, mse, got 'hinge'"):
        readout_loss("hinge", None, None)
    with pytest.raises(ValueError, match="surrogate kind must be one of exponential, boxcar, sigmoid, arctan, got 'step'"):
        Surrogate("step")
    with pytest.raises(ValueError, match="must be one of exponential, boxcar, sigmoid, arctan, none, got 'step'"):
        make_surrogate({"kind": "step"})
    assert all(Surrogate(kind).name == kind for kind in SURROGATES)


def test_entry_points_import_from_bioadapt_without_loading_torch_first():
    import subprocess
    import sys

    code = ("import sys, bioadapt; assert 'torch' not in sys.modules; "
            "from bioadapt import Twin, TwinOutput, StandaloneNetwork, Trainer, TrainConfig, load_train_config, evaluate; "
            "import bioadapt.backends.torch as t, bioadapt.train as tr, bioadapt.backends.brian.standalone as s; "
            "assert Twin is t.Twin and Trainer is tr.Trainer and evaluate is tr.evaluate and StandaloneNetwork is s.StandaloneNetwork; "
            "assert 'Twin' in dir(bioadapt); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    import bioadapt

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        bioadapt.Nope


def test_twin_modes_are_registries_the_twin_and_the_config_check():
    from bioadapt.backends.registry import DTYPES, EXECUTIONS, MATH_MODES, SYNAPSE_MODES
    from bioadapt.backends.torch import functions, twin

    assert set(MATH_MODES) == set(functions.MATH_MODES)  # every name has its functions
    assert twin.EXECUTIONS == EXECUTIONS.names == ("exact", "compiled")
    assert SYNAPSE_MODES.names == ("exact", "dense") and DTYPES.names == ("float64", "float32")
