"""What a run records, checked once with one message format: `check_record`.

Every entry point that takes ``record=`` (`bioadapt.simulate`,
`bioadapt.long_run`, `bioadapt.backends.brian.build.build_network`,
`bioadapt.backends.torch.Twin`) calls it; each passes the names it can
record (a model's variables, a Brian2 group's, the twin program's).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .spec import NetworkSpec

__all__ = ["check_record", "recordable_owners"]


def recordable_owners(spec: NetworkSpec) -> list:
    """The neuron populations, then the projections, of ``spec``: what can be recorded."""
    return [p.name for p in spec.populations.values() if not p.is_input] + [p.name for p in spec.projections]


def check_record(spec: NetworkSpec, record, error: type = ConfigError, known: Callable | None = None) -> dict:
    """``record`` as ``owner -> [variables]`` (one name for a list of one), or one ``error``.

    ``record`` maps a neuron population or a projection to its variables.
    ``known(owner)`` gives the variables that can be recorded of ``owner``,
    ``(names, description)``; without it the names are not looked up.
    """
    if record is None:
        return {}
    if not isinstance(record, dict):
        raise error(f"record: expected a dict population or projection -> variables, got {type(record).__name__}.")
    owners = recordable_owners(spec)
    projections = {p.name for p in spec.projections}
    checked = {}
    for name, variables in record.items():
        if not isinstance(name, str) or name not in owners:
            raise error(f"record: {name!r} is not a neuron population or projection ({', '.join(owners)}).")
        variables = [variables] if isinstance(variables, str) else list(variables) if isinstance(variables, (list, tuple)) else [variables]
        what = f"{'projection' if name in projections else 'population'} {name!r}"
        if not all(isinstance(v, str) for v in variables):
            raise error(f"record: {what} needs variable names, got {variables!r}.")
        if known is not None:
            names, description = known(name)
            unknown = [v for v in variables if v not in names]
            if unknown:
                raise error(f"record: {', '.join(repr(v) for v in unknown)} {'is' if len(unknown) == 1 else 'are'} not {'a variable' if len(unknown) == 1 else 'variables'} of {what}{description}.")
        checked[name] = variables
    return checked
