"""A small TOML writer for the model and network files bioadapt writes.

Python reads TOML (``tomllib``) but does not write it. The files written here
hold strings (Brian2 code), numbers, booleans, tables and arrays of tables;
`dumps` writes exactly those, and ``tomllib.loads(dumps(doc)) == doc`` for
them (floats are written with ``repr``, so they read back bit for bit).
"""

from __future__ import annotations

import json
import math
import re

from ..models.spec import ModelSpec

__all__ = ["dumps", "model_document"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _string(text: str) -> str:
    # Multi-line code reads best as a literal string (no escapes); TOML trims
    # the newline right after the opening quotes, so one is added.
    if "\n" in text and "'''" not in text and not any(ord(c) < 32 and c not in "\n\t" for c in text) and not text.endswith("'"):
        return "'''\n" + text + "'''"
    return json.dumps(text)  # a valid TOML basic string (JSON's escapes are TOML's)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(doc: dict, prefix: str, lines: list):
    scalars = {k: v for k, v in doc.items() if not isinstance(v, dict) and not _is_table_array(v)}
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in doc.items():
        name = f"{prefix}{_key(key)}"
        if isinstance(value, dict):
            if not value or any(not isinstance(v, dict) and not _is_table_array(v) for v in value.values()):
                lines.append("")
                lines.append(f"[{name}]")  # a table holding only tables needs no header
            _emit(value, name + ".", lines)
        elif _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{name}]]")
                _emit(item, name + ".", lines)


def dumps(doc: dict, header: str = "") -> str:
    """TOML text of ``doc`` (tables as sections, lists of tables as arrays of tables)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    _emit(doc, "", lines)
    return "\n".join(lines).strip("\n") + "\n"


def model_document(model: ModelSpec) -> dict:
    """The table of a model file that `bioadapt.load_model` reads back as ``model``."""
    doc = {}
    if model.description:
        doc["description"] = model.description
    doc["equations"] = model.equations
    for key in ("threshold", "reset", "refractory", "default_scheme"):
        if getattr(model, key) is not None:
            doc[key] = getattr(model, key)
    if model.defaults:
        doc["defaults"] = dict(model.defaults)
    if model.every_step:
        doc["every_step"] = dict(model.every_step)
    if model.programs:
        doc["programs"] = {name: dict(blocks) for name, blocks in model.programs.items()}
    return doc
