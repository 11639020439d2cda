"""Exact propagator for models whose sub-threshold dynamics are linear.

For ``dx/dt = A x + b`` (A depends on per-neuron parameters, b on parameters
and on non-state inputs such as a one-step current ``I``, held constant over
a step) one step is

    x[k+1] = P x[k] + F b[k],   P = exp(A dt),   F = int_0^dt exp(A s) ds,

both read off one matrix exponential of the augmented matrix
``[[A, 1], [0, 0]] * dt`` (Van Loan), which is valid for singular A and for
complex or repeated eigenvalues, where Brian2's symbolic ``exact`` method
returns NaN (brian2 issue 679). P and F are computed numerically per neuron
(``scipy.linalg.expm``) once per network and per dt, and handed to both
backends as the derived per-neuron constants ``bioadapt_P_x_y`` and
``bioadapt_F_x_y``; the per-step code is the same multiply-add in both.

Variables flagged ``(unless refractory)`` are held while refractory; the
other variables then follow the system with those rows removed (a second pair
of propagators, ``bioadapt_Pr_*``/``bioadapt_Fr_*``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import sympy as sp
from brian2 import Equations
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS
from brian2.equations.equations import DIFFERENTIAL_EQUATION
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException
from brian2.stateupdaters.exact import get_linear_system

from ..errors import SchemeNotApplicable

__all__ = ["LinearSystem", "linear_system", "PassThrough", "DERIVED_PREFIX"]

#: Prefix of derived per-neuron constants (not trainable, recomputed from parameters).
DERIVED_PREFIX = "bioadapt_"


class LinearSystem:
    """``dx/dt = A x + b`` of a model, symbolic, with per-neuron numerics."""

    #: the propagators' values come from scipy on the host, also for a twin on a GPU
    #: (the twin's torch version, `bioadapt.backends.torch.propagators`, gives their gradients)
    on_device = False

    def __init__(self, equations: Equations, where: str):
        try:
            names, A, b = get_linear_system(equations, None)
        except (UnsupportedEquationsException, ValueError, KeyError) as exc:
            raise SchemeNotApplicable(f"{where}: scheme 'exact' needs sub-threshold equations that are linear in the state variables: {exc}") from None
        states = {sp.Symbol(n, real=True) for n in names} | {sp.Symbol(n) for n in names}
        for expr in list(A) + list(b):
            if expr.free_symbols & states:
                raise SchemeNotApplicable(f"{where}: scheme 'exact' needs sub-threshold equations that are linear in the state variables; '{sympy_to_str(expr)}' is not.")
        # units and constants written in the equations (``(g - v)/(10*ms)``) are
        # numbers, not parameters: their SI values go into A
        model_names = set(equations.names) | set(equations.parameter_names)
        numbers = {}
        for symbol in {s for expr in A for s in expr.free_symbols}:
            if symbol.name not in model_names and (symbol.name in DEFAULT_UNITS or symbol.name in DEFAULT_CONSTANTS):
                value = DEFAULT_UNITS.get(symbol.name, DEFAULT_CONSTANTS.get(symbol.name))
                numbers[symbol] = sp.Float(float(value), 17)
        if numbers:
            A = A.subs(numbers)
        self.names = list(names)
        self.A = A
        self.b = b
        self.held = [n for n in self.names if "unless refractory" in equations[n].flags]
        self.parameters = sorted({s.name for expr in A for s in expr.free_symbols})

    def derived_names(self) -> list[str]:
        kinds = ["P", "F"] + (["Pr", "Fr"] if self.held else [])
        return [f"{DERIVED_PREFIX}{kind}_{x}_{y}" for kind in kinds for x in self.names for y in self.names]

    def code(self) -> str:
        """Abstract code of one step (Jacobi: all from the old values)."""
        lines = [f"_b_{x} = {sympy_to_str(self.b[k])}" for k, x in enumerate(self.names)]

        def row(kind_p, kind_f, x):
            terms = [f"{DERIVED_PREFIX}{kind_p}_{x}_{y}*{y}" for y in self.names]
            terms += [f"{DERIVED_PREFIX}{kind_f}_{x}_{y}*_b_{y}" for y in self.names]
            return " + ".join(terms)

        for x in self.names:
            if self.held:
                lines.append(f"_{x} = int(not_refractory)*({row('P', 'F', x)}) + (1 - int(not_refractory))*({row('Pr', 'Fr', x)})")
            else:
                lines.append(f"_{x} = {row('P', 'F', x)}")
        lines += [f"{x} = _{x}" for x in self.names]
        return "\n".join(lines)

    def entry_functions(self) -> dict:
        """``(row, col) -> f(*parameters)`` for the entries of A; arithmetic only,
        so the same functions evaluate numpy arrays and torch tensors (the
        twin's `bioadapt.backends.torch.propagators`)."""
        if not hasattr(self, "_entry_functions"):
            symbols = [sp.Symbol(p) for p in self.parameters]
            plain = {sp.Symbol(p, real=True): sp.Symbol(p) for p in self.parameters}
            k = len(self.names)
            self._entry_functions = {(r, c): sp.lambdify(symbols, self.A[r, c].subs(plain), modules="numpy") for r in range(k) for c in range(k)}
        return self._entry_functions

    def matrices(self, values: dict, size: int) -> np.ndarray:
        """A per neuron, shape (size, k, k), from SI parameter values (missing -> 0, as Brian2)."""
        args = [np.broadcast_to(np.asarray(values.get(p, 0.0), dtype=float), (size,)) for p in self.parameters]
        k = len(self.names)
        A = np.empty((size, k, k))
        for (r, c), entry in self.entry_functions().items():
            A[:, r, c] = np.broadcast_to(np.asarray(entry(*args), dtype=float), (size,))
        return A

    def propagators(self, values: dict, size: int, dt: float) -> dict:
        """The derived constants ``bioadapt_*`` for ``size`` neurons at time step ``dt`` (s)."""
        A = self.matrices(values, size)
        out = {}
        variants = [("P", "F", A)]
        if self.held:
            A_ref = A.copy()
            for n in self.held:
                A_ref[:, self.names.index(n), :] = 0.0
            variants.append(("Pr", "Fr", A_ref))
        k = len(self.names)
        for kind_p, kind_f, mat in variants:
            augmented = np.zeros((size, 2 * k, 2 * k))
            augmented[:, :k, :k] = mat * dt
            augmented[:, :k, k:] = np.eye(k) * dt
            # one expm per distinct matrix (bit pattern): scipy computes each
            # matrix of a stack on its own, so neurons with equal parameters
            # get the values a per-neuron call gives, at the cost of one
            _, first, inverse = np.unique(augmented.reshape(size, -1).view(np.uint64), axis=0, return_index=True, return_inverse=True)
            expo = scipy.linalg.expm(augmented[first])[inverse.reshape(-1)]
            P, F = expo[:, :k, :k], expo[:, :k, k:]
            if kind_f == "Fr":  # held variables do not integrate their input either
                for n in self.held:
                    F[:, self.names.index(n), :] = 0.0
            if not np.all(np.isfinite(P)) or not np.all(np.isfinite(F)):
                raise SchemeNotApplicable("scheme 'exact': the propagator is not finite for some neurons (check the time constants).")
            for r, x in enumerate(self.names):
                for c, y in enumerate(self.names):
                    out[f"{DERIVED_PREFIX}{kind_p}_{x}_{y}"] = P[:, r, c].copy()
                    out[f"{DERIVED_PREFIX}{kind_f}_{x}_{y}"] = F[:, r, c].copy()
        return out


def linear_system(equations: Equations | str, where: str = "model") -> LinearSystem:
    """The linear system of ``equations`` or `SchemeNotApplicable`."""
    return LinearSystem(Equations(equations) if isinstance(equations, str) else equations, where)


class PassThrough(StateUpdateMethod):
    """A Brian2 state updater that returns the code bioadapt computed for the group.

    Schemes whose code depends on more than the equations (numerical
    propagators) are computed by bioadapt and handed over as
    ``method_options={"code": ...}``, so Brian2 and the twin run that code.
    """

    def __call__(self, equations, variables=None, method_options=None):
        del equations, variables
        code = (method_options or {}).get("code")
        if code is None:
            raise UnsupportedEquationsException("this scheme needs the code computed by bioadapt (method_options['code']).")
        return code


def diff_var_names(equations: Equations) -> list[str]:
    return [n for n in equations if equations[n].type == DIFFERENTIAL_EQUATION]
