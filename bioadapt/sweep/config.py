"""Sweep files (TOML): a base training configuration and the values that change from point to point.

```toml
base = "../training/oscillator.toml"   # training configuration, relative to this file
steps = ["train", "test"]              # per point: train, then any of test | evaluate | robustness
replicates = ["seed"]                  # keys whose values are repeats (mean and spread over them)
metric = "test_nmse"                   # the figure's column (default: the first test metric)

[grid]                                 # every combination of these values
seed = [0, 1, 2, 3, 4]
"train.lr" = [0.01, 0.003]

[[list]]                               # or/and explicit points (each combined with the grid)
"network.seed" = 1
"task.samples" = 512

[variants.SE]                          # named variants (each combined with grid and list)
"network.populations.hid.scheme" = "symplectic_euler"
[variants.LIF]
"network.populations.hid.values.a" = 0
unset = ["train.params.hid.a"]         # keys removed from the point's files
[variants.delays]
base = "delays/train.toml"             # a variant may start from a training file of its own

[evaluate]                             # step "evaluate": Brian2 against the twin
backend = "cpp_standalone"
split = "test"
samples = 8                            # the first N samples of the split (default: all)

[robustness]                           # step "robustness" (`bioadapt.train.robustness`)
targets = { recurrent = ["weight"] }
relative = [0.0, 0.1]
input_flip = [0.0, 0.05]
```

A key is a dotted path into the training file (``seed``, ``train.lr``,
``task.samples``, ``train.params.hid.a``) or, after ``network.``, into its
network file (``network.dt``, ``network.populations.hid.values.tau_u``,
``network.projections.recurrent.weight``: projections by name). A table value
replaces the whole entry. Each point's files are written to its run folder
and loaded there, so every value is checked as in any training file.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._files import read_toml
from ..errors import ConfigError
from ..validate import check_keys

__all__ = ["SweepConfig", "Point", "load_sweep", "STEPS"]

STEPS = ("train", "test", "evaluate", "robustness")
_TOP = {"base", "steps", "replicates", "metric", "grid", "list", "variants", "evaluate", "robustness"}
_EVALUATE = {"backend", "split", "samples"}
_ROBUSTNESS = {"targets", "relative", "input_flip", "split", "samples", "seeds"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its folder name, the values that define it, and what to write."""

    name: str
    variant: str | None
    values: dict  # key -> value, the swept ones (for the tables)
    settings: dict  # key -> value written into the point's files
    unset: tuple = ()
    base: Path | None = None  # the variant's own training file (default: the sweep's base)


@dataclass(frozen=True)
class SweepConfig:
    source: str
    base: Path | None  # None when every variant has a base of its own
    points: tuple
    steps: tuple = ("train", "test")
    replicates: tuple = ("seed",)
    metric: str | None = None
    evaluate: dict = field(default_factory=dict)
    robustness: dict = field(default_factory=dict)


