"""Exception hierarchy of bioadapt.

Every error a user can trigger with a bad file or a bad argument derives from
`BioadaptError` and names where the problem is (file, key, line) and, where it
is known, how to fix it.
"""

from __future__ import annotations

__all__ = [
    "BioadaptError",
    "ModelError",
    "ConfigError",
    "ParameterError",
    "BackendError",
    "SchemeNotApplicable",
    "RoundingWarning",
]


class BioadaptError(Exception):
    """Base class of all errors raised for bad user input."""


class ModelError(BioadaptError):
    """A model file (``equations/*.toml``) is malformed or inconsistent."""


class ConfigError(BioadaptError):
    """A network configuration file is malformed or inconsistent."""


class ParameterError(BioadaptError):
    """A parameter value violates a constraint (sign, unit, range)."""


class BackendError(BioadaptError):
    """A backend cannot run the given network (missing tool, untranslatable code)."""


class SchemeNotApplicable(BioadaptError):
    """An integration scheme cannot be applied to a model; callers may fall back."""


class RoundingWarning(UserWarning):
    """A delay or an input spike time moved when a network was put on another time grid."""
