"""Symplectic (semi-implicit, Gauss-Seidel) exponential Euler.

Variables are advanced one after the other, in the order the model file
defines them, each with the exponential-Euler update of its own equation
(linear in itself, everything else held at its *current* value, which for
variables earlier in the order is already the new one):

    x_k <- -B_k/A_k + (x_k + B_k/A_k) * exp(A_k*dt)     (x_k <- x_k + dt*B_k if A_k == 0)

written as the decay towards the variable's fixed point R_k = -B_k/A_k,

    _decay_x := exp(A_k*dt);  x_k <- _decay_x*x_k + (1 - _decay_x)*R_k

(``u = alpha*u + (1 - alpha)*(I - w)`` for the adaptive LIF). This is the same
map with half the operations of Brian2's exponential-Euler form
(``_BA_u = -tau_u*(I/tau_u - w/tau_u)``, two divisions), and ``_decay_x`` and
``1 - _decay_x`` read only parameters and ``dt`` when A_k does, so the twin
computes them once per call (`bioadapt.backends.torch.plan`); Brian2 runs the
very same statements, so both still agree bit for bit.

The variables that appear in the threshold condition (the membrane) are
advanced in the ``groups`` slot, before the threshold; all others in the
``after_resets`` slot, after the threshold and the reset. This is the order of
the SE-adLIF of Baronig et al. (2025): u first, then spike and reset, then the
adaptation w from the post-reset u and the current spike.

Stability: for the adaptive LIF the determinant of the sub-threshold map is
exp(-dt/tau_u)*exp(-dt/tau_w) for every coupling a (see
`bioadapt.analysis.stability`).
"""

from __future__ import annotations

import sympy as sp
from brian2.equations.equations import DIFFERENTIAL_EQUATION
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException
from brian2.stateupdaters.exponential_euler import get_conditionally_linear_system

__all__ = ["SymplecticEuler", "sequential_code"]


def sequential_code(equations, variables, names: list[str]) -> str:
    """Abstract code advancing ``names`` one after the other (exponential Euler each)."""
    try:
        system = get_conditionally_linear_system(equations, variables)
    except ValueError:
        raise UnsupportedEquationsException(
            "symplectic_euler needs equations that are linear in each variable itself "
            "(conditionally linear), as exponential_euler does."
        ) from None
    dt = sp.Symbol("dt")
    code = []
    for var in names:
        A, B = system[var]
        x = sp.Symbol(var)
        if A == 0:
            code.append(f"{var} = {sympy_to_str(x + dt * B)}")
        elif B != 0:
            decay = sp.Symbol(f"_decay_{var}")
            code.append(f"{decay} = {sympy_to_str(sp.exp(A * dt))}")
            code.append(f"{var} = {sympy_to_str(decay * x + (1 - decay) * fixed_point(A, B))}")
        else:
            code.append(f"{var} = {sympy_to_str(x * sp.exp(A * dt))}")
    return "\n".join(code)


def fixed_point(A, B):
    """-B/A in its shorter form: sympy's own (``I - w`` for the adaptive LIF) or,
    if shorter, with common factors cancelled (``(E*g + v)/(g + 1)``)."""
    ratio = -B / A
    cancelled = sp.cancel(ratio)
    return cancelled if sp.count_ops(cancelled) < sp.count_ops(ratio) else ratio


def ordered_diff_vars(equations) -> list[str]:
    """Differential-equation variables in the order the model file defines them."""
    return [name for name in equations if equations[name].type == DIFFERENTIAL_EQUATION]


class SymplecticEuler(StateUpdateMethod):
    """Brian2 state updater for the ``groups`` part of the scheme.

    ``method_options={"after_resets": [names]}`` lists the variables left for
    the ``after_resets`` part (see `after_reset_code`).
    """

    def __call__(self, equations, variables=None, method_options=None):
        if equations.is_stochastic:
            raise UnsupportedEquationsException("symplectic_euler cannot integrate stochastic equations.")
        later = set((method_options or {}).get("after_resets", ()))
        names = [v for v in ordered_diff_vars(equations) if v not in later]
        return sequential_code(equations, variables, names)


def after_reset_code(equations, variables, later: list[str]) -> str:
    """Abstract code of the ``after_resets`` part: the non-membrane variables."""
    names = [v for v in ordered_diff_vars(equations) if v in set(later)]
    return sequential_code(equations, variables, names)
