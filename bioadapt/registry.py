"""Named choices: one `Registry` per kind (backends, tasks, losses, learning-rate
schedules, surrogate gradients).

A registry is the single list of a kind's names. Loaders check a value against
it (`Registry.check`: one message, naming where the value was given, what it
must be and what it was), errors and the command line's ``--help`` list its
names, and the code that acts on a choice looks its entry up there, so a name
added in one place is known everywhere.

>>> from bioadapt.backends.registry import BACKENDS
>>> BACKENDS.names
('numpy', 'cpp_standalone', 'cuda_standalone', 'torch')
>>> BACKENDS.where(long_run=True).names
('numpy', 'cpp_standalone', 'torch')
>>> BACKENDS.check("cpp", "simulate: backend")
Traceback (most recent call last):
...
bioadapt.errors.BackendError: simulate: backend must be one of numpy, cpp_standalone, cuda_standalone, torch, got 'cpp'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

__all__ = ["Registry"]


class Registry(Mapping):
    """An ordered, read-only mapping ``name -> entry`` of one kind of choice.

    Parameters
    ----------
    kind : str
        What the names are (``"backend"``, ``"task"``), for messages.
    entries : dict
        ``name -> entry`` in the order choices are listed.
    error : type
        The exception `check` raises (a `BioadaptError` subclass).
    """

    def __init__(self, kind: str, entries: dict, error: type = ConfigError):
        self.kind = kind
        self._entries = dict(entries)
        self.error = error

    def __getitem__(self, name: str) -> Any:
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"

    @property
    def names(self) -> tuple:
        """The names, in order (what ``choices=`` of an argument parser takes)."""
        return tuple(self._entries)

    def choices(self) -> str:
        """The names as a message lists them: ``a, b, c``."""
        return ", ".join(self._entries)

    def where(self, **flags) -> "Registry":
        """The entries whose attributes equal ``flags`` (``BACKENDS.where(long_run=True)``)."""
        return Registry(self.kind, {name: entry for name, entry in self._entries.items()
                                    if all(getattr(entry, key) == value for key, value in flags.items())}, self.error)

    def check(self, value, where: str, error: type | None = None) -> str:
        """``value`` if it is one of the names, else one error:
        ``{where} must be one of a, b, c, got 'x'.``"""
        if not isinstance(value, str) or value not in self._entries:
            raise (error or self.error)(f"{where} must be one of {self.choices()}, got {value!r}.")
        return value
