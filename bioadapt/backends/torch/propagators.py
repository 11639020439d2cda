"""The derived per-neuron constants of a population's scheme computed with
torch: the exact scheme's propagators (`LinearSystem`) and the exponentials of
parameters (`ExponentialConstants`: the ``symplectic_euler`` decays, the
``exp()`` calls of program code). Differentiable: the twin takes their
gradients from here, and on a GPU (``system.on_device``) their values too;
otherwise the values are the schemes' numpy ones (``system.propagators``),
what Brian2 receives.
"""

from __future__ import annotations

import torch

from ...errors import BackendError
from ...schemes.exact import DERIVED_PREFIX, LinearSystem
from ...schemes.hoisting import ExponentialConstants

__all__ = ["torch_propagators"]


def torch_propagators(system, params: dict, size: int, dt: float) -> dict:
    """The constants ``system.propagators`` gives (``derived name -> (size,)``),
    computed with torch in float64 from ``params`` (``parameter -> tensor``)
    for ``size`` neurons at time step ``dt`` (s)."""
    if isinstance(system, LinearSystem):
        return _linear_propagators(system, params, size, dt)
    if isinstance(system, ExponentialConstants):
        return _exponentials(system, params, size, dt)
    raise BackendError(f"the twin cannot compute the derived constants of {type(system).__name__}.")


def _linear_propagators(system: LinearSystem, params: dict, size: int, dt: float) -> dict:
    """`LinearSystem.propagators` with torch: ``torch.linalg.matrix_exp`` of the
    augmented matrix (used for gradients only: the forward values come from scipy)."""
    args = [torch.broadcast_to(torch.as_tensor(params[p], dtype=torch.float64), (size,)) for p in system.parameters]
    k = len(system.names)
    entries = system.entry_functions()
    A = torch.stack(
        [torch.stack([torch.broadcast_to(torch.as_tensor(entries[r, c](*args), dtype=torch.float64), (size,)) for c in range(k)], dim=-1) for r in range(k)],
        dim=-2,
    )  # (size, k, k)
    variants = [("P", "F", A)]
    if system.held:
        keep = torch.tensor([0.0 if n in system.held else 1.0 for n in system.names], dtype=torch.float64)
        variants.append(("Pr", "Fr", A * keep[:, None]))
    out = {}
    eye = torch.eye(k, dtype=torch.float64)
    for kind_p, kind_f, mat in variants:
        top = torch.cat([mat * dt, torch.broadcast_to(eye * dt, (size, k, k))], dim=-1)
        augmented = torch.cat([top, torch.zeros(size, k, 2 * k, dtype=torch.float64)], dim=-2)
        expo = torch.linalg.matrix_exp(augmented)
        P, F = expo[:, :k, :k], expo[:, :k, k:]
        if kind_f == "Fr":
            F = F * keep[:, None]
        for r, x in enumerate(system.names):
            for c, y in enumerate(system.names):
                out[f"{DERIVED_PREFIX}{kind_p}_{x}_{y}"] = P[:, r, c]
                out[f"{DERIVED_PREFIX}{kind_f}_{x}_{y}"] = F[:, r, c]
    return out


def _exponentials(system: ExponentialConstants, params: dict, size: int, dt: float) -> dict:
    """`ExponentialConstants.propagators` with torch (elementwise: on a GPU the twin computes them there)."""
    args = {p: torch.broadcast_to(torch.as_tensor(params[p], dtype=torch.float64), (size,)) for p in system.parameters}
    return {name: torch.exp(torch.broadcast_to(torch.as_tensor(exponent(args, dt), dtype=torch.float64), (size,))) for name, exponent in system.exponent_functions().items()}
