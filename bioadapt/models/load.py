"""Read a model file (TOML) into a `ModelSpec`; every error names file and key.

Keys of a model file
--------------------
``equations`` (required)
    Brian2 equation string with units and flags.
``threshold``, ``reset``, ``refractory`` (optional)
    Brian2 strings, as for ``NeuronGroup``.
``description`` (optional)
    Free text.
``default_scheme`` (optional)
    Scheme used when a network does not choose one for this model.
``[defaults]``
    Default values of parameters and initial states: numbers or quantity
    strings (``"20*ms"``).
``[programs.SCHEME]``
    Explicit discrete-time program for a model defined in discrete time: one
    key per Brian2 schedule slot (``groups``, ``after_resets`` ...), each a
    block of Brian2 abstract code run on every neuron at that slot.
``[every_step]``
    Blocks of abstract code by slot that run every step under any scheme,
    after the scheme's own code in that slot (e.g. ``after_groups = "I = 0"``
    to clear a one-step input).
``[retime]`` (optional)
    How the model changes with the time step (`bioadapt.at_dt`): ``impulse =
    ["I", ...]`` names its one-step input variables (what spikes write into
    them is a charge, scaled by dt0/dt at another dt), or ``per_step =
    "reason"`` says that it is a map per step (at_dt refuses it with the
    reason). Without it the impulse variables are those ``[every_step]``
    clears, and a program is refused.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from brian2 import Equations
from brian2.utils.stringtools import get_identifiers

from .._files import read_toml
from ..errors import ModelError, ParameterError
from ..validate import check_keys
from ..quantities import parse_quantity
from ..schemes import SCHEMES
from ..schemes.exact import DERIVED_PREFIX
from .spec import SLOTS, ModelSpec

__all__ = ["load_model", "model_from_dict", "shipped_models", "model_path"]

_KEYS = {"equations", "threshold", "reset", "refractory", "defaults", "programs", "default_scheme", "description", "every_step", "retime"}


def shipped_models() -> list[str]:
    """Names of the model files shipped in ``equations/``."""
    folder = resources.files("bioadapt.equations")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def model_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """Resolve a shipped model name or a path (relative to ``relative_to``)."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.is_file():
            raise ModelError(f"Model file '{path}' does not exist.")
        return path
    candidate = resources.files("bioadapt.equations") / f"{text}.toml"
    if not candidate.is_file():
        raise ModelError(f"Unknown model '{text}'. Shipped models: {', '.join(shipped_models())}; or give a path to a .toml file.")
    return Path(str(candidate))


def _string(data: dict, key: str, path: Path, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ModelError(f"{path}: missing required key '{key}' (a Brian2 equation string).")
        return None
    if not isinstance(value, str):
        raise ModelError(f"{path}: key '{key}' must be a string, got {type(value).__name__}.")
    return value


def _check_blocks(blocks, table: str, path: Path):
    """A table of ``slot = abstract code`` with Brian2 schedule slots as keys."""
    if not isinstance(blocks, dict):
        raise ModelError(f"{path}: {table} must be a table of slot = code.")
    for slot, code in blocks.items():
        if slot not in SLOTS:
            raise ModelError(f"{path}: {table} key '{slot}' is not a Brian2 schedule slot; use one of {', '.join(SLOTS)}.")
        if not isinstance(code, str):
            raise ModelError(f"{path}: {table} key '{slot}' must be a string of Brian2 abstract code.")


_PLAIN_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)(.*)$")


def check_dead_assignments(code: str, known, where: str, error=ModelError, also=()):
    """Refuse a plain assignment to a name that is neither ``known`` (a
    variable) nor read by a later statement of the block: Brian2 takes it as
    a temporary and the statement silently does nothing (a misspelt name).
    ``also``: further names that may be assigned (Brian2's own variables),
    left out of the message."""
    statements = [line.split("#", 1)[0].strip() for line in code.splitlines()]
    statements = [line for line in statements if line]
    for k, line in enumerate(statements):
        match = _PLAIN_ASSIGNMENT.match(line)
        if match is None or match.group(1) in known or match.group(1) in also:
            continue
        name = match.group(1)
        if not any(name in get_identifiers(later) for later in statements[k + 1 :]):
            raise error(
                f"{where}: '{line}' assigns '{name}', which is not a variable ({', '.join(sorted(known))}) "
                f"and which no later statement reads: it would have no effect. A misspelt name?"
            )


