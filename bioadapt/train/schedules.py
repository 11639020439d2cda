"""Learning-rate schedules of a training configuration (``[train] schedule``), one `Registry`.

Each entry makes torch's scheduler for an optimizer, stepped once per
optimizer step: ``make(optimizer, config, steps_per_epoch)``.
"""

from __future__ import annotations

import torch

from ..registry import Registry

__all__ = ["SCHEDULES"]


def _constant(optimizer, config, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _cosine(optimizer, config, steps_per_epoch: int):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.train.epochs * steps_per_epoch))


def _step(optimizer, config, steps_per_epoch: int):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.train.step_size * steps_per_epoch, gamma=config.train.gamma)


def _exponential(optimizer, config, steps_per_epoch: int):
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.train.gamma ** (1.0 / steps_per_epoch))


#: ``[train] schedule`` -> ``make(optimizer, config, steps_per_epoch)``
SCHEDULES = Registry("schedule", {"constant": _constant, "cosine": _cosine, "step": _step, "exponential": _exponential})
