"""bioadapt: neuron models written once as Brian2 equations, simulated in Brian2
and trained through a spike-exact PyTorch twin."""

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
