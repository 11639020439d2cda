"""Trainable values of a twin and the file that carries them back to Brian2.

Training works on raw values through ``torch.nn.utils.parametrize``:
``twin.params["hid"]["tau_u"]`` stays the Brian2 value (seconds), computed
from a raw tensor (``twin.params["hid"].parametrizations.tau_u.original``)
that the optimizer updates and `clamp_` keeps in its bounds after every step.

The parameter file (`save_params` / `load_params`) is JSON: every value named
by its Brian2 group (population or projection) and variable, in SI with its
Brian2 unit, plus the delays of each projection in whole steps. Floats are
written with ``repr`` precision, so a float64 value reads back bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import ConfigError
from ..network.spec import NetworkSpec
from ..quantities import unit_text
from .config import ParamRule

__all__ = ["attach_rules", "clamp_", "anneal_delays", "rounded_delays", "trainable_values", "save_params", "load_params", "apply_params", "PARAMS_FORMAT"]

PARAMS_FORMAT = "bioadapt-params/1"


class _Interpolate(nn.Module):
    def __init__(self, low: float, high: float):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, r):
        return r * self.high + (1 - r) * self.low

    def right_inverse(self, value):
        return (value - self.low) / (self.high - self.low)


class _Scale(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, raw):
        return self.scale * raw

    def right_inverse(self, value):
        return value / self.scale


def _bounds(rule: ParamRule):
    if rule.kind == "interpolate":
        return 0.0, 1.0
    if rule.kind in ("scale", "clamp", "delay"):
        return rule.low, rule.high
    return None, None


def attach_rules(twin, rules) -> list:
    """Make the values named by ``rules`` trainable (and only those); returns the parameter groups.

    Values outside a rule's bounds at the start are an error naming the value
    (an initial distribution wider than the trained range). A ``delay`` rule
    gives the projection continuous delay positions (`Twin.learn_delays`).
    """
    from ..errors import BackendError

    named = {(r.owner, r.var): r for r in rules}
    for owner, table in twin.params.items():
        for var in list(table.keys()):
            if (owner, var) not in named:
                table[var].requires_grad_(False)
    groups = {}
    for rule in rules:
        if rule.kind == "delay":
            try:
                position = twin.learn_delays(rule.owner, rule.delay.max_steps, rule.delay.relaxation).position
            except BackendError as exc:
                raise ConfigError(f"[train.params.{rule.owner}] key 'delay': {exc}") from None
            groups.setdefault(rule.lr_scale, []).append(position)
            continue
        if rule.owner not in twin.params or rule.var not in twin.params[rule.owner]:
            raise ConfigError(f"[train.params.{rule.owner}] key '{rule.var}': the network's program does not read it (nothing to train).")
        table = twin.params[rule.owner]
        if rule.kind == "interpolate":
            parametrize.register_parametrization(table, rule.var, _Interpolate(rule.low, rule.high))
        elif rule.kind == "scale":
            parametrize.register_parametrization(table, rule.var, _Scale(rule.scale))
        raw = _raw(twin, rule)
        low, high = _bounds(rule)
        with torch.no_grad():
            if low is not None and (raw.min() < low - 1e-12 * max(1, abs(low)) or raw.max() > high + 1e-12 * max(1, abs(high))):
                value = twin.params[rule.owner][rule.var]
                raise ConfigError(f"[train.params.{rule.owner}] key '{rule.var}': initial values span [{float(value.min()):.6g}, {float(value.max()):.6g}] (SI), outside the rule's range; narrow the network's distribution or widen the rule.")
            if low is not None:
                raw.clamp_(low, high)
        raw.requires_grad_(True)
        groups.setdefault(rule.lr_scale, []).append(raw)
    return [{"params": params, "lr_scale": scale} for scale, params in groups.items()]


def _raw(twin, rule: ParamRule) -> nn.Parameter:
    if rule.kind == "delay":
        return twin.relaxed_delays[rule.owner].position
    table = twin.params[rule.owner]
    if parametrize.is_parametrized(table, rule.var):
        return getattr(table.parametrizations, rule.var).original
    return getattr(table, rule.var)


@torch.no_grad()
def clamp_(twin, rules) -> None:
    """Clamp every raw value into its bounds (after each optimizer step)."""
    for rule in rules:
        low, high = _bounds(rule)
        if low is not None:
            _raw(twin, rule).clamp_(low, high)


@torch.no_grad()
def anneal_delays(twin, rules, step: int, total: int) -> None:
    """Set the kernel width of every Gaussian delay relaxation for optimizer step ``step`` of ``total``."""
    for rule in rules:
        if rule.kind == "delay" and rule.delay.relaxation == "gaussian":
            twin.relaxed_delays[rule.owner].sigma.fill_(rule.delay.sigma_at(step, total))


def rounded_delays(spec: NetworkSpec, twin) -> NetworkSpec:
    """A copy of ``spec`` whose projections with learned delays have the rounded whole-step delays."""
    if not len(twin.relaxed_delays):
        return spec
    projections = tuple(dataclasses.replace(p, delay_steps=twin.relaxed_delays[p.name].rounded().cpu().numpy()) if p.name in twin.relaxed_delays else p for p in spec.projections)
    return dataclasses.replace(spec, projections=projections)


@torch.no_grad()
def trainable_values(twin) -> dict:
    """``owner -> {var: float64 numpy array}`` of every value the twin holds (Brian2 values)."""
    return {owner: {var: table[var].detach().to("cpu", torch.float64).numpy().copy() for var in table.keys()} for owner, table in twin.params.items()}



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
