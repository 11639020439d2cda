"""Stability of the sub-threshold step map of a model under a scheme.

The map is not derived by hand per model: it is measured on the per-step
program the backends run. The twin executes one step of a population with no
input from the zero state and from each basis state ``h*e_k`` of the model's
differential-equation variables; for dynamics that are linear below
threshold the step is affine, ``x' = M x + c``, and the columns of ``M`` are
``(x'(h e_k) - x'(0))/h``. All neurons are measured at once, so heterogeneous
populations get one matrix per neuron.

From ``M``: eigenvalues ``lambda``, spectral radius ``max |lambda|`` (stable
below 1), and the oscillation frequency of the dominant mode
``f = |arg(lambda)|/(2*pi*dt)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import BackendError, ParameterError
from ..models import ModelSpec, load_model
from ..network import network_from_dict
from ..quantities import as_seconds

__all__ = ["DiscreteMap", "discrete_map", "stability_grid"]

#: Probe amplitude: far below any threshold, large enough that the affine map's
#: columns are measured to ~1e-13 relative (float64 rounding / h).
PROBE = 1e-3


@dataclass(frozen=True)
class DiscreteMap:
    """Per-neuron linear step maps ``x[k+1] = M x[k] + c`` of the sub-threshold dynamics."""

    variables: tuple
    matrices: np.ndarray  # (neurons, k, k)
    dt: float  # seconds

    @property
    def eigenvalues(self) -> np.ndarray:
        return np.linalg.eigvals(self.matrices)

    @property
    def spectral_radius(self) -> np.ndarray:
        return np.abs(self.eigenvalues).max(axis=-1)

    @property
    def frequency(self) -> np.ndarray:
        """Frequency (Hz) of the dominant mode; 0 for a real dominant eigenvalue."""
        lam = self.eigenvalues
        dominant = lam[np.arange(len(lam)), np.abs(lam).argmax(axis=-1)]
        return np.abs(np.angle(dominant)) / (2 * np.pi * self.dt)

    @property
    def stable(self) -> np.ndarray:
        return self.spectral_radius < 1.0

    @property
    def determinant(self) -> np.ndarray:
        return np.linalg.det(self.matrices)


def _values_table(values: dict, size: int) -> dict:
    table = {}
    for name, value in values.items():
        if isinstance(value, (list, tuple, np.ndarray)) and not isinstance(value, str):
            array = np.asarray(value, dtype=float)
            if array.shape != (size,):
                raise ParameterError(f"discrete_map: values['{name}'] has shape {array.shape}, expected ({size},).")
            table[name] = array
        else:
            table[name] = value
    return table


def discrete_map(model: ModelSpec | str, scheme: str | None = None, values: dict | None = None, dt: str | float = "1*ms", size: int | None = None) -> DiscreteMap:
    """Measure the sub-threshold step map of ``model`` under ``scheme``.

    Parameters
    ----------
    model : ModelSpec or str
        A model or a shipped model name / path.
    scheme : str, optional
        Defaults to the model's default scheme.
    values : dict, optional
        Parameter values: numbers, quantity strings, or arrays (SI units, one
        entry per neuron) for heterogeneous populations.
    dt : quantity string or seconds
    size : int, optional
        Number of neurons (inferred from array values).

    Examples
    --------
    >>> m = discrete_map("adlif", "symplectic_euler", {"tau_u": "25*ms", "tau_w": "60*ms", "a": 120, "b": 0})
    >>> round(float(m.spectral_radius[0]), 5)
    0.97206
    """
    model = model if isinstance(model, ModelSpec) else load_model(model)
    values = dict(values or {})
    arrays = [np.asarray(v) for v in values.values() if isinstance(v, (list, tuple, np.ndarray))]
    size = size or (len(arrays[0]) if arrays else 1)
    dt_s = as_seconds(dt, "discrete_map: dt")
    variables = [name for name in model.brian_equations if model.brian_equations[name].type == "differential equation"]
    if not variables:
        raise ParameterError(f"discrete_map: model '{model.name}' has no differential equations; its state is defined by its program.")
    table = _values_table(values, size)
    # arrays are handed over as SI values through a placeholder, then filled in
    scalar_values = {k: v for k, v in table.items() if not isinstance(v, np.ndarray)}
    spec = network_from_dict(
        {
            "dt": f"{dt_s}*second",
            "duration": f"{dt_s}*second",
            "populations": {"n": {"model": str(model.path), "size": size, **({"scheme": scheme} if scheme else {}), "values": scalar_values}},
        }
    )
    pop = spec.populations["n"]
    arrays = {name: array.astype(np.float64) for name, array in table.items() if isinstance(array, np.ndarray)}
    spec = replace(spec, populations={"n": replace(pop, values={**pop.values, **arrays})})
    from ..backends.torch import Twin

    twin = Twin(spec)
    k = len(variables)
    state = twin.initial_state(batch=k + 1)
    for j, var in enumerate(variables):
        probe = state[("n", var)].clone()
        probe[j + 1] = probe[j + 1] + PROBE
        state[("n", var)] = probe
    with torch.no_grad():
        out = twin(inputs={}, state=state, n_steps=1)
    if out.spikes.get("n") is not None and out.spikes["n"].sum() > 0:
        raise BackendError(f"discrete_map: the probe made model '{model.name}' spike; its threshold is too close to the rest state for a sub-threshold analysis.")
    after = torch.stack([out.state[("n", var)] for var in variables], dim=-1).numpy()  # (k+1, neurons, k)
    columns = (after[1:] - after[0]) / PROBE  # (k probes, neurons, k outputs)
    matrices = np.transpose(columns, (1, 2, 0))  # neurons, outputs, inputs
    return DiscreteMap(tuple(variables), matrices, dt_s)


def stability_grid(model: ModelSpec | str, scheme: str, x: tuple, y: tuple, values: dict | None = None, dt: str | float = "1*ms") -> tuple[np.ndarray, np.ndarray, DiscreteMap]:
    """Spectral radius over a grid of two parameters (one neuron per grid point).

    Parameters
    ----------
    x, y : (name, 1-d array of SI values)
    values : dict, optional
        The other parameters (fixed).

    Returns
    -------
    X, Y : 2-d arrays (meshgrid, ``indexing="xy"``)
    discrete : DiscreteMap with one matrix per grid point, in ``X.ravel()`` order
    """
    (xname, xs), (yname, ys) = x, y
    X, Y = np.meshgrid(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    table = dict(values or {})
    table[xname] = X.ravel()
    table[yname] = Y.ravel()
    return X, Y, discrete_map(model, scheme, table, dt=dt, size=X.size)
