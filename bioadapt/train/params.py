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

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import ConfigError
from ..network.spec import NetworkSpec
from ..network.params import PARAMS_FORMAT, apply_params, atomic_write, load_params, save_params  # noqa: F401  (the file format, re-exported)
from .config import ParamRule

__all__ = ["attach_rules", "clamp_", "anneal_delays", "rounded_delays", "trainable_values", "save_params", "load_params", "apply_params", "PARAMS_FORMAT"]



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
