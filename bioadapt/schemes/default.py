"""The scheme of an ODE model for which neither the network nor the model names one.

Brian2's `NeuronGroup`, given no ``method``, tries the methods of its default
list (``('exact', 'euler', 'heun')``, read from `NeuronGroup`'s signature) in
order and integrates with the first that accepts the equations: ``exact`` for
linear equations, ``euler`` for non-linear ones and additive noise, ``heun``
for multiplicative noise. `default_scheme` asks Brian2's own methods, with the
equations as `NeuronGroup` hands them over (``int(not_refractory)*(...)`` for
``(unless refractory)`` equations when the model has a refractory period), and
returns the name of the first that accepts them. ``exact`` then means
bioadapt's `exact` scheme: the same solution of the linear system, computed
numerically per neuron, which stays finite where Brian2's symbolic solution
gives NaN (complex or repeated eigenvalues, brian2 issue 679).

Brian2's check of ``exact`` solves the system symbolically (sympy, about a
second for a two-variable model), and Brian2's own cache of it does not hold
across groups here (its key holds the time step and timed arrays as new
objects each time): the choice is kept per process for the equations' text,
the refractory flag, the timed arrays' steps and ``dt``, the only things it
depends on, so a network built again (a sweep's points, a resumed run) does
not solve the same system again.
"""

from __future__ import annotations

import inspect

from brian2 import NeuronGroup, TimedArray, second
import numpy as np
from brian2.core.functions import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS
from brian2.equations.equations import extract_constant_subexpressions
from brian2.equations.refractory import add_refractoriness
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException

from ..errors import SchemeNotApplicable

__all__ = ["BRIAN2_DEFAULT_METHODS", "default_scheme"]

#: (equations' text, refractory, timed arrays' steps, dt) -> (method, Brian2's reasons for refusing the methods before it)
_CHOSEN: dict = {}

#: Brian2's default method list of `NeuronGroup` (its ``method`` argument's default).
BRIAN2_DEFAULT_METHODS: tuple = tuple(inspect.signature(NeuronGroup.__init__).parameters["method"].default)


class _TimeStep:
    """The group's ``dt`` as Brian2's exact method reads it (``variables["dt"].get_value()[0]``)."""

    def __init__(self, dt: float):
        self.dt = dt

    def get_value(self):
        return np.array([self.dt])


def default_scheme(equations, refractory: bool, timed_arrays: dict | None = None, dt: float | None = None) -> tuple[str, dict]:
    """The method Brian2's `NeuronGroup` chooses for ``equations`` without a ``method``.

    Parameters
    ----------
    equations : brian2.Equations
        The model's equations, as written.
    refractory : bool
        Whether the group has a refractory period (Brian2 then multiplies the
        right-hand side of ``(unless refractory)`` equations by
        ``int(not_refractory)`` before choosing).
    timed_arrays : dict, optional
        ``name -> dt`` (seconds) of the timed arrays the equations may call:
        constant over a step of the network where their ``dt`` is a multiple
        of it, which ``exact`` accepts, as Brian2 does.
    dt : float, optional
        The network's time step in seconds (what the timed arrays' ``dt`` is
        compared with).

    Returns
    -------
    (str, dict)
        The chosen method's name and, for each method tried before it, Brian2's
        reason for refusing the equations.

    Raises
    ------
    SchemeNotApplicable
        When no method of the list accepts the equations.
    """
    key = (str(equations), bool(refractory), tuple(sorted((timed_arrays or {}).items())), dt)
    chosen = _CHOSEN.get(key)
    if chosen is not None:
        return chosen[0], dict(chosen[1])
    if refractory:
        equations = add_refractoriness(equations)
    equations, _ = extract_constant_subexpressions(equations)
    # what the equations may call: Brian2's functions (rand() is not constant
    # over a step, which rules out 'exact') and constants
    variables = {**DEFAULT_FUNCTIONS, **DEFAULT_CONSTANTS, **{name: TimedArray([0.0], dt=step * second) for name, step in (timed_arrays or {}).items()}}
    if dt is not None:  # what Brian2's exact method reads the group's time step from
        variables["dt"] = _TimeStep(dt)
    refused = {}
    for method in BRIAN2_DEFAULT_METHODS:
        try:
            StateUpdateMethod.apply_stateupdater(equations, variables, method)
        except UnsupportedEquationsException as exc:
            refused[method] = " ".join(str(exc).split())
            continue
        _CHOSEN[key] = (method, dict(refused))
        return method, refused
    reasons = "; ".join(f"{m}: {r}" for m, r in refused.items())
    raise SchemeNotApplicable(f"none of Brian2's default methods ({', '.join(BRIAN2_DEFAULT_METHODS)}) integrates these equations ({reasons}).")
