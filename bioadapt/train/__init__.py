"""Training the twin, and carrying the result back to Brian2."""

from .config import DelayRelaxation, Optimisation, ParamRule, Readout, Runtime, Task, TrainConfig, load_train_config
from .params import apply_params, load_params, save_params
from .trainer import Trainer, TrainResult, train
from .evaluate import evaluate, trained_network
from .robustness import robustness

__all__ = ["TrainConfig", "Task", "Readout", "Optimisation", "Runtime", "ParamRule", "DelayRelaxation", "load_train_config", "apply_params", "load_params", "save_params", "Trainer", "TrainResult", "train", "evaluate", "trained_network", "robustness"]
