"""The parameter file of a trained network (``params.json``): written atomically
with units (`save_params`), read back (`load_params`) and applied to a
`NetworkSpec` (`apply_params`). Training writes it (`bioadapt.train`); the
Brian2 backends, the analyses and the plots read it."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..quantities import unit_text
from .spec import NetworkSpec

__all__ = ["atomic_write", "save_params", "load_params", "apply_params", "PARAMS_FORMAT"]

#: the ``format`` entry of a parameter file
PARAMS_FORMAT = "bioadapt-params/1"


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write a file so that it is either complete or absent: temporary file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_params(path: str | Path, spec: NetworkSpec, values: dict, meta: dict | None = None) -> Path:
    """Write the network's values (``owner -> {var: array}``, SI) with units, and every projection's delays in steps."""
    path = Path(path)
    groups = {}
    for owner, table in values.items():
        entry = {}
        for var, value in table.items():
            if owner in spec.populations:
                unit = unit_text(spec.populations[owner].model.brian_equations.dimensions.get(var))
            else:
                unit = _projection_unit(next(p for p in spec.projections if p.name == owner), var)
            entry[var] = {"unit": unit, "value": np.asarray(value, dtype=np.float64).tolist()}
        groups[owner] = entry
    for proj in spec.projections:
        if proj.on_pre is not None and not proj.several_pathways:  # several pathways: delays fixed by the network file
            groups.setdefault(proj.name, {})["delay_steps"] = {"unit": "steps", "value": np.asarray(proj.delay_steps, dtype=np.int64).tolist()}
    doc = {"format": PARAMS_FORMAT, "network": spec.source, "dt": {"unit": "second", "value": spec.dt}, "groups": groups, "meta": meta or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(doc, indent=1))
    return path


def _projection_unit(proj, var: str) -> str:
    """The unit of a projection's value ``var``: its weights', or its synapse model's."""
    if var == "weight" or proj.equations is None or var not in proj.equations.names:
        return proj.weight_unit
    return unit_text(proj.equations.dimensions[var])


def load_params(path: str | Path) -> dict:
    """Read a parameter file: ``{"dt": float, "groups": owner -> {var: (unit, array)}}``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Parameter file '{path}' does not exist.")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not a bioadapt parameter file (invalid JSON: {exc}).") from None
    if not isinstance(doc, dict) or doc.get("format") != PARAMS_FORMAT:
        raise ConfigError(f"{path}: not a bioadapt parameter file (format {PARAMS_FORMAT} expected).")
    if not isinstance(doc.get("groups"), dict) or not isinstance(doc.get("dt"), dict):
        raise ConfigError(f"{path}: a parameter file needs the tables 'dt' and 'groups'.")
    groups = {}
    for owner, table in doc["groups"].items():
        groups[owner] = {}
        for var, entry in (table.items() if isinstance(table, dict) else ()):
            groups[owner][var] = _entry(entry, f"{path}: '{owner}.{var}'")
    dt = _entry(doc["dt"], f"{path}: 'dt'")[1]
    if dt.shape != () or not dt > 0:
        raise ConfigError(f"{path}: 'dt' must be one positive number of seconds.")
    return {"dt": float(dt), "groups": groups, "meta": doc.get("meta", {}), "source": str(path)}


def _entry(entry, where: str) -> tuple:
    """``(unit, array)`` of a ``{"unit": ..., "value": ...}`` entry: numbers, no NaN; whole numbers for steps."""
    if not isinstance(entry, dict) or not isinstance(entry.get("unit"), str) or "value" not in entry:
        raise ConfigError(f"{where}: expected {{\"unit\": ..., \"value\": ...}}.")
    try:
        value = np.asarray(entry["value"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: the values must be numbers.") from None
    if np.any(np.isnan(value)):
        raise ConfigError(f"{where}: contains NaN.")
    if entry["unit"] == "steps":
        if not np.all(value == np.round(value)):
            raise ConfigError(f"{where}: delays must be whole steps.")
        return entry["unit"], value.astype(np.int64)
    return entry["unit"], value


def apply_params(spec: NetworkSpec, params: dict) -> NetworkSpec:
    """A copy of ``spec`` with the values, weights and delays of a parameter file.

    Every entry must match a variable of the network with the same unit and size.
    """
    source = params.get("source", "parameters")
    if abs(params["dt"] - spec.dt) > 1e-12 * spec.dt:
        raise ConfigError(f"{source}: trained with dt = {params['dt']} s, the network has dt = {spec.dt} s; load the parameters into the network at the dt they were trained at, then move it to another dt with bioadapt.at_dt.")
    populations = dict(spec.populations)
    projections = {p.name: p for p in spec.projections}
    for owner, table in params["groups"].items():
        if owner in populations and not populations[owner].is_input:
            pop = populations[owner]
            values = dict(pop.values)
            eqs = pop.model.brian_equations
            for var, (unit, value) in table.items():
                if var not in eqs.names or var in eqs.subexpr_names:
                    raise ConfigError(f"{source}: '{owner}.{var}' is not a variable of the network's population '{owner}' (model {pop.model.name}).")
                expected = unit_text(eqs.dimensions.get(var))
                if unit != expected:
                    raise ConfigError(f"{source}: '{owner}.{var}' is in {unit}, the network's variable in {expected}.")
                shape = np.shape(values[var]) if var in values else ((1,) if "shared" in eqs[var].flags else (pop.size,))
                if value.shape != shape:
                    raise ConfigError(f"{source}: '{owner}.{var}' has {value.size} values, the network {int(np.prod(shape))}.")
                values[var] = value.copy()
            populations[owner] = dataclasses.replace(pop, values=values)
        elif owner in projections:
            proj = projections[owner]
            changes = {}
            model = proj.equations
            model_values = dict(proj.values)
            for var, (unit, value) in table.items():
                in_model = var != "weight" and var in proj.settable
                if var not in ("weight", "delay_steps") and not in_model:
                    raise ConfigError(f"{source}: '{owner}.{var}': a projection carries 'weight', 'delay_steps' and the variables of its synapse model only.")
                shape = (1,) if in_model and "shared" in model[var].flags else (proj.size,)
                if value.shape != shape:
                    raise ConfigError(f"{source}: '{owner}.{var}' has {value.size} values, the projection {int(np.prod(shape))}.")
                if var != "delay_steps" and unit != _projection_unit(proj, var):
                    raise ConfigError(f"{source}: '{owner}.{var}' is in {unit}, the network's in {_projection_unit(proj, var)}.")
                if var == "delay_steps" and proj.several_pathways:
                    raise ConfigError(f"{source}: '{owner}.delay_steps': projection '{owner}' has several on_pre pathways, whose delays the network file fixes.")
                if var == "delay_steps" and (value.min(initial=0) < 0):
                    raise ConfigError(f"{source}: '{owner}.delay_steps' must be non-negative whole steps.")
                if in_model:
                    model_values[var] = changes["values"] = value.copy()
                else:
                    changes[var] = value.copy()
            if "values" in changes:
                changes["values"] = model_values
            projections[owner] = dataclasses.replace(proj, **changes)
        else:
            raise ConfigError(f"{source}: '{owner}' is not a population or projection of {spec.source}.")
    return dataclasses.replace(spec, populations=populations, projections=tuple(projections[p.name] for p in spec.projections))
