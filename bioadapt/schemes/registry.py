"""The scheme registry, filled in one place."""

from __future__ import annotations

from dataclasses import dataclass

from brian2.stateupdaters.base import StateUpdateMethod

from ..errors import SchemeNotApplicable
from .exact import PassThrough
from .symplectic_euler import SymplecticEuler

__all__ = ["Scheme", "SCHEMES", "brian_method", "scheme_names"]


@dataclass(frozen=True)
class Scheme:
    """One integration scheme.

    Attributes
    ----------
    name : str
        The name used in TOML files, the CLI and logs.
    brian_name : str
        The Brian2 ``method=`` it is registered under.
    order : int
        Order of convergence of the local error for smooth problems.
    split_at_reset : bool
        Whether part of the update runs after the reset (``symplectic_euler``).
    propagator : bool
        Whether the update uses per-neuron propagators computed by bioadapt
        (``exact``); ``order`` 0 means exact for inputs constant over a step.
    """

    name: str
    brian_name: str
    order: int
    split_at_reset: bool = False
    propagator: bool = False


def _register(name: str, method) -> str:
    key = f"bioadapt_{name}"
    if key not in StateUpdateMethod.stateupdaters:
        StateUpdateMethod.register(key, method)
    return key


#: Every scheme by name: Brian2's ``method=`` names and bioadapt's own.
SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("euler", "euler", 1),
        Scheme("exponential_euler", "exponential_euler", 1),
        Scheme("rk2", "rk2", 2),
        # Brian2's heun is a stochastic Heun: its deterministic part is Euler's
        Scheme("heun", "heun", 1),
        Scheme("rk4", "rk4", 4),
        Scheme("exact", _register("exact", PassThrough()), 0, propagator=True),
        Scheme("symplectic_euler", _register("symplectic_euler", SymplecticEuler()), 1, split_at_reset=True),
    )
}


def scheme_names() -> list[str]:
    return sorted(SCHEMES)


def brian_method(name: str) -> Scheme:
    """The `Scheme` of a name, or `SchemeNotApplicable` listing the valid ones."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise SchemeNotApplicable(f"Unknown scheme '{name}'; use one of {', '.join(scheme_names())}.") from None
