"""Reading the user's TOML files with one error naming the file."""

from __future__ import annotations

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
