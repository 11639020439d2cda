"""bioadapt: neuron models written once as Brian2 equations, simulated in Brian2
and trained through a spike-exact PyTorch twin.

Loading and simulating are here. The twin, a compiled Brian2 project and
training are importable from here too, and documented in their sub-packages
(`bioadapt.backends.torch`, `bioadapt.backends.brian.standalone`,
`bioadapt.train`); importing them loads torch, which ``import bioadapt`` alone
does not. (``bioadapt.train`` is the training sub-package; its function
``train`` is ``bioadapt.train.train``.)

>>> from bioadapt import Twin, StandaloneNetwork, Trainer, evaluate
>>> Twin.__module__
'bioadapt.backends.torch.twin'
"""

import warnings

# Importing brian2 imports setuptools' distutils, which warns about a private
# MSVC helper on every platform; the warning is not actionable by users.
warnings.filterwarnings("ignore", message="_get_vc_env is private", category=UserWarning)

from .errors import BackendError, BioadaptError, ConfigError, ModelError, ParameterError, RoundingWarning, SchemeNotApplicable
from .models import ModelSpec, load_model, shipped_models
from .network import NetworkSpec, at_dt, load_network, network_from_dict, with_duration
from .result import SimulationResult, StoredState
from .simulate import BACKENDS, simulate
from .long_run import load_long_run, long_run

__all__ = [
    "BACKENDS",
    "BackendError",
    "BioadaptError",
    "ConfigError",
    "ModelError",
    "ModelSpec",
    "NetworkSpec",
    "ParameterError",
    "RoundingWarning",
    "SchemeNotApplicable",
    "SimulationResult",
    "StoredState",
    "at_dt",
    "load_long_run",
    "load_model",
    "load_network",
    "long_run",
    "network_from_dict",
    "shipped_models",
    "simulate",
    "with_duration",
]

__version__ = "0.1.0"

#: names importable from here, loaded on first use: name -> module that defines it
_LAZY = {
    "Twin": "bioadapt.backends.torch",
    "TwinOutput": "bioadapt.backends.torch",
    "StandaloneNetwork": "bioadapt.backends.brian.standalone",
    "Trainer": "bioadapt.train",
    "TrainConfig": "bioadapt.train",
    "load_train_config": "bioadapt.train",
    "evaluate": "bioadapt.train",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bioadapt' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
