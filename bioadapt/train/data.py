"""Datasets named in a training configuration's ``[task]`` table, and batching."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import ConfigError
from ..registry import Registry
from ..tasks import burst_sequence_detection, load_heidelberg, mackey_glass_task, moving_shapes, spring_chain

__all__ = ["make_dataset", "batches", "to_inputs", "TASKS"]

#: ``[task] name`` -> the function that makes its dataset
TASKS = Registry("task", {"bsd": burst_sequence_detection, "oscillator": spring_chain, "heidelberg": load_heidelberg, "mackey_glass": mackey_glass_task, "moving_shapes": moving_shapes})
_RENAMES = {"bsd": {"samples": "n_samples"}, "moving_shapes": {"samples": "n_samples"}, "oscillator": {"samples_per_sequence": "samples", "sequences": "n_sequences"}}


def make_dataset(config):
    """Build the task's dataset from the config (seeded by the config's seed unless the task names one)."""
    name = config.task.name
    maker = TASKS[name]
    kwargs = {_RENAMES.get(name, {}).get(k, k): v for k, v in config.task.options.items()}
    kwargs.setdefault("seed", config.seed)
    if name == "heidelberg" and "dt" not in kwargs:
        kwargs["dt"] = config.network.dt
    if "split" in kwargs and isinstance(kwargs["split"], list):
        kwargs["split"] = tuple(kwargs["split"])
    allowed = set(inspect.signature(maker).parameters)
    unknown = set(kwargs) - allowed
    if unknown:
        raise ConfigError(f"{config.source}: [task] unknown key(s) {sorted(unknown)} for task '{name}'; allowed: {sorted(allowed | {'name', 'input'})}.")
    try:
        data = maker(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{config.source}: [task]: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{config.source}: [task]: {exc}") from None
    spec = config.network
    size = spec.populations[config.task.input_population].size
    if data.n_channels != size:
        raise ConfigError(f"{config.source}: [task] gives {data.n_channels} input channels, population '{config.task.input_population}' of the network has size {size}.")
    if data.kind == "classification":
        out = spec.populations[config.readout.population].size
        if config.readout.loss == "mse" or data.n_classes > out:
            raise ConfigError(f"{config.source}: [readout] task '{name}' has {data.n_classes} classes: use a classification loss and a readout of at least that size (population '{config.readout.population}' has {out}).")
        if config.task.input_variable is not None:
            raise ConfigError(f"{config.source}: [task] key 'input': task '{name}' gives spikes; name a population of kind \"spikes\".")
    else:
        if config.readout.loss != "mse":
            raise ConfigError(f"{config.source}: [readout] task '{name}' is a regression: use loss = \"mse\".")
        if config.task.input_variable is None:
            raise ConfigError(f"{config.source}: [task] key 'input': task '{name}' gives analog values; name POPULATION.VARIABLE to drive.")
    if config.readout.ignore_first >= data.n_steps:
        raise ConfigError(f"{config.source}: [readout] key 'ignore_first' ({config.readout.ignore_first}) leaves no step of the {data.n_steps} counted.")
    return data


def batches(indices: np.ndarray, batch_size: int, seed: int | None, epoch: int = 0) -> list:
    """Index batches of one epoch; shuffled from ``(seed, epoch)`` (so a resumed run draws the same order), or in order."""
    indices = np.asarray(indices)
    if seed is not None:
        indices = np.random.default_rng([int(seed), 5, int(epoch)]).permutation(indices)
    return [indices[k:k + batch_size] for k in range(0, len(indices), batch_size)]


def to_inputs(config, data, idx, dtype, device) -> tuple:
    """``(inputs, drive, target)`` for the twin: (steps, batch, channels) tensors and the labels or targets."""
    x = torch.as_tensor(np.ascontiguousarray(data.x[idx].transpose(1, 0, 2)), dtype=dtype, device=device)
    inputs, drive = twin_inputs(config, x)
    if data.kind == "classification":
        target = torch.as_tensor(data.y[idx], dtype=torch.int64, device=device)
    else:
        target = torch.as_tensor(np.ascontiguousarray(data.target[idx].transpose(1, 0, 2)), dtype=dtype, device=device)
    return inputs, drive, target


def twin_inputs(config, x: torch.Tensor) -> tuple:
    """``(inputs, drive)`` of the twin for a batch ``x (steps, batch, channels)``:
    input spikes, or the drive of an analog input variable."""
    task = config.task
    if task.input_variable is None:
        return {task.input_population: x}, {}
    return {}, {task.input_population: {task.input_variable: x}}
