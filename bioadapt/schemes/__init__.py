"""Integration schemes: name -> how a model's ODEs become per-step code.

Scheme names are Brian2 ``method=`` strings where Brian2 has them
(``euler``, ``exponential_euler``, ``rk2``, ``rk4``, ``heun``, ``linear``,
``independent``); bioadapt adds ``symplectic_euler``. Every scheme ends up as
Brian2 abstract code, so both backends (Brian2 and the twin) run it.
"""

from .registry import SCHEMES, Scheme, brian_method, scheme_names

__all__ = ["SCHEMES", "Scheme", "brian_method", "scheme_names"]
