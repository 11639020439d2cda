"""Read a network configuration (TOML) into a `NetworkSpec`.

Keys
----
``dt``, ``duration`` (quantities), ``seed`` (int), ``scheme`` (default
integration scheme of ODE models).

An ODE model's scheme is the population's ``scheme``, else the network's,
else the model's ``default_scheme``, else the method Brian2's ``NeuronGroup``
would choose (`schemes.default.default_scheme`: ``exact`` for linear
equations, ``euler`` otherwise, ``heun`` for multiplicative noise); a choice
made so is logged at info level (``bioadapt`` logger) and kept in
`PopulationSpec.scheme_origin`.

``[populations.NAME]``: ``kind = "poisson"`` with ``size`` and ``rate``,
``kind = "spikes"`` with ``size`` (input spikes given at run time, e.g. by a
task's samples), or
``model`` (shipped name or path relative to the config) with ``size``,
optional ``scheme`` and a ``[populations.NAME.values]`` table of overrides
(number, quantity or distribution).

``[[projections]]``: ``source``, ``target``, optional ``name``, either
``on_pre`` (Brian2 statements; the per-synapse weight is ``weight``) or
``summed`` (``"X_post = weight*s_pre"``, graded transmission), ``connect``
(``"all_to_all"``, ``"one_to_one"``, or a table with ``p`` or ``rule``,
``condition`` and ``autapses``, or ``file``: an ``.npz`` file with the
integer arrays ``i`` and ``j`` of every synapse, relative to the config),
``weight`` and ``delay`` (number, quantity
or distribution; delays are rounded to whole steps). ``on_pre`` may be a table
of pathways, as Brian2's ``on_pre={"up": ..., "down": ...}``; ``delay`` is
then one value for all or a table of them by pathway (0 for pathways not
named).

Synapses with state of their own, as Brian2's ``Synapses(model=...,
on_pre=..., on_post=...)``: ``model`` (Brian2 synapse equations: parameters,
``(event-driven)`` equations updated when a spike arrives, ``(clock-driven)``
ones integrated every step with ``method``, Brian2's default choice when not
given), ``on_post`` (code run when a postsynaptic neuron spikes, after the
``on_pre`` code of the same step, as in Brian2) and a ``values`` table with the
initial values of the model's variables (number, quantity, distribution,
list, or an expression of ``i``, ``j``, ``N_pre``, ``N_post``, ``rand()``, as
Brian2's ``S.w = "rand()*gmax"``); variables not given start at 0.

``connect = { condition = "..." }`` keeps the pairs for which a Brian2
expression is true, as ``Synapses.connect(condition=...)`` does: ``i`` is the
presynaptic and ``j`` the postsynaptic index, ``N_pre`` and ``N_post`` the
sizes, with Brian2's operators (``and``, ``or``, ``not``, ``//``, ``%``) and
deterministic functions (``abs``, ``sqrt``, ``floor``, ...). A 3x3
neighbourhood on a 16-wide grid, for example, is
``"abs(i % 16 - j % 16) <= 1 and abs(i // 16 - j // 16) <= 1 and i != j"``.
With ``p`` as well, each pair satisfying the condition is kept with
probability ``p``.

Every random draw comes from ``seed`` through numpy, one independent stream per
key, so adding a population does not change the draws of another.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import numpy as np
from brian2.units import fundamentalunits as fu
from brian2 import second, Hz
from brian2.equations.equations import DIFFERENTIAL_EQUATION, Equations
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.utils.stringtools import get_identifiers

from .._files import read_toml
from ..errors import ConfigError, ModelError, ParameterError, SchemeNotApplicable
from ..models.load import check_dead_assignments, load_model
from ..models.spec import ModelSpec
from .spec import NetworkSpec, PoissonInputSpec, PopulationSpec, ProjectionSpec, RunRegularlySpec, TimedArraySpec
from ..quantities import parse_quantity, sample_values, unit_text
from ..validate import check_keys, check_number, check_quantity, required
from ..schemes import SCHEMES
from ..schemes.default import BRIAN2_DEFAULT_METHODS, default_scheme

__all__ = ["load_network", "network_from_dict", "stream"]

logger = logging.getLogger("bioadapt")

_TOP = {"dt", "duration", "seed", "scheme", "populations", "projections", "timed_arrays", "poisson_inputs", "run_regularly"}
_RUN_REGULARLY = {"name", "target", "code", "dt", "when", "order"}
#: Brian2's schedule slots (``when=``)
_WHEN = tuple(f"{prefix}{slot}" for slot in ("start", "groups", "thresholds", "synapses", "resets", "end") for prefix in ("before_", "", "after_"))
_POISSON_INPUT = {"name", "target", "target_var", "N", "rate", "weight"}
_TIMED = {"values", "dt", "unit"}
_POP = {"kind", "model", "size", "scheme", "values", "rate", "linked"}
_PROJ = {"name", "source", "target", "on_pre", "on_post", "summed", "connect", "weight", "delay", "post_delay", "model", "method", "values"}
#: Names of synaptic variables bioadapt (or Brian2) defines itself: not for a projection's ``model``.
_SYNAPSE_RESERVED = {"weight", "delay", "delay_value", "lastupdate", "i", "j", "t", "dt", "N", "N_pre", "N_post", "N_incoming", "N_outgoing"}
_CONNECT = {"rule", "p", "autapses", "condition", "file"}
#: Brian2 functions that draw random numbers or read the clock: no meaning in a connection condition.
_NOT_IN_CONDITIONS = {"rand", "randn", "poisson", "timestep"}
#: Pairs evaluated per block of a condition (bounds the memory of large projections).
_CONDITION_BLOCK = 1 << 22
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def stream(seed: int, key: str) -> np.random.Generator:
    """Independent numpy generator for one named draw of a network."""
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


def load_network(path: str | Path) -> NetworkSpec:
    """Load a network configuration file and draw all its random values.

    Raises
    ------
    ConfigError
        For malformed TOML, unknown keys, populations or variables, bad
        connections, or negative delays; the message names file and key.
    ModelError
        For a model file that cannot be used.
    """
    path = Path(path)
    data = read_toml(path, "Network file")
    return network_from_dict(data, source=str(path), folder=path.parent)


_UNIT_NAMES = {id(second): "time (e.g. '0.1*ms')", id(Hz): "rate (e.g. '50*Hz')"}


def _quantity(data: dict, key: str, where: str, dim, default=None) -> float:
    if key not in data and default is not None:
        return default
    return check_quantity(required(data, key, where), f"{where}: key '{key}'", dim, _UNIT_NAMES.get(id(dim)))


def _int(data: dict, key: str, where: str, default=None, minimum=0) -> int:
    value = data.get(key, default)
    if value is None:
        required(data, key, where)
    return check_number(value, f"{where}: key '{key}'", minimum, integer=True)




def _population(name: str, data: dict, net: dict, where: str, folder: Path | None, dt: float, n_steps: int, seed: int, timed: dict | None = None) -> PopulationSpec:
    check_keys(data, _POP, where)
    if not _IDENT.match(name):
        raise ConfigError(f"{where}: population names must be identifiers (letters, digits, '_'), got '{name}'.")
    size = _int(data, "size", where, minimum=1)
    kind = data.get("kind", "neurons" if "model" in data else None)
    if kind == "poisson":
        if "model" in data or "values" in data:
            raise ConfigError(f"{where}: a poisson population takes only 'size' and 'rate'.")
        rate = _quantity(data, "rate", where, Hz)
        if rate < 0 or rate * dt > 1:
            raise ConfigError(f"{where}: key 'rate' must lie in [0, 1/dt], got {data['rate']!r}.")
        spikes = stream(seed, f"populations.{name}.spikes").random((n_steps, size)) < rate * dt
        steps, indices = np.nonzero(spikes)
        return PopulationSpec(name, size, "poisson", rate_hz=rate, input_steps=steps.astype(np.int64), input_indices=indices.astype(np.int64))
    if kind == "spikes":
        if set(data) - {"kind", "size"}:
            raise ConfigError(f"{where}: a spikes population takes only 'size' (its spikes are given at run time).")
        empty = np.zeros(0, dtype=np.int64)
        return PopulationSpec(name, size, "spikes", input_steps=empty, input_indices=empty.copy())
    if kind not in (None, "neurons"):
        raise ConfigError(f"{where}: key 'kind' must be 'poisson', 'spikes' or 'neurons', got {kind!r}.")
    if "model" not in data:
        raise ConfigError(f"{where}: missing key 'model' (a shipped model name or a path to a model file).")
    try:
        model = load_model(data["model"], relative_to=folder)
    except ModelError as exc:
        raise ModelError(f"{where}: key 'model': {exc}") from None
    origin = None
    if model.brian_equations.diff_eq_names:
        # population > network > model default > Brian2's choice
        origin, scheme = next(((o, v) for o, v in (("population", data.get("scheme")), ("network", net.get("scheme")), ("model", model.default_scheme)) if v), (None, None))
        if scheme is None:
            scheme, origin = _brian2_choice(model, where, timed, dt), "default"
    elif not model.programs:  # no dynamics of its own (e.g. a relay written from outside)
        if "scheme" in data:
            raise ConfigError(f"{where}: model '{model.name}' has neither differential equations nor programs; key 'scheme' does not apply.")
        return PopulationSpec(name, size, "neurons", model=model, scheme=None, values=_values(name, model, data.get("values", {}), size, where, seed))
    else:  # a discrete-time model: the network's ODE scheme does not apply
        origin, scheme = ("population", data["scheme"]) if data.get("scheme") else ("model", model.default_scheme)
    if not isinstance(scheme, str):
        raise ConfigError(f"{where}: key 'scheme' must be a string.")
    if scheme not in model.programs and not model.brian_equations.diff_eq_names:
        raise ConfigError(f"{where}: model '{model.name}' is defined in discrete time; its schemes are {sorted(model.programs)}, got '{scheme}'.")
    if scheme not in model.programs and scheme not in SCHEMES:
        raise ConfigError(f"{where}: scheme '{scheme}' is neither a program of model '{model.name}' ({', '.join(sorted(model.programs)) or 'none'}) nor a scheme ({', '.join(sorted(SCHEMES))}).")
    values = _values(name, model, data.get("values", {}), size, where, seed)
    linked, linked_index = _links(data, model, where, size)
    return PopulationSpec(name, size, "neurons", model=model, scheme=scheme, values=values, scheme_origin=origin, linked=linked, linked_index=linked_index)


def _links(data: dict, model: ModelSpec, where: str, size: int) -> tuple:
    """``linked = { I = "input.x" }``, or ``{ I = { source = "input.x", index = ... } }``
    (Brian2's ``linked_var(input, "x", index=...)``: a list or an expression of
    ``i`` and ``N``, one source neuron per neuron): ``(variable -> (population,
    variable), variable -> index array)``."""
    equations = model.brian_equations
    declared = sorted(n for n in equations.names if "linked" in equations[n].flags)
    links = data.get("linked", {})
    if not isinstance(links, dict):
        raise ConfigError(f"{where}: key 'linked' must be a table such as {{ I = \"input.x\" }} (Brian2's neurons.I = linked_var(input, 'x')).")
    out, indices = {}, {}
    for var, target in links.items():
        if var not in declared:
            raise ConfigError(f"{where}: linked.{var}: '{var}' is not a (linked) variable of model '{model.name}' ({', '.join(declared) or 'it has none'}).")
        if isinstance(target, dict):
            check_keys(target, {"source", "index"}, f"{where}: linked.{var}")
            if "index" in target:
                indices[var] = _link_index(target["index"], size, f"{where}: linked.{var}.index")
            target = target.get("source")
        if not isinstance(target, str) or not re.match(r"^[A-Za-z]\w*\.[A-Za-z_]\w*$", target):
            raise ConfigError(f"{where}: linked.{var} must be 'POPULATION.VARIABLE' (or a table with source = 'POPULATION.VARIABLE' and index), got {target!r}.")
        out[var] = tuple(target.split("."))
    missing = [n for n in declared if n not in links]
    if missing:
        raise ConfigError(f"{where}: model '{model.name}' declares {missing} (linked): give what each reads, e.g. linked = {{ {missing[0]} = \"POPULATION.VARIABLE\" }}.")
    return out, indices


def _link_index(given, size: int, where: str) -> np.ndarray:
    """A linked variable's index: a list of source neurons, or an expression of ``i`` and ``N`` (``"i // 50"``)."""
    try:
        value = sample_values(given, size, np.random.default_rng(0), where, {"i": np.arange(size), "N": size})
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    array = np.asarray(value, dtype=np.float64)
    if fu.get_dimensions(value) is not fu.DIMENSIONLESS or not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or "rand" in str(given):
        raise ConfigError(f"{where}: an index is one whole number per neuron (a list, or an expression of i and N such as 'i // 50'), got {given!r}.")
    return array.astype(np.int64)


