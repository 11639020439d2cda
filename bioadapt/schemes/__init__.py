"""Integration schemes: name -> how a model's ODEs become per-step code.

Scheme names are Brian2 ``method=`` strings where Brian2 has them
(``euler``, ``exponential_euler``, ``rk2``, ``rk4``, ``heun``); bioadapt adds
``symplectic_euler`` and its own ``exact`` (numerical propagators, in place of
Brian2's symbolic one, which returns NaN for resonant neurons). Every scheme ends up as
Brian2 abstract code, so both backends (Brian2 and the twin) run it.
"""

from .registry import SCHEMES, Scheme, brian_method, scheme_names

__all__ = ["SCHEMES", "Scheme", "brian_method", "scheme_names"]
