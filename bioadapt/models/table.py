"""Parameter tables generated from a model file (name, default, unit, kind)."""

from __future__ import annotations

from brian2.units import fundamentalunits as fu

from .spec import ModelSpec

__all__ = ["parameter_table"]


def parameter_table(model: ModelSpec) -> str:
    """A plain-text table of every variable of ``model`` with its default and unit."""
    eqs = model.brian_equations
    rows = [("name", "kind", "unit", "default")]
    for eq in eqs.ordered:
        name = eq.varname
        kind = {"differential equation": "state (ODE)", "subexpression": "subexpression", "parameter": "parameter"}.get(eq.type, eq.type)
        unit = fu.get_unit(eq.dim)
        unit_text = "1" if unit == fu.Unit(1) else str(unit)
        default = model.defaults.get(name, "0" if eq.type != "subexpression" else "-")
        rows.append((name, kind, unit_text, str(default)))
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