def _check_links(pops: dict, where: str):
    """The linked variables' sources: a neuron population's variable of the same unit, of the same size or of one neuron."""
    for pop in pops.values():
        for var, (source, source_var) in pop.linked.items():
            here = f"{where}: [populations.{pop.name}] linked.{var} = '{source}.{source_var}'"
            other = pops.get(source)
            if other is None or other.is_input:
                raise ConfigError(f"{here}: '{source}' is not a neuron population ({', '.join(n for n, p in pops.items() if not p.is_input)}).")
            equations = other.model.brian_equations
            if source_var not in equations.names or "linked" in equations[source_var].flags:
                raise ConfigError(f"{here}: '{source_var}' is not a variable of population '{source}' (model {other.model.name}).")
            dim, own = equations[source_var].dim, pop.model.brian_equations[var].dim
            if dim is not own:
                raise ConfigError(f"{here}: '{source}.{source_var}' is in {unit_text(dim)}, '{var}' in {unit_text(own)}.")
            index = pop.linked_index.get(var)
            if index is not None:
                if "shared" in equations[source_var].flags:
                    raise ConfigError(f"{here}: '{source}.{source_var}' is shared (one value); it takes no index.")
                if index.min() < 0 or index.max() >= other.size:
                    raise ConfigError(f"{here}: index reaches {int(index.min())}..{int(index.max())}; '{source}' has neurons 0..{other.size - 1}.")
            elif other.size not in (1, pop.size) and "shared" not in equations[source_var].flags:
                raise ConfigError(f"{here}: '{source}' has {other.size} neurons and '{pop.name}' {pop.size}; a linked variable reads a population of the same size or of one neuron, or give each neuron's source neuron (linked.{var} = {{ source = \"{source}.{source_var}\", index = \"i // {max(pop.size // max(other.size, 1), 1)}\" }}).")


