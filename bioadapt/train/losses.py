"""Readout losses and metrics on a trace ``y`` of shape (steps, batch, outputs).

``ce_sum_softmax``: per-step softmax, averaged over the counted steps, then the
negative log-probability of the label (the SHD loss of SE-adLIF: cross-entropy
on the time-sum of softmax). ``ce_mean``: cross-entropy on the time-mean of
``y`` (their SSC loss). ``mse``: mean squared error against a target sequence.
The first ``ignore_first`` steps count for neither loss nor prediction.
Everything here works on numpy arrays and torch tensors alike (the same
formulas serve the twin and Brian2's recorded traces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import Registry

__all__ = ["readout_loss", "predict", "score", "Loss", "LOSSES"]


@dataclass(frozen=True)
class Loss:
    """A readout loss: ``loss(y, target)`` and ``predict(y)`` on the counted
    steps of ``y`` (steps, batch, outputs); ``target`` and the prediction are
    class indices (batch,) for classification, a trace for regression."""

    loss: Callable
    predict: Callable
    classification: bool


def _ce_sum_softmax(y, target):
    p = F.softmax(y, dim=-1).mean(dim=0)
    return F.nll_loss(torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)), target)


#: ``[readout] loss`` -> `Loss`
LOSSES = Registry("loss", {
    "ce_sum_softmax": Loss(_ce_sum_softmax, lambda y: F.softmax(y, dim=-1).sum(dim=0).argmax(dim=-1), classification=True),
    "ce_mean": Loss(lambda y, target: F.cross_entropy(y.mean(dim=0), target), lambda y: y.mean(dim=0).argmax(dim=-1), classification=True),
    "mse": Loss(F.mse_loss, lambda y: y, classification=False),
}, error=ValueError)


def readout_loss(kind: str, y: torch.Tensor, target: torch.Tensor, ignore_first: int = 0) -> torch.Tensor:
    loss = LOSSES[LOSSES.check(kind, "readout loss")]
    return loss.loss(y[ignore_first:], target if loss.classification else target[ignore_first:])


def predict(kind: str, y, ignore_first: int = 0):
    """Class predictions (batch,) for classification losses; the trace itself for ``mse``."""
    torch_in = isinstance(y, torch.Tensor)
    out = LOSSES[LOSSES.check(kind, "readout loss")].predict(torch.as_tensor(y)[ignore_first:])
    return out if torch_in else out.numpy()


def score(kind: str, y, target, ignore_first: int = 0) -> dict:
    """``{"loss", "accuracy"}`` (classification) or ``{"loss", "nmse"}`` (regression), as floats."""
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).detach().to(torch.float64)
    target = torch.as_tensor(target) if not isinstance(target, torch.Tensor) else target.detach()
    if not LOSSES[LOSSES.check(kind, "readout loss")].classification:
        target = target.to(torch.float64)
        loss = float(readout_loss(kind, y, target, ignore_first))
        var = float(target[ignore_first:].var()) if target[ignore_first:].numel() > 1 else float("nan")
        return {"loss": loss, "nmse": loss / var if var > 0 else float("nan")}
    loss = float(readout_loss(kind, y, target.long(), ignore_first))
    pred = predict(kind, y, ignore_first)
    return {"loss": loss, "accuracy": float((pred == target).double().mean())}