def _check_key(key, where: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ConfigError(f"{where}: key {key!r} must be a dotted path such as 'train.lr' or 'network.populations.hid.values.tau_u'.")
    if key == "network":
        raise ConfigError(f"{where}: key 'network' would replace the network file; sweep its values with 'network.KEY' or use another base.")
    return key


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _label(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


def _names(points: list, swept: list) -> list:
    """Folder names from the variant and the swept values (unique: a number is added to repeats)."""
    shorts = [_short(k) for k in swept]
    labels = {k: _short(k) if shorts.count(_short(k)) == 1 else k for k in swept}
    names = ["_".join(([_label(variant)] if variant else []) + [f"{labels[k]}={_label(values[k])}" for k in swept if k in values]) or "point" for variant, values in points]
    seen = {}
    for k, name in enumerate(names):
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            names[k] = f"{name}_{seen[name]}"
    return names


def load_sweep(path: str | Path) -> SweepConfig:
    """Read a sweep file; every error names the file and the key."""
    path = Path(path)
    data = read_toml(path, "Sweep file")
    where = str(path)
    check_keys(data, _TOP, where)
    variants = data.get("variants", {})
    own_bases = isinstance(variants, dict) and bool(variants) and all(isinstance(v, dict) and "base" in v for v in variants.values())
    if "base" in data or not own_bases:
        if not isinstance(data.get("base"), str):
            raise ConfigError(f"{where}: key 'base' (the training configuration the points start from, relative to this file) is required "
                              "unless every [variants.NAME] names its own.")
        base = (path.parent / data["base"]).resolve()
        if not base.is_file():
            raise ConfigError(f"{where}: key 'base': file '{data['base']}' not found (looked in {path.parent}).")
    else:
        base = None
    steps = data.get("steps", ["train", "test"])
    if not isinstance(steps, list) or not steps or steps[0] != "train" or any(s not in STEPS for s in steps) or len(set(steps)) != len(steps):
        raise ConfigError(f"{where}: key 'steps' must be a list starting with \"train\", then any of {', '.join(STEPS[1:])}; got {steps!r}.")
    replicates = data.get("replicates", ["seed"])
    if not isinstance(replicates, list) or not all(isinstance(k, str) for k in replicates):
        raise ConfigError(f"{where}: key 'replicates' must be a list of keys, got {replicates!r}.")
    if "metric" in data and not isinstance(data["metric"], str):
        raise ConfigError(f"{where}: key 'metric' must be a column name such as 'test_accuracy'.")

    grid = data.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: [grid] must be a table of key = [values].")
    for key, values in grid.items():
        _check_key(key, f"{where}: [grid]")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: [grid] key '{key}' must be a non-empty list of values, got {values!r}.")
    listed = data.get("list", [{}])
    if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed) or not listed:
        raise ConfigError(f"{where}: key 'list' must be an array of tables ([[list]] blocks of key = value).")
    for k, entry in enumerate(listed):
        for key in entry:
            _check_key(key, f"{where}: [[list]] {k + 1}")
            if key in grid:
                raise ConfigError(f"{where}: [[list]] {k + 1} key '{key}' is also in [grid]; give it in one of them.")
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise ConfigError(f"{where}: [variants] must hold tables ([variants.NAME] with key = value lines).")
    parsed_variants = []
    for name, table in variants.items():
        table = dict(table)
        unset = table.pop("unset", [])
        if not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
            raise ConfigError(f"{where}: [variants.{name}] key 'unset' must be a list of keys.")
        own = table.pop("base", None)
        if own is not None:
            if not isinstance(own, str):
                raise ConfigError(f"{where}: [variants.{name}] key 'base' must be the path of a training file, relative to this file.")
            own = (path.parent / own).resolve()
            if not own.is_file():
                raise ConfigError(f"{where}: [variants.{name}] key 'base': file '{variants[name]['base']}' not found (looked in {path.parent}).")
        for key in list(table) + unset:
            _check_key(key, f"{where}: [variants.{name}]")
            if key in grid:
                raise ConfigError(f"{where}: [variants.{name}] key '{key}' is also in [grid]; a grid value would override it.")
        parsed_variants.append((name, table, tuple(unset), own))
    if not parsed_variants:
        parsed_variants = [(None, {}, (), None)]

    combos = []
    for (vname, vtable, unset, own), entry, values in itertools.product(parsed_variants, listed, itertools.product(*grid.values())):
        swept = {**entry, **dict(zip(grid, values))}
        combos.append((vname, swept, {**vtable, **swept}, unset, own))
    swept_keys = [k for k in dict.fromkeys([k for c in combos for k in c[1]]) if len({repr(c[1].get(k)) for c in combos}) > 1]
    names = _names([(c[0], c[1]) for c in combos], swept_keys)
    points = tuple(Point(name, vname, values, settings, unset, own) for name, (vname, values, settings, unset, own) in zip(names, combos))

    evaluate = data.get("evaluate", {})
    check_keys(evaluate, _EVALUATE, f"{where}: [evaluate]")
    from ..backends.registry import BACKENDS

    BACKENDS.where(evaluates=True).check(evaluate.get("backend", "cpp_standalone"), f"{where}: [evaluate] key 'backend'", ConfigError)
    robust = data.get("robustness", {})
    check_keys(robust, _ROBUSTNESS, f"{where}: [robustness]")
    if "robustness" in steps and not isinstance(robust.get("targets"), dict):
        raise ConfigError(f"{where}: [robustness] key 'targets' (a table owner = [variables], e.g. {{ recurrent = [\"weight\"] }}) is required by the step \"robustness\".")
    for key in ("split",):
        for table, name in ((evaluate, "evaluate"), (robust, "robustness")):
            if key in table and table[key] not in ("train", "valid", "test"):
                raise ConfigError(f"{where}: [{name}] key 'split' must be train, valid or test, got {table[key]!r}.")
    for table, name in ((evaluate, "evaluate"), (robust, "robustness")):
        if "samples" in table and (isinstance(table["samples"], bool) or not isinstance(table["samples"], int) or table["samples"] < 1):
            raise ConfigError(f"{where}: [{name}] key 'samples' must be a positive integer, got {table['samples']!r}.")
    return SweepConfig(source=where, base=base, points=points, steps=tuple(steps), replicates=tuple(replicates), metric=data.get("metric"), evaluate=dict(evaluate), robustness=dict(robust))