def _brian2_choice(model: ModelSpec, where: str, timed: dict | None = None, dt: float | None = None) -> str:
    """The scheme of a population that names none: Brian2's `NeuronGroup` choice, logged."""
    try:
        scheme, refused = default_scheme(model.brian_equations, bool(model.refractory), {name: t.dt for name, t in (timed or {}).items()}, dt)
    except SchemeNotApplicable as exc:
        raise ConfigError(f"{where}: no scheme given (population, network or model '{model.name}'), and {exc} Name a scheme ({', '.join(sorted(SCHEMES))}).") from None
    why = "; ".join(f"{method} refused: {reason}" for method, reason in refused.items())
    logger.info("%s: no scheme given; using '%s', the first of Brian2's default methods (%s) that accepts model '%s'%s", where, scheme, ", ".join(BRIAN2_DEFAULT_METHODS), model.name, f" ({why})" if why else " (linear equations)")
    return scheme


def _values(name: str, model: ModelSpec, overrides: dict, size: int, where: str, seed: int) -> dict:
    """The population's initial values and parameters, drawn once.

    A value is a number, a quantity, a distribution, or an expression as
    Brian2 users write initial values: of the neuron index ``i``, the size
    ``N``, ``rand()``/``randn()`` and the population's other variables
    (``"Vr + rand()*(Vt - Vr)"``) and subexpressions of them (``n = "n_inf"``),
    evaluated after the variables it names.
    """
    eqs = model.brian_equations
    settable = {n for n in eqs.names if n not in eqs.subexpr_names}
    subexpressions = {n: str(eqs[n].expr) for n in eqs.subexpr_names}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}.values: expected a table of name = value.")
    for key in overrides:
        if key not in settable:
            raise ConfigError(f"{where}.values: '{key}' is not a variable of model '{model.name}' ({', '.join(sorted(settable))}).")
    raws = {var: overrides.get(var, model.defaults.get(var)) for var in sorted(settable)}
    raws = {var: raw for var, raw in raws.items() if raw is not None}
    keys = {var: f"{where}.values: key '{var}'" if var in overrides else f"{model.path}: [defaults] key '{var}'" for var in raws}
    reads, through = {}, {}
    for var, raw in raws.items():  # the variables a value reads, directly or through subexpressions
        read, via = set(), []
        todo = sorted(_names_read(raw, (settable - {var}) | set(subexpressions)))
        while todo:
            found = todo.pop()
            if found in subexpressions:
                if found not in via:
                    via.append(found)
                    todo += sorted(_names_read(subexpressions[found], settable | set(subexpressions)))
            else:
                read.add(found)
        if var in read:
            raise ConfigError(f"{keys[var]}: '{raw}' reads '{var}' itself through {', '.join(via)}.")
        reads[var], through[var] = read, via[::-1]  # subexpressions after those they read
    values, quantities = {}, {}
    while len(values) < len(raws):
        ready = [var for var in raws if var not in values and reads[var] <= set(values)]
        if not ready:
            waiting = sorted(var for var in raws if var not in values)
            missing = {var: sorted(reads[var] - set(values)) for var in waiting}
            unset = sorted({n for names in missing.values() for n in names} - set(raws))
            if unset:
                var = next(v for v in waiting if set(missing[v]) & set(unset))
                raise ConfigError(f"{keys[var]}: '{raws[var]}' reads {', '.join(unset)}, which has no value (give it one in [populations.{name}.values] or the model's [defaults]).")
            cycle = "; ".join(f"{v} reads {', '.join(missing[v])}" for v in waiting)
            raise ConfigError(f"{where}.values: the values of {', '.join(waiting)} read each other ({cycle}).")
        for var in ready:
            shared = "shared" in eqs[var].flags  # one value for the whole population
            names = {"N": size, **{other: quantities[other] for other in reads[var]}}
            if not shared:
                names["i"] = np.arange(size)
            elif any(np.size(quantities[other]) > 1 for other in reads[var]):
                raise ConfigError(f"{keys[var]}: '{var}' is shared (one value per population) but '{raws[var]}' reads variables with a value per neuron.")
            try:
                for sub in through[var]:  # evaluated as Brian2 evaluates them: from the values set before
                    names[sub] = sample_values(subexpressions[sub], 1 if shared else size, stream(seed, f"populations.{name}.values.{var}.{sub}"), f"{keys[var]}: subexpression '{sub}' ({model.path})", names)
                arr = sample_values(raws[var], 1 if shared else size, stream(seed, f"populations.{name}.values.{var}"), keys[var], names)
            except ParameterError as exc:
                raise ConfigError(str(exc)) from None
            dim = eqs[var].dim
            if fu.get_dimensions(arr) is not dim:
                raise ConfigError(f"{keys[var]}: '{raws[var]}' is {_unit_phrase(fu.get_dimensions(arr))}, but '{var}' is {_unit_phrase(dim)}.")
            values[var] = np.asarray(arr, dtype=np.float64)
            quantities[var] = values[var] * fu.get_unit(dim) if dim is not fu.DIMENSIONLESS else values[var]
    return {var: values[var] for var in sorted(values)}