def _retime(data: dict, eqs: Equations, path: Path) -> dict:
    """The ``[retime]`` table: ``impulse`` (variables of the equations that are
    neither differential nor subexpressions) or ``per_step`` (a reason)."""
    table = data.get("retime", {})
    if not isinstance(table, dict):
        raise ModelError(f"{path}: [retime] must be a table with the key 'impulse' (a list of variables) or 'per_step' (a reason).")
    unknown = set(table) - {"impulse", "per_step"}
    if unknown:
        raise ModelError(f"{path}: [retime] has unknown key(s) {sorted(unknown)}; allowed keys are 'impulse' and 'per_step'.")
    if len(table) > 1:
        raise ModelError(f"{path}: [retime] takes either 'impulse' or 'per_step', not both.")
    if "per_step" in table:
        if not isinstance(table["per_step"], str) or not table["per_step"].strip():
            raise ModelError(f"{path}: [retime] key 'per_step' must be a string saying why the model is defined per step.")
        return {"per_step": table["per_step"].strip()}
    if "impulse" in table:
        names = table["impulse"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ModelError(f"{path}: [retime] key 'impulse' must be a list of variable names, got {names!r}.")
        allowed = [n for n in eqs.names if n not in eqs.diff_eq_names and n not in eqs.subexpr_names]
        for name in names:
            if name not in allowed:
                raise ModelError(f"{path}: [retime] key 'impulse': '{name}' is not a variable that holds one step of input; use one of {', '.join(sorted(allowed))} (variables without a differential equation).")
        return {"impulse": tuple(names)}
    return {}


def load_model(name_or_path: str | Path, relative_to: Path | None = None) -> ModelSpec:
    """Load and validate a model file.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped model name (``"adlif"``) or a path to a ``.toml`` file.
    relative_to : Path, optional
        Folder relative paths are resolved against (the network file's folder).

    Raises
    ------
    ModelError
        If the file is missing, is not valid TOML, has unknown keys, equations
        Brian2 rejects, or defaults/programs that refer to unknown variables.
    """
    path = model_path(name_or_path, relative_to)
    return model_from_dict(read_toml(path, "Model file", ModelError), path)


def model_from_dict(data: dict, path: Path, name: str | None = None) -> ModelSpec:
    """Validate the table of a model file (as `load_model` does) and build the `ModelSpec`.

    ``path`` names the model in every error (a file, or a description such as
    ``<NIR node 'lif1'>`` for a model that exists only in memory); ``name``
    defaults to the file's stem.
    """
    check_keys(data, _KEYS, str(path), ModelError)
    equations = _string(data, "equations", path, required=True)
    try:
        eqs = Equations(equations)
    except Exception as exc:  # Brian2 raises several types (SyntaxError, ValueError, KeyError...)
        raise ModelError(f"{path}: key 'equations': Brian2 cannot parse the equations: {exc}") from None
    names = set(eqs.names)
    reserved = sorted(n for n in names if n.startswith(DERIVED_PREFIX))
    if reserved:
        raise ModelError(f"{path}: key 'equations': {', '.join(reserved)}: names beginning with '{DERIVED_PREFIX}' are reserved for the constants bioadapt derives (the exact scheme's propagators, the charge of retimed inputs); rename them.")

    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ModelError(f"{path}: [defaults] must be a table of name = value.")
    for key, value in defaults.items():
        if key not in names:
            raise ModelError(f"{path}: [defaults] key '{key}' is not a variable of the equations ({', '.join(sorted(names))}).")
        try:
            parse_quantity(value, f"{path}: [defaults] key '{key}'")
        except ParameterError as exc:
            raise ModelError(str(exc)) from None

    programs = data.get("programs", {})
    if not isinstance(programs, dict) or not all(isinstance(v, dict) for v in programs.values()):
        raise ModelError(f"{path}: [programs.SCHEME] must be tables of slot = code.")
    for scheme, blocks in programs.items():
        _check_blocks(blocks, f"[programs.{scheme}]", path)
    every_step = data.get("every_step", {})
    _check_blocks(every_step, "[every_step]", path)

    reset = _string(data, "reset", path)
    for what, code in [("key 'reset'", reset or "")] + [(f"[every_step] key '{slot}'", c) for slot, c in every_step.items()] + [
        (f"[programs.{scheme}] key '{slot}'", c) for scheme, blocks in programs.items() for slot, c in blocks.items()
    ]:
        check_dead_assignments(code, names, f"{path}: {what}", also=("lastspike", "not_refractory"))

    default_scheme = _string(data, "default_scheme", path)
    if default_scheme is not None and default_scheme not in programs and default_scheme not in SCHEMES:
        raise ModelError(f"{path}: key 'default_scheme' = '{default_scheme}' is neither a program of the model nor a scheme ({', '.join(sorted(SCHEMES))}).")
    if programs and default_scheme is None and not eqs.diff_eq_names:
        raise ModelError(f"{path}: the model has no differential equations, so key 'default_scheme' must name one of its programs ({', '.join(programs)}).")
    if default_scheme is not None and not eqs.diff_eq_names and default_scheme not in programs:
        raise ModelError(f"{path}: key 'default_scheme' = '{default_scheme}' names no program of this model ({', '.join(programs)}).")
    return ModelSpec(
        name=name or path.stem,
        path=path,
        equations=equations,
        threshold=_string(data, "threshold", path),
        reset=reset,
        refractory=data.get("refractory") if not isinstance(data.get("refractory"), (int, float)) else str(data["refractory"]),
        defaults=dict(defaults),
        programs={k: dict(v) for k, v in programs.items()},
        default_scheme=default_scheme,
        description=_string(data, "description", path) or "",
        every_step=dict(every_step),
        retime=_retime(data, eqs, path),
    )
