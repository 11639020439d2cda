"""Trainable synaptic delays: continuous per-synapse positions over whole-step taps.

Used by `Twin.learn_delays`; the dense pathway multiplies the spikes of each
tap ``d`` by a weight matrix built from every synapse's contribution times its
kernel value at ``d`` (DCLS, Hammouamri et al. 2024).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["RelaxedDelays", "RELAXATIONS"]

RELAXATIONS = ("gaussian", "linear")


class RelaxedDelays(nn.Module):
    """Continuous delay positions of one projection's synapses (a DCLS-like relaxation).

    ``position`` (steps, synapse order, clamped to ``[0, max_steps]`` by the
    trainer) is the trainable parameter. During training each synapse spreads
    its contribution over the taps ``d = 0 .. max_steps`` with `kernel`:

    - ``gaussian``: a Gaussian centred at the position with width ``sigma``
      (a buffer the trainer anneals), normalized over the taps (a softmax of
      ``-(d - p)**2 / (2 sigma**2)``, so a tiny sigma at a whole-step position
      gives exactly one tap with weight 1);
    - ``linear``: linear interpolation between the two neighbouring taps.

    With ``hard`` set, the kernel is one tap at the rounded position (the
    whole-step delay written to the parameter file and simulated by Brian2).
    """

    def __init__(self, initial_steps, max_steps: int, relaxation: str, dtype: torch.dtype):
        super().__init__()
        self.max_steps = max_steps
        self.relaxation = relaxation
        self.hard = False
        self.position = nn.Parameter(torch.as_tensor(np.asarray(initial_steps, dtype=np.float64)).to(dtype))
        self.register_buffer("sigma", torch.tensor(max_steps / 2, dtype=torch.float64))

    def rounded(self) -> torch.Tensor:
        """Whole-step delays: the positions rounded (half to even) and clipped to ``[0, max_steps]``."""
        return torch.round(self.position.detach()).clamp(0, self.max_steps).to(torch.int64)

    def kernel(self) -> torch.Tensor:
        """``(n_synapses, max_steps + 1)``, each row summing to 1."""
        p = self.position
        taps = torch.arange(self.max_steps + 1, dtype=p.dtype, device=p.device)
        if self.hard:
            return (taps == self.rounded().to(p.dtype)[:, None]).to(p.dtype)
        if self.relaxation == "linear":
            return torch.clamp(1 - torch.abs(taps - p[:, None]), min=0)
        sigma = self.sigma.to(p.dtype)
        return torch.softmax(-0.5 * ((taps - p[:, None]) / sigma) ** 2, dim=1)
