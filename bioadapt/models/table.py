"""Parameter tables generated from a model file (name, default, unit, kind)."""

from __future__ import annotations

from brian2.units import fundamentalunits as fu

from ..errors import ConfigError
from .spec import ModelSpec

__all__ = ["parameter_rows", "parameter_table"]


def parameter_rows(model: ModelSpec) -> list[tuple[str, str, str, str]]:
    """``(name, kind, unit, default)`` of every variable of ``model``, in the order of its equations."""
    rows = []
    for eq in model.brian_equations.ordered:
        name = eq.varname
        kind = {"differential equation": "state (ODE)", "subexpression": "subexpression", "parameter": "parameter"}.get(eq.type, eq.type)
        unit = fu.get_unit(eq.dim)
        unit_text = "1" if unit == fu.Unit(1) else str(unit)
        default = model.defaults.get(name, "0" if eq.type != "subexpression" else "-")
        rows.append((name, kind, unit_text, str(default)))
    return rows


def parameter_table(model: ModelSpec, format: str = "text") -> str:
    """A table of every variable of ``model`` with its kind, unit and default.

    Parameters
    ----------
    model : ModelSpec
    format : {"text", "markdown"}
        ``"text"``: aligned columns with the file, threshold, reset, refractory
        period and programs (``bioadapt models NAME``); ``"markdown"``: the
        table alone, as a markdown table.

    Examples
    --------
    >>> from bioadapt import load_model
    >>> print("\\n".join(parameter_table(load_model("lif"), format="markdown").splitlines()[:4]))
    | name | kind | unit | default |
    |---|---|---|---|
    | I | state (ODE) | 1 | 0 |
    | v | state (ODE) | 1 | 0 |
    >>> parameter_table(load_model("lif"), format="html")
    Traceback (most recent call last):
    ...
    bioadapt.errors.ConfigError: parameter_table: format 'html'; use "text" or "markdown".
    """
    if format not in ("text", "markdown"):
        raise ConfigError(f'parameter_table: format {format!r}; use "text" or "markdown".')
    rows = [("name", "kind", "unit", "default")] + parameter_rows(model)
    if format == "markdown":
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * len(rows[0]))
        return "\n".join(lines)
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = [f"{model.name} ({model.path})", ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if model.threshold:
        lines.append(f"\nthreshold: {model.threshold}")
    if model.reset:
        lines.append("reset: " + "; ".join(line.strip() for line in model.reset.strip().splitlines()))
    if model.refractory:
        lines.append(f"refractory: {model.refractory}")
    if model.programs:
        lines.append(f"discrete-time programs: {', '.join(sorted(model.programs))} (default {model.default_scheme})")
    return "\n".join(lines)
