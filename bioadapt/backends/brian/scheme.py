"""What a population's scheme gives its Brian2 group (`scheme_result`): one
`SchemeResult` that the builder applies as it is.

A scheme is Brian2's ``method=`` (euler, rk4, ...), bioadapt's ``exact``
(propagators computed once per network: `..schemes.exact.LinearSystem`),
``symplectic_euler`` (the variables other than the membrane integrated after
the reset, with their decays as derived constants: `DecaySystem`), or a
discrete-time program of the model (its blocks, with the ``exp()`` of
constants as derived constants: `ProgramExponentials`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brian2.utils.stringtools import get_identifiers

from ...errors import ConfigError, SchemeNotApplicable
from ...network.spec import NetworkSpec, PopulationSpec
from ...program.analysis import assigned_names
from ...schemes import brian_method
from ...schemes.exact import linear_system
from ...schemes.hoisting import ProgramExponentials
from ...schemes.symplectic_euler import DecaySystem

__all__ = ["SchemeResult", "scheme_result", "decay_system", "program_exponentials"]


@dataclass(frozen=True)
class SchemeResult:
    """A population's equations and code as its scheme makes them.

    ``equations``: the model's equations for the scheme, with the derived
    constants declared (``name : 1 (constant)``); ``method`` and
    ``method_options``: Brian2's; ``after_resets``: the variables integrated
    after the reset (``symplectic_euler``); ``program``: ``slot -> code`` of a
    discrete-time program's blocks; ``system``: the derived-constant system
    whose values the group receives (`propagators`), or None.
    """

    equations: str
    method: str = "euler"
    method_options: dict | None = None
    after_resets: tuple = ()
    program: dict = field(default_factory=dict)
    system: object = None


def decay_system(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> DecaySystem | None:
    """The derived decay constants of a ``symplectic_euler`` population, or None."""
    if pop.is_input or pop.scheme in pop.model.programs or pop.scheme is None or not brian_method(pop.scheme).split_at_reset:
        return None
    system = DecaySystem(pop.model.brian_equations, assigned_names(spec, pop, driven))
    return system if system.names else None


def program_exponentials(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> ProgramExponentials | None:
    """The ``exp()`` of constants in a program population's code as derived constants, or None."""
    model = pop.model
    if pop.is_input or pop.scheme not in model.programs:
        return None
    equations = model.brian_equations
    assigned = assigned_names(spec, pop, driven)
    constant = {name for name in equations.parameter_names if "shared" not in equations[name].flags and name not in assigned}
    system = ProgramExponentials(model.programs[pop.scheme], constant)
    return system if system.names else None


def _declared(system) -> str:
    return "\n" + "\n".join(f"{name} : 1 (constant)" for name in system.derived_names())


def scheme_result(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> SchemeResult:
    """What ``pop``'s scheme gives its Brian2 group (``driven``: its variables
    that drives write, which are not constants of the run)."""
    model = pop.model
    name = pop.scheme
    equations = model.equations_for(name)
    if name in model.programs:  # a discrete-time program; exp() of constants in it: derived constants
        system = program_exponentials(spec, pop, driven)
        if system is None:
            return SchemeResult(equations, program=dict(model.programs[name]))
        return SchemeResult(equations + _declared(system), program=system.blocks, system=system)
    if name is None:  # no dynamics of its own
        return SchemeResult(equations)
    scheme = brian_method(name)
    options, after, system = None, (), None
    if scheme.propagator:
        where = f"{spec.source}: [populations.{pop.name}] (model file {model.path})"
        try:
            system = linear_system(model.brian_equations, where)
        except SchemeNotApplicable as exc:
            raise ConfigError(str(exc)) from None
        # the propagators are computed once per network from the parameters
        # of A; a name code writes during the run would change A
        written = sorted(set(system.parameters) & assigned_names(spec, pop, driven))
        if written:
            chosen = " (chosen by default for linear equations)" if pop.scheme_origin == "default" else ""
            raise ConfigError(
                f"{where}: scheme 'exact'{chosen} computes its propagators once per network from {', '.join(system.parameters)}, "
                f"but {written} change during the run (written by code, a projection or a drive, or linked to another population). Name another scheme for this population, e.g. scheme = \"exponential_euler\" or \"rk4\"."
            )
        equations += _declared(system)
        options = {"code": system.code()}
    if scheme.split_at_reset:
        if model.threshold:  # the membrane (threshold variables) before the reset, the rest after it
            membrane = get_identifiers(model.threshold)
            after = tuple(v for v in model.brian_equations.diff_eq_names if v not in membrane)
            options = {"after_resets": list(after)}
        system = decay_system(spec, pop, driven)  # time-constant decays as derived constants
        if system is not None:
            equations += _declared(system)
            options = dict(options or {}, decays=system.decays())
    return SchemeResult(equations, scheme.brian_name, options, after, {}, system)
