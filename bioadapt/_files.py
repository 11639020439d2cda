"""Reading the user's TOML files with one error naming the file."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

from .errors import ConfigError


def read_toml(path: Path, what: str, error: type = ConfigError) -> dict:
    """The top-level table of a TOML file.

    A missing file or malformed TOML raises one ``error`` naming the file
    (``what`` says which kind of file, e.g. "Network file").
    """
    if path.is_dir():
        raise error(f"{what} '{path}' is a folder, not a file.")
    if not path.is_file():
        raise error(f"{what} '{path}' does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except (UnicodeDecodeError, PermissionError) as exc:
        raise error(f"{what} '{path}' cannot be read as UTF-8 text: {exc}") from None


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def dump_toml(data: dict, _path: tuple = ()) -> str:
    """TOML text of a table read by `read_toml` (strings, numbers, booleans, arrays, tables): ``read_toml`` gives ``data`` back."""
    def is_tables(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict) and not is_tables(v)]
    for k, v in data.items():
        path = _path + (k,)
        if isinstance(v, dict):
            lines += ["", "[" + ".".join(_toml_key(p) for p in path) + "]", dump_toml(v, path).strip("\n")]
        elif is_tables(v):
            for item in v:  # tables inside an array of tables are written inline
                lines += ["", "[[" + ".".join(_toml_key(p) for p in path) + "]]"] + [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in item.items()]
    return "\n".join(line for line in lines) + "\n"
