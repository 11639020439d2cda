"""The checks every loader makes of what a user wrote: one message format.

Model files (`bioadapt.models.load`), network files (`bioadapt.network.load`),
training and sweep files (`bioadapt.train.config`, `bioadapt.sweep.config`)
check their tables with these functions, so the same mistake reads the same
everywhere: where (file, table, key), what must hold, what was given:

>>> from bioadapt.validate import check_keys, check_number
>>> check_number(0, "train.toml: [train] key 'epochs'", minimum=1, integer=True)
Traceback (most recent call last):
...
bioadapt.errors.ConfigError: train.toml: [train] key 'epochs' must be an integer >= 1, got 0.
>>> check_keys({"sed": 3}, {"seed", "dt"}, "net.toml")
Traceback (most recent call last):
...
bioadapt.errors.ConfigError: net.toml: unknown key(s) ['sed']; allowed keys are ['dt', 'seed'].

Choices from a list of names are `bioadapt.registry.Registry.check`.
"""

from __future__ import annotations

import math

from .errors import ConfigError, ParameterError

__all__ = ["check_keys", "check_number", "check_quantity", "required"]


def check_keys(data, allowed, where: str, error: type = ConfigError) -> dict:
    """``data`` if it is a table whose keys are all ``allowed``, else one ``error``."""
    if not isinstance(data, dict):
        raise error(f"{where}: expected a table.")
    unknown = set(data) - set(allowed)
    if unknown:
        raise error(f"{where}: unknown key(s) {sorted(unknown)}; allowed keys are {sorted(allowed)}.")
    return data


def required(data: dict, key: str, where: str, error: type = ConfigError):
    """``data[key]``, or one ``error`` saying the key is missing."""
    if key not in data:
        raise error(f"{where}: missing required key '{key}'.")
    return data[key]


def check_number(value, where: str, minimum=None, integer: bool = False, error: type = ConfigError):
    """``value`` if it is a finite number (an integer with ``integer``), at
    least ``minimum``; else one ``error``: ``{where} must be ..., got ...``."""
    kind = "an integer" if integer else "a finite number"
    bound = f" >= {minimum}" if minimum is not None else ""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int))
            or not math.isfinite(value) or (minimum is not None and value < minimum)):
        raise error(f"{where} must be {kind}{bound}, got {value!r}.")
    return value


def check_quantity(value, where: str, dim, described: str | None = None, error: type = ConfigError) -> float:
    """``value`` (a number or a Brian2 quantity string such as ``'0.1*ms'``) in
    SI units, if its dimensions are ``dim`` (a Brian2 unit or dimension; None:
    dimensionless); else one ``error`` naming what it must be (``described``,
    e.g. ``"time (e.g. '0.1*ms')"``)."""
    from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

    from .quantities import parse_quantity

    try:
        q = parse_quantity(value, where)
    except ParameterError as exc:
        raise error(str(exc)) from None
    wanted = DIMENSIONLESS if dim is None else get_dimensions(dim)
    if get_dimensions(q) != wanted:
        raise error(f"{where} must be a {described or f'quantity in {wanted}'}, got {value!r}.")
    return float(q)