def _names_read(raw, variables: set) -> set:
    """The names among ``variables`` that the value string ``raw`` reads."""
    return set(get_identifiers(raw)) & variables if isinstance(raw, str) else set()


def _unit_phrase(dim) -> str:
    return "dimensionless" if dim is fu.DIMENSIONLESS else f"in {unit_text(dim)}"


def _condition_mask(condition, n_src: int, n_tgt: int, where: str) -> np.ndarray:
    """Boolean (n_src, n_tgt) mask of a Brian2 connection condition, evaluated with numpy.

    The expression is rendered by Brian2's own ``NumpyNodeRenderer`` (``and``
    becomes ``&``, ``not`` ``logical_not``) and evaluated with the numpy
    implementations of Brian2's default functions, on int32 indices as Brian2
    stores them, so integer ``//`` and ``%`` follow Python's floor semantics
    there as here.
    """
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
    from brian2.core.functions import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS
    from brian2.parsing.rendering import NumpyNodeRenderer

    key = f"{where}: connect.condition"
    if not isinstance(condition, str) or not condition.strip():
        raise ConfigError(f"{key} must be a Brian2 boolean expression in i (presynaptic) and j (postsynaptic), got {condition!r}.")
    functions = {}
    for name, f in DEFAULT_FUNCTIONS.items():
        if name in _NOT_IN_CONDITIONS:
            continue
        try:
            functions[name] = f.implementations[NumpyCodeObject].get_code(None)
        except KeyError:  # no numpy implementation (expm1, exprel, log1p are C++ only in Brian2)
            continue
    namespace = {**functions, **{name: c.value for name, c in DEFAULT_CONSTANTS.items() if name.isidentifier()}, "logical_not": np.logical_not, "N_pre": n_src, "N_post": n_tgt, "True": True, "False": False}
    unknown = sorted(get_identifiers(condition) - set(namespace) - {"i", "j", "and", "or", "not"})
    if unknown:
        raise ConfigError(f"{key}: unknown name(s) {unknown} in {condition!r}; a condition may use i, j, N_pre, N_post, the constants pi, e, inf and the functions {', '.join(sorted(functions))}.")
    try:
        code = compile(NumpyNodeRenderer().render_expr(condition), "<condition>", "eval")
    except (SyntaxError, ValueError, TypeError) as exc:
        raise ConfigError(f"{key}: {condition!r} is not a valid Brian2 expression ({exc}).") from None
    mask = np.zeros((n_src, n_tgt), dtype=bool)
    j = np.arange(n_tgt, dtype=np.int32)[None, :]
    rows = max(1, _CONDITION_BLOCK // max(n_tgt, 1))
    for start in range(0, n_src, rows):
        i = np.arange(start, min(start + rows, n_src), dtype=np.int32)[:, None]
        try:
            with np.errstate(all="ignore"):
                value = eval(code, {"__builtins__": {}}, {**namespace, "i": i, "j": j})
        except Exception as exc:  # noqa: BLE001 - any failure of the user's expression is a config error
            raise ConfigError(f"{key}: evaluating {condition!r} failed: {exc}") from None
        value = np.asarray(value)
        if value.dtype != bool:
            raise ConfigError(f"{key}: {condition!r} must be a boolean expression (a comparison, 'and', 'or', 'not'), it gives {value.dtype} values.")
        mask[start:start + len(i)] = np.broadcast_to(value, (len(i), n_tgt))
    return mask


def _synapse_file(spec: dict, n_src: int, n_tgt: int, folder: Path | None, where: str):
    """``i``, ``j`` of ``connect = { file = "NAME.npz" }``: explicit synapses, in file order."""
    if set(spec) != {"file"}:
        raise ConfigError(f"{where}: key 'connect': 'file' takes no other key (the file lists every synapse), got {sorted(spec)}.")
    path = Path(str(spec["file"]))
    if not path.is_absolute() and folder is not None:
        path = folder / path
    try:
        with np.load(path) as data:
            i, j = np.asarray(data["i"]), np.asarray(data["j"])
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{where}: connect.file '{path}' cannot be read as an .npz file with integer arrays 'i' and 'j' ({exc}).") from None
    if i.ndim != 1 or i.shape != j.shape or not np.issubdtype(i.dtype, np.integer) or not np.issubdtype(j.dtype, np.integer):
        raise ConfigError(f"{where}: connect.file '{path}' must hold two 1-D integer arrays 'i' and 'j' of one length.")
    if i.size and (i.min() < 0 or i.max() >= n_src or j.min() < 0 or j.max() >= n_tgt):
        raise ConfigError(f"{where}: connect.file '{path}' has indices outside the populations (sizes {n_src} and {n_tgt}).")
    return i.astype(np.int64), j.astype(np.int64)


def _connect(spec, n_src: int, n_tgt: int, same: bool, rng: np.random.Generator, where: str, folder: Path | None = None):
    given = spec
    if isinstance(spec, str):
        spec = {"rule": spec}
    check_keys(spec, _CONNECT, f"{where}: key 'connect'")
    if "file" in spec:
        return _synapse_file(spec, n_src, n_tgt, folder, where)
    if "condition" in spec and "rule" in spec:
        raise ConfigError(f"{where}: key 'connect': give either 'rule' or 'condition' (optionally with 'p'), not both.")
    rule = spec.get("rule", "condition" if "condition" in spec else "random" if "p" in spec else None)
    autapses = spec.get("autapses", True)
    if not isinstance(autapses, bool):
        raise ConfigError(f"{where}: connect.autapses must be true or false.")
    if rule == "all_to_all":
        mask = np.ones((n_src, n_tgt), dtype=bool)
    elif rule == "one_to_one":
        if n_src != n_tgt:
            raise ConfigError(f"{where}: one_to_one needs equal sizes, got {n_src} and {n_tgt}.")
        mask = np.eye(n_src, dtype=bool)
    elif rule in ("random", "condition"):
        mask = _condition_mask(spec["condition"], n_src, n_tgt, where) if rule == "condition" else np.ones((n_src, n_tgt), dtype=bool)
        if "p" in spec or rule == "random":
            p = spec.get("p")
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
                raise ConfigError(f"{where}: connect.p must be a probability in [0, 1], got {p!r}.")
            mask &= rng.random((n_src, n_tgt)) < p
    else:
        raise ConfigError(f"{where}: key 'connect' must be 'all_to_all', 'one_to_one', a table with 'p' and/or 'condition', or {{ file = \"SYNAPSES.npz\" }}; got {given!r}.")
    if same and not autapses:
        np.fill_diagonal(mask, False)
    i, j = np.nonzero(mask)
    return i.astype(np.int64), j.astype(np.int64)


def _projection(k: int, data: dict, pops: dict, where: str, dt: float, seed: int, folder: Path | None = None) -> ProjectionSpec:
    check_keys(data, _PROJ, where)
    (src, src_start, n_src), (tgt, tgt_start, n_tgt) = (_endpoint(data, key, pops, where) for key in ("source", "target"))
    if tgt.is_input:
        raise ConfigError(f"{where}: key 'target' = {tgt.name!r} is an input population; it cannot receive synapses.")
    name = data.get("name", f"{src.name}_to_{tgt.name}_{k}")
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(f"{where}: key 'name' must be an identifier, got {name!r}.")
    on_pre, summed = data.get("on_pre"), data.get("summed")
    model, equations = _synapse_model(data, where)
    summed_in_model = equations is not None and any("summed" in eq.flags for eq in equations.values())
    if on_pre is not None and summed is not None or (on_pre is None and summed is None and not summed_in_model):
        raise ConfigError(f"{where}: give exactly one of 'on_pre' (spike-triggered) and 'summed' (graded, 'X_post = expr'; or a (summed) variable in 'model').")
    on_post = data.get("on_post")
    if on_post is not None and on_pre is None:
        raise ConfigError(f"{where}: key 'on_post' needs a spike-triggered projection (on_pre); give on_pre (it may be 'weight = weight' if presynaptic spikes do nothing).")
    if on_post is None and "post_delay" in data:
        raise ConfigError(f"{where}: key 'post_delay' delays the on_post pathway (Brian2's S.post.delay); give on_post or remove it.")
    if on_pre is None and "delay" in data:
        raise ConfigError(f"{where}: key 'delay' delays spike-triggered projections (on_pre); graded ('summed') ones act without delay, remove it.")
    if summed is not None:
        if src.is_input:
            raise ConfigError(f"{where}: an input population has no continuous output for 'summed'.")
        if "delay" in data:
            raise ConfigError(f"{where}: graded ('summed') projections act without delay; remove key 'delay'.")
        if not re.match(r"^\s*[A-Za-z_]\w*_post\s*=", summed):
            raise ConfigError(f"{where}: key 'summed' must look like 'X_post = weight*s_pre', got {summed!r}.")
    synaptic = {"weight"} | (set(equations.names) if equations is not None else set())
    if isinstance(on_pre, dict):  # several pathways, as Brian2's on_pre={"up": ..., "down": ...}
        _check_pathways(on_pre, synaptic, where)
    for key, text in (("on_pre", on_pre), ("summed", summed), ("on_post", on_post)):
        if text is not None and not isinstance(text, str) and not (key == "on_pre" and isinstance(text, dict)):
            raise ConfigError(f"{where}: key '{key}' must be a string of Brian2 statements" + (" or a table of pathways (name = statements)." if key == "on_pre" else "."))
    codes = [("on_pre", on_pre), ("on_post", on_post)] if not isinstance(on_pre, dict) else [(f"on_pre.{k}", c) for k, c in on_pre.items()] + [("on_post", on_post)]
    for key, code in codes:
        if code is not None:
            neurons = {n for n in get_identifiers(code) if n.endswith(("_pre", "_post"))}
            check_dead_assignments(code, neurons | synaptic, f"{where}: key '{key}'", ConfigError)
    # indices, sizes and expressions of a subgroup (``source = "P[0:800]"``) are its own, as in Brian2
    same = src.name == tgt.name and (src_start, n_src) == (tgt_start, n_tgt)
    i, j = _connect(data.get("connect", "all_to_all"), n_src, n_tgt, same, stream(seed, f"projections.{name}.connect"), where, folder)
    try:
        indices = {"i": i, "j": j, "N_pre": n_src, "N_post": n_tgt}  # per synapse, as in Brian2's S.w = "..."
        weight = sample_values(data.get("weight", 1.0), len(i), stream(seed, f"projections.{name}.weight"), f"{where}: key 'weight'", indices)
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    if not np.all(np.isfinite(np.asarray(weight, dtype=np.float64))):
        raise ConfigError(f"{where}: key 'weight' gives non-finite values ({data['weight']!r}).")
    weight_dim = fu.get_dimensions(weight)
    weight_unit = unit_text(weight_dim)
    if isinstance(on_pre, dict):
        steps = _pathway_delays(data, on_pre, name, indices, seed, where, dt)
    else:
        if isinstance(data.get("delay"), dict):
            raise ConfigError(f"{where}: key 'delay' is a table, which gives the delays of several on_pre pathways; this projection has one (give a number, quantity or distribution).")
        steps = _delays(data, "delay", "delay", name, indices, seed, where, dt)
    post_steps = None
    if "post_delay" in data:
        post_steps = _delays(data, "post_delay", "post_delay", name, indices, seed, where, dt)
    values = _synapse_values(data, equations, name, indices, seed, where)
    i, j = i + src_start, j + tgt_start  # the populations' indices
    return ProjectionSpec(name, src.name, tgt.name, i, j, np.asarray(weight, dtype=np.float64), steps, on_pre=on_pre, summed=summed, weight_unit=weight_unit,
                          model=model, on_post=on_post, method=data.get("method"), values=values, post_delay_steps=post_steps)


def _check_pathways(on_pre: dict, synaptic: set, where: str):
    """Names and codes of a table of on_pre pathways (Brian2's ``on_pre={...}``)."""
    if not on_pre:
        raise ConfigError(f"{where}: key 'on_pre' is an empty table; give one pathway (name = statements) or more.")
    for pathway, code in on_pre.items():
        if not _IDENT.match(pathway):
            raise ConfigError(f"{where}: key 'on_pre': the pathway name {pathway!r} must be an identifier.")
        if pathway in ("pre", "post") or pathway in synaptic or pathway in _SYNAPSE_RESERVED:
            raise ConfigError(f"{where}: key 'on_pre': the pathway name '{pathway}' is taken (by Brian2's pathways 'pre'/'post' or a synaptic variable); rename it.")
        if not isinstance(code, str):
            raise ConfigError(f"{where}: key 'on_pre.{pathway}' must be a string of Brian2 statements.")


def _pathway_delays(data: dict, on_pre: dict, name: str, indices: dict, seed: int, where: str, dt: float) -> dict:
    """Per pathway, its delays in whole steps: ``delay`` a table (pathway ->
    delay, 0 for pathways not named), as Brian2's ``delay={"up": ...}``, or one
    value (number, quantity, distribution) drawn for each pathway."""
    given = data.get("delay", 0.0)
    if not isinstance(given, dict):
        return {p: _delays(data, "delay", "delay", f"{name}.{p}", indices, seed, where, dt) for p in on_pre}
    unknown = sorted(set(given) - set(on_pre))
    if unknown:
        raise ConfigError(f"{where}: key 'delay' names {unknown}, which are not pathways of on_pre ({', '.join(sorted(on_pre))}).")
    return {p: _delays(given, p, f"delay.{p}", f"{name}.delay", indices, seed, where, dt) for p in on_pre}


def _delays(table: dict, key: str, shown: str, name: str, indices: dict, seed: int, where: str, dt: float) -> np.ndarray:
    """``table[key]`` (0 if absent) drawn per synapse and rounded to whole steps; ``shown`` is the key in messages."""
    try:
        delay = sample_values(table.get(key, 0.0), len(indices["i"]), stream(seed, f"projections.{name}.{key}"), f"{where}: key '{shown}'", indices)
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None
    return _delay_steps(delay, key, table, where, dt, shown)


def _delay_steps(delay, key: str, data: dict, where: str, dt: float, shown: str | None = None) -> np.ndarray:
    """Delays (a quantity array, or zeros) checked and rounded to whole steps."""
    shown = shown or key
    if key in data and fu.get_dimensions(delay) is not second.dim and np.any(np.asarray(delay) != 0):
        raise ConfigError(f"{where}: key '{shown}' must be a time (e.g. '1*ms'), got {data[key]!r}.")
    delay = np.asarray(delay, dtype=np.float64)
    if not np.all(np.isfinite(delay)):
        raise ConfigError(f"{where}: key '{shown}' gives non-finite values ({data[key]!r}).")
    if np.any(delay < 0):
        raise ConfigError(f"{where}: key '{shown}' gives negative delays (min {delay.min() * 1e3:g} ms); delays must be >= 0.")
    # Round to whole steps here, once, so that every backend gets integers
    # (Brian2 would round with int(d/dt + 0.5), ambiguous on half steps).
    return np.floor(delay / dt + 0.5).astype(np.int64)


_SUBGROUP = re.compile(r"^\s*(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*(?:\[\s*(?P<start>-?\d*)\s*:\s*(?P<stop>-?\d*)\s*\])?\s*$")


def _part(text, pops: dict, where: str) -> tuple:
    """A target that may be a subgroup, ``"P[0:800]"``: ``(name, (start, stop))``, or
    ``(text, None)`` for anything else (a whole population, a projection, a mistake)."""
    match = _SUBGROUP.match(text) if isinstance(text, str) else None
    if match is None or match["start"] is None or match["name"] not in pops:
        return text, None
    _, start, size = _endpoint({"target": text}, "target", pops, where)
    return match["name"], (start, start + size)


def _endpoint(data: dict, key: str, pops: dict, where: str) -> tuple:
    """A projection's ``source`` or ``target``: a population, or a subgroup
    ``"P[a:b]"`` (Brian2's ``P[a:b]``, a contiguous slice): ``(population,
    first index, size)``."""
    if key not in data:
        raise ConfigError(f"{where}: missing required key '{key}'.")
    text = data[key]
    match = _SUBGROUP.match(text) if isinstance(text, str) else None
    if match is None or match["name"] not in pops:
        raise ConfigError(f"{where}: key '{key}' = {text!r} is not a population ({', '.join(pops)}) or a subgroup of one ('{next(iter(pops))}[0:10]').")
    pop = pops[match["name"]]
    if match["start"] is None:
        return pop, 0, pop.size
    start, stop, _ = slice(int(match["start"]) if match["start"] else None, int(match["stop"]) if match["stop"] else None).indices(pop.size)
    if stop <= start:
        raise ConfigError(f"{where}: key '{key}' = {text!r} is an empty subgroup of '{pop.name}' ({pop.size} neurons).")
    return pop, start, stop - start


def _synapse_model(data: dict, where: str):
    """The projection's ``model`` (text, parsed Brian2 equations), or (None, None)."""
    model = data.get("model")
    if model is None:
        for key in ("method", "values"):
            if key in data:
                raise ConfigError(f"{where}: key '{key}' needs a synapse model (key 'model').")
        return None, None
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{where}: key 'model' must be a string of Brian2 synapse equations (e.g. 'w : 1').")
    try:
        equations = Equations(model)
    except Exception as exc:  # Brian2's parser: report its message, not its traceback
        raise ConfigError(f"{where}: key 'model' is not valid Brian2 equations: {str(exc).strip().splitlines()[0]}") from None
    for eq in equations.values():
        if eq.varname.startswith("bioadapt_"):
            raise ConfigError(f"{where}: key 'model' declares '{eq.varname}': names beginning with 'bioadapt_' are reserved for what bioadapt adds to synapses; rename it.")
        if eq.varname in _SYNAPSE_RESERVED or (eq.varname.endswith(("_pre", "_post")) and "summed" not in eq.flags):
            raise ConfigError(f"{where}: key 'model' declares '{eq.varname}', a name bioadapt or Brian2 gives synapses itself" + (" (the weight is key 'weight')" if eq.varname == "weight" else "") + "; rename it.")
        if "summed" in eq.flags and not eq.varname.endswith("_post"):
            raise ConfigError(f"{where}: key 'model': the summed variable '{eq.varname}' must be a postsynaptic variable ('X_post = expression : unit (summed)').")
        if eq.type == DIFFERENTIAL_EQUATION and not {"event-driven", "clock-driven"} & set(eq.flags):
            raise ConfigError(f"{where}: key 'model': the differential equation of '{eq.varname}' needs the flag (event-driven) or (clock-driven), as in Brian2.")
    method = data.get("method")
    if method is not None:
        if not isinstance(method, str) or method not in StateUpdateMethod.stateupdaters:
            raise ConfigError(f"{where}: key 'method' must be one of Brian2's methods ({', '.join(sorted(StateUpdateMethod.stateupdaters))}), got {method!r}.")
        if not any("clock-driven" in eq.flags for eq in equations.values() if eq.type == DIFFERENTIAL_EQUATION):
            raise ConfigError(f"{where}: key 'method' integrates (clock-driven) equations, and the model has none; remove it.")
    return model, equations


def _synapse_values(data: dict, equations, name: str, indices: dict, seed: int, where: str) -> dict:
    """Initial values of a synapse model's variables (SI floats, one per synapse or one if shared)."""
    table = data.get("values", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: key 'values' must be a table of initial values (variable = value).")
    values = {}
    for var, given in table.items():
        if equations is None or var not in equations.names or var in equations.subexpr_names:
            settable = sorted(n for n in (equations.names if equations is not None else ()) if n not in equations.subexpr_names)
            raise ConfigError(f"{where}: values.{var}: '{var}' is not a variable of the synapse model ({', '.join(settable) or 'none'}).")
        shared = "shared" in equations[var].flags
        n = 1 if shared else len(indices["i"])
        try:
            value = sample_values(given, n, stream(seed, f"projections.{name}.values.{var}"), f"{where}: values.{var}", None if shared else indices)
        except ParameterError as exc:
            raise ConfigError(str(exc)) from None
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise ConfigError(f"{where}: values.{var} gives non-finite values ({given!r}).")
        dim = equations.dimensions[var]
        if fu.get_dimensions(value) is not dim and np.any(array != 0):
            raise ConfigError(f"{where}: values.{var} must be in {unit_text(dim)}, got {given!r}.")
        values[var] = np.broadcast_to(array, (n,)).copy()
    return values


def network_from_dict(data: dict, source: str = "<dict>", folder: Path | None = None) -> NetworkSpec:
    """Build a `NetworkSpec` from an already parsed configuration table."""
    where = source
    check_keys(data, _TOP, where)
    dt = _quantity(data, "dt", where, second)
    duration = _quantity(data, "duration", where, second)
    if not dt > 0:
        raise ConfigError(f"{where}: key 'dt' must be positive, got {data['dt']!r}.")
    if not duration > 0:
        raise ConfigError(f"{where}: key 'duration' must be positive, got {data['duration']!r}.")
    if not np.isfinite(duration):
        raise ConfigError(f"{where}: key 'duration' must be finite, got {data['duration']!r}.")
    seed = _int(data, "seed", where, default=0)
    n_steps = int(round(duration / dt))
    if n_steps < 1:
        raise ConfigError(f"{where}: key 'duration' ({data['duration']!r}) is shorter than half a step (dt = {data['dt']!r}): the run would have no step.")
    pops_data = data.get("populations")
    if not isinstance(pops_data, dict) or not pops_data:
        raise ConfigError(f"{where}: needs at least one [populations.NAME] table.")
    timed = _timed_arrays(data.get("timed_arrays", {}), where, folder)
    pops = {}
    for name, pdata in pops_data.items():
        if name in timed:
            raise ConfigError(f"{where}: [populations.{name}]: '{name}' is also the name of a timed array.")
        pops[name] = _population(name, pdata, data, f"{where}: [populations.{name}]", folder, dt, n_steps, seed, timed)
    _check_links(pops, where)
    projections = []
    raw = data.get("projections", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'projections' must be an array of tables ([[projections]]).")
    names = set()
    for k, pdata in enumerate(raw):
        proj = _projection(k, pdata, pops, f"{where}: projections[{k}]", dt, seed, folder)
        if proj.name in names or proj.name in pops:
            raise ConfigError(f"{where}: projections[{k}]: name '{proj.name}' is used twice.")
        names.add(proj.name)
        projections.append(proj)
    poisson = _poisson_inputs(data.get("poisson_inputs", []), pops, names, where, dt)
    regular = _run_regularly(data.get("run_regularly", []), pops, {p.name: p for p in projections}, names | {p.name for p in poisson}, where, dt)
    return NetworkSpec(dt=dt, n_steps=n_steps, seed=seed, populations=pops, projections=tuple(projections), source=source, timed_arrays=timed, poisson_inputs=poisson,
                       run_regularly=regular)


def _entries(raw, key: str, allowed: set, where: str):
    """The tables of an array of tables ``[[key]]``: ``(k, table, where)``, each with its keys checked."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: '{key}' must be an array of tables ([[{key}]]).")
    for k, data in enumerate(raw):
        here = f"{where}: {key}[{k}]"
        check_keys(data, allowed, here)
        yield k, data, here


def _run_regularly(raw, pops: dict, projections: dict, taken: set, where: str, dt: float) -> tuple:
    """``[[run_regularly]]``: Brian2's ``target.run_regularly(code, dt=..., when=..., order=...)``."""
    out = []
    for k, data, here in _entries(raw, "run_regularly", _RUN_REGULARLY, where):
        target, part = _part(data.get("target"), pops, here)
        pop = pops.get(target) if isinstance(target, str) else None
        if (pop is None or pop.is_input) and target not in projections:
            neurons = [n for n, p in pops.items() if not p.is_input]
            raise ConfigError(f"{here}: key 'target' must name a neuron population or a projection ({', '.join(neurons + list(projections))}), or a subgroup ('{neurons[0] if neurons else 'P'}[0:10]'), got {data.get('target')!r}.")
        name = data.get("name", f"{target}_run_regularly_{k}")
        if not isinstance(name, str) or not _IDENT.match(name) or name.startswith("bioadapt") or name in taken or name in pops or any(r.name == name for r in out):
            raise ConfigError(f"{here}: key 'name' must be a new identifier, got {name!r}.")
        code = data.get("code")
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"{here}: key 'code' must be Brian2 statements such as 'v = v_reset', got {code!r}.")
        every = _quantity(data, "dt", here, second, default=dt)
        steps = int(round(every / dt))
        if steps < 1 or abs(steps * dt - every) > 1e-9 * every:
            raise ConfigError(f"{here}: key 'dt' ({data['dt']!r}) must be a whole number of the network's steps (dt = {dt * 1e3:g} ms).")
        when = data.get("when", "start")
        if when not in _WHEN:
            raise ConfigError(f"{here}: key 'when' must be one of Brian2's slots ({', '.join(_WHEN)}), got {when!r}.")
        order = data.get("order", 0)
        if not isinstance(order, int) or isinstance(order, bool):
            raise ConfigError(f"{here}: key 'order' must be an integer, got {order!r}.")
        if pop is not None and pop.linked:
            assigned = {m.group(1) for line in code.splitlines() if (m := re.match(r"^\s*([A-Za-z_]\w*)\s*(?:\+=|-=|\*=|/=|=)", line))}
            if assigned & set(pop.linked):
                raise ConfigError(f"{here}: code writes linked variable(s) {sorted(assigned & set(pop.linked))} of '{target}'; write the population they read instead.")
        out.append(RunRegularlySpec(name, target, code, None if "dt" not in data else every, when, order, part))
    return tuple(out)


def _poisson_inputs(raw, pops: dict, taken: set, where: str, dt: float) -> tuple:
    """``[[poisson_inputs]]``: Brian2's ``PoissonInput(target, target_var, N, rate, weight)``."""
    out = []
    for k, data, here in _entries(raw, "poisson_inputs", _POISSON_INPUT, where):
        name = data.get("name", f"poisson_input_{k}")
        if not isinstance(name, str) or not _IDENT.match(name) or name.startswith("bioadapt"):
            raise ConfigError(f"{here}: key 'name' must be an identifier (letters, digits, _), got {name!r}.")
        if name in taken or name in pops or any(p.name == name for p in out):
            raise ConfigError(f"{here}: name '{name}' is used twice.")
        target, part = _part(data.get("target"), pops, here)
        pop = pops.get(target) if isinstance(target, str) else None
        if pop is None or pop.is_input:
            neurons = [n for n, p in pops.items() if not p.is_input]
            raise ConfigError(f"{here}: key 'target' must name a neuron population ({', '.join(neurons)}) or a subgroup of one ('{neurons[0] if neurons else 'P'}[0:10]'), got {data.get('target')!r}.")
        equations = pop.model.brian_equations
        var = data.get("target_var")
        if var not in equations.names or var in equations.subexpr_names:
            raise ConfigError(f"{here}: key 'target_var' must be a variable of population '{target}' (model {pop.model.name}), got {var!r}.")
        trials = _int(data, "N", here, minimum=1)
        rate = _quantity(data, "rate", here, Hz)
        if not 0 <= rate * dt <= 1:
            raise ConfigError(f"{here}: rate*dt = {rate * dt:g} must be between 0 and 1 (rate {data['rate']!r}, dt {dt * 1e3:g} ms).")
        if "weight" not in data:
            raise ConfigError(f"{here}: missing required key 'weight' (what each input spike adds to '{var}').")
        try:
            weight = parse_quantity(data["weight"], f"{here}: key 'weight'")
        except ParameterError as exc:
            raise ConfigError(str(exc)) from None
        if fu.get_dimensions(weight) is not equations.dimensions[var] or not np.isfinite(float(weight)):
            raise ConfigError(f"{here}: key 'weight' must be a finite value in {unit_text(equations.dimensions[var])} (the unit of '{var}'), got {data['weight']!r}.")
        out.append(PoissonInputSpec(name, target, var, trials, rate, float(weight), part))
    return tuple(out)


def _timed_arrays(tables: dict, where: str, folder: Path | None) -> dict:
    """``[timed_arrays.NAME]`` tables: ``values`` (numbers, nested lists, a
    ``.npy`` or ``.csv`` file, an array or a Brian2 quantity), ``unit`` (a
    Brian2 unit, default that of a quantity, else 1) and ``dt``."""
    if not isinstance(tables, dict):
        raise ConfigError(f"{where}: 'timed_arrays' must be a table of [timed_arrays.NAME] tables.")
    timed = {}
    for name, table in tables.items():
        here = f"{where}: [timed_arrays.{name}]"
        check_keys(table, _TIMED, here)
        if not _IDENT.match(name) or name.startswith("bioadapt_"):
            raise ConfigError(f"{here}: a timed array's name must be an identifier (letters, digits, '_') not beginning with 'bioadapt_', got '{name}'.")
        for key in ("values", "dt"):
            if key not in table:
                raise ConfigError(f"{here}: missing required key '{key}'.")
        step = _quantity(table, "dt", here, second)
        if not step > 0:
            raise ConfigError(f"{here}: key 'dt' must be positive, got {table['dt']!r}.")
        raw = table["values"]
        if isinstance(raw, str):
            path = Path(raw) if folder is None else Path(folder) / raw
            try:
                raw = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=1)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{here}: key 'values': cannot read '{path}' ({exc}); give a .npy file, a .csv file of numbers or the values.") from None
        dim = raw.dim if isinstance(raw, fu.Quantity) else fu.DIMENSIONLESS
        try:
            values = np.array(np.asarray(raw, dtype=np.float64), dtype=np.float64)  # SI numbers
        except (TypeError, ValueError):
            raise ConfigError(f"{here}: key 'values' must be numbers (a list, a list of rows, or a file), got {raw!r:.80}.") from None
        if "unit" in table:
            try:
                unit = parse_quantity(table["unit"], f"{here}: key 'unit'")
            except ParameterError as exc:
                raise ConfigError(str(exc)) from None
            if dim is not fu.DIMENSIONLESS and fu.get_dimensions(unit) is not dim:
                raise ConfigError(f"{here}: key 'unit' ({table['unit']!r}) does not match the unit of the values ({unit_text(dim)}).")
            if dim is fu.DIMENSIONLESS:  # numbers in the unit given
                values = values * float(unit)
                dim = fu.get_dimensions(unit)
        if values.ndim not in (1, 2) or values.size == 0:
            raise ConfigError(f"{here}: key 'values' must be a non-empty list (one value per time) or list of rows (one row per time, one column per neuron), got shape {values.shape}.")
        if not np.all(np.isfinite(values)):
            raise ConfigError(f"{here}: key 'values' has values that are not finite.")
        values.setflags(write=False)
        timed[name] = TimedArraySpec(name, values, unit_text(dim), step)
    return timed
