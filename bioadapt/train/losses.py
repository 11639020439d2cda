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

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["readout_loss", "predict", "score"]


def readout_loss(kind: str, y: torch.Tensor, target: torch.Tensor, ignore_first: int = 0) -> torch.Tensor:
    y = y[ignore_first:]
    if kind == "ce_sum_softmax":
        p = F.softmax(y, dim=-1).mean(dim=0)
        return F.nll_loss(torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)), target)
    if kind == "ce_mean":
        return F.cross_entropy(y.mean(dim=0), target)
    if kind == "mse":
        return F.mse_loss(y, target[ignore_first:])
    raise ValueError(f"unknown loss {kind!r}")


def predict(kind: str, y, ignore_first: int = 0):
    """Class predictions (batch,) for classification losses; the trace itself for ``mse``."""
    torch_in = isinstance(y, torch.Tensor)
    y = torch.as_tensor(y)[ignore_first:]
    if kind == "ce_sum_softmax":
        out = F.softmax(y, dim=-1).sum(dim=0).argmax(dim=-1)
    elif kind == "ce_mean":
        out = y.mean(dim=0).argmax(dim=-1)
    else:
        out = y
    return out if torch_in else out.numpy()


def score(kind: str, y, target, ignore_first: int = 0) -> dict:
    """``{"loss", "accuracy"}`` (classification) or ``{"loss", "nmse"}`` (regression), as floats."""
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).detach().to(torch.float64)
    target = torch.as_tensor(target) if not isinstance(target, torch.Tensor) else target.detach()
    if kind == "mse":
        target = target.to(torch.float64)
        loss = float(readout_loss(kind, y, target, ignore_first))
        var = float(target[ignore_first:].var()) if target[ignore_first:].numel() > 1 else float("nan")
        return {"loss": loss, "nmse": loss / var if var > 0 else float("nan")}
    loss = float(readout_loss(kind, y, target.long(), ignore_first))
    pred = predict(kind, y, ignore_first)
    return {"loss": loss, "accuracy": float((pred == target).double().mean())}
