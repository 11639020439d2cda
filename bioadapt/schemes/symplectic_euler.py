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
(``_BA_u = -tau_u*(I/tau_u - w/tau_u)``, two divisions).

Where A_k is arithmetic in parameters that no code of the network writes (a
time constant), exp(A_k*dt) is the same in every step: it becomes the derived
per-neuron constant ``bioadapt_decay_x`` (`DecaySystem`), computed once per
network (numpy) and handed to Brian2 as a value, as the ``exact`` scheme's
propagators are, so that Brian2 does not evaluate ``exp`` per neuron and step;
the twin recomputes it from the parameters in every forward call, with the
same numpy function forward and torch derivatives backward. Both backends run
the same statements reading the same constants, so they agree bit for bit.

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
from brian2.equations.equations import DIFFERENTIAL_EQUATION, PARAMETER
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException
from brian2.stateupdaters.exponential_euler import get_conditionally_linear_system

from .exact import DERIVED_PREFIX
from .hoisting import ExponentialConstants

__all__ = ["SymplecticEuler", "sequential_code", "DecaySystem"]


def sequential_code(equations, variables, names: list[str], decays: dict | None = None) -> str:
    """Abstract code advancing ``names`` one after the other (exponential Euler each).

    ``decays`` maps variables to the derived constants holding their
    exp(A*dt) (`DecaySystem`); the others evaluate it in the code.
    """
    decays = decays or {}
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
            if var in decays:
                decay = sp.Symbol(decays[var])
            else:
                decay = sp.Symbol(f"_decay_{var}")
                code.append(f"{decay} = {sympy_to_str(sp.exp(A * dt))}")
            code.append(f"{var} = {sympy_to_str(decay * x + (1 - decay) * fixed_point(A, B))}")
        else:
            factor = sp.Symbol(decays[var]) if var in decays else sp.exp(A * dt)
            code.append(f"{var} = {sympy_to_str(x * factor)}")
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
        return sequential_code(equations, variables, names, (method_options or {}).get("decays"))


def after_reset_code(equations, variables, later: list[str], decays: dict | None = None) -> str:
    """Abstract code of the ``after_resets`` part: the non-membrane variables."""
    names = [v for v in ordered_diff_vars(equations) if v in set(later)]
    return sequential_code(equations, variables, names, decays)


class DecaySystem(ExponentialConstants):
    """The per-neuron constants exp(A_x*dt) of the variables whose A_x is
    arithmetic in parameters that nothing writes during a run (Brian2
    receives the values, the twin recomputes them with gradients).
    """

    def __init__(self, equations, written: set):
        try:
            system = get_conditionally_linear_system(equations, None)
        except ValueError:
            system = {}
        dt = sp.Symbol("dt")
        constant = {name for name in equations.names if equations[name].type == PARAMETER and name not in written}
        self.names, self._products, used = [], {}, set()
        for var in ordered_diff_vars(equations):
            if var not in system:
                continue
            A = system[var][0]
            symbols = {s.name for s in A.free_symbols}
            if A == 0 or not symbols or not symbols <= constant or A.atoms(sp.Function):
                continue
            self.names.append(var)
            self._products[var] = A * dt
            used |= symbols
        self.parameters = sorted(used)
        plain = {s: sp.Symbol(s.name) for expr in self._products.values() for s in expr.free_symbols}
        args = [sp.Symbol(p) for p in self.parameters] + [dt]
        # arithmetic only: the same functions evaluate numpy arrays and torch tensors
        functions = {var: sp.lambdify(args, expr.subs(plain), modules="numpy") for var, expr in self._products.items()}
        self._exponents = {name: _positional(functions[var], self.parameters) for var, name in self.decays().items()}

    def decays(self) -> dict:
        """Variable -> name of its derived constant."""
        return {var: f"{DERIVED_PREFIX}decay_{var}" for var in self.names}

    def _not_finite(self, name: str) -> str:
        var = next(v for v, n in self.decays().items() if n == name)
        return f"scheme 'symplectic_euler': exp({sympy_to_str(self._products[var])}) for '{var}' is not finite for some neurons (check the time constants)."


def _positional(function, parameters: list):
    """``f(args, dt)`` calling a lambdified ``function(*parameters, dt)``."""
    return lambda args, dt: function(*(args[p] for p in parameters), dt)
