"""Parse the numbers, quantities and distributions written in TOML files.

Values are written as Brian2 quantity expressions (``"20*ms"``, ``"0.5"``,
``"-70*mV"``) or as distributions (``"uniform(5*ms, 25*ms)"``,
``"normal(0.5, 0.1)"``). Parsing is done on the Python AST with a whitelist,
never with a bare ``eval``. Random draws use the numpy generator they are given,
so every backend sees the same arrays.
"""

from __future__ import annotations

import ast
import re
from typing import Callable

import numpy as np
from brian2.units import fundamentalunits as fu
from brian2.units import allunits, stdunits

from .errors import ParameterError

__all__ = ["parse_quantity", "as_seconds", "as_hertz", "sample_values", "unit_text", "DISTRIBUTIONS", "unit_namespace"]


def unit_namespace() -> dict[str, object]:
    """Names usable in quantity strings: every Brian2 unit (``ms``, ``mV``, ``Hz`` ...)."""
    names: dict[str, object] = {}
    for module in (allunits, stdunits):
        for key, value in vars(module).items():
            if isinstance(value, fu.Unit) and not key.startswith("_"):
                names[key] = value
    return names


_UNITS = unit_namespace()

_BINOPS: dict[type, Callable] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: a % b,
    ast.FloorDiv: lambda a, b: a // b,
}

#: Functions of initial-value expressions (numpy's, unit-aware through Brian2's quantities).
_FUNCTIONS: dict[str, Callable] = {
    "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "abs": np.abs, "clip": np.clip,
    # Brian2's int(): a comparison to 0/1, a number truncated towards zero (``int(i < 800)*0.5``)
    "int": lambda x: np.trunc(np.asarray(x, dtype=np.float64)) if fu.is_dimensionless(x) else _no_int(x),
}

#: comparisons of initial-value expressions (true or false per neuron or synapse, for ``int(...)``)
_COMPARE: dict[type, Callable] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
}


def _no_int(x):
    raise fu.DimensionMismatchError("int() takes a dimensionless value", fu.get_dimensions(x))
#: arguments of `_FUNCTIONS` that take more than one (``clip(x, low, high)``)
_ARITY = {"clip": 3}


def _evaluate(node: ast.AST, calls: dict[str, Callable], where: str, names: dict | None = None):
    """Evaluate a parsed value: numbers, units, ``names`` (arrays or numbers:
    ``i``, ``N``, a population's other variables), the ``calls`` (distributions,
    ``rand()``, ``randn()``) and `_FUNCTIONS`."""
    names = names or {}
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, calls, where, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        if node.id in _UNITS:
            return _UNITS[node.id]
        if node.id in ("inf", "infinity"):
            return float("inf")
        if node.id == "pi":
            return np.pi
        raise ParameterError(f"{where}: unknown unit or name '{node.id}'.")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, calls, where, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _evaluate(node.left, calls, where, names)
        right = _evaluate(node.right, calls, where, names)
        try:
            return _BINOPS[type(node.op)](left, right)
        except fu.DimensionMismatchError as exc:
            raise ParameterError(f"{where}: inconsistent units: {exc}") from None
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left = _evaluate(node.left, calls, where, names)
        right = _evaluate(node.comparators[0], calls, where, names)
        try:
            return np.asarray(_COMPARE[type(node.ops[0])](left, right))
        except fu.DimensionMismatchError as exc:
            raise ParameterError(f"{where}: inconsistent units: {exc}") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in calls and not node.keywords:
        args = [_evaluate(arg, {}, where, names) for arg in node.args]
        for k, arg in enumerate(args):
            if np.ndim(arg):  # a variable's values: one value for all neurons is a single value
                if np.size(arg) and not np.all(np.asarray(arg) == np.asarray(arg).flat[0]):
                    raise ParameterError(f"{where}: the arguments of {node.func.id}() must be single values, not different ones per neuron or synapse, in '{ast.unparse(node)}'.")
                args[k] = arg[0] if np.size(arg) else arg
        try:
            return calls[node.func.id](*args)
        except TypeError:
            import inspect

            params = ", ".join(inspect.signature(calls[node.func.id]).parameters)
            raise ParameterError(f"{where}: {node.func.id}() takes ({params}), got {len(args)} argument(s) in '{ast.unparse(node)}'.") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords and len(node.args) == _ARITY.get(node.func.id, 1):
        values = [_evaluate(arg, calls, where, names) for arg in node.args]
        try:
            return _FUNCTIONS[node.func.id](*values)
        except fu.DimensionMismatchError as exc:
            raise ParameterError(f"{where}: {node.func.id}() of a quantity with units: {exc}") from None
    raise ParameterError(
        f"{where}: cannot parse '{ast.unparse(node)}'; expected a number, a quantity such as "
        f"'20*ms', one of the distributions {sorted(DISTRIBUTIONS)}, or an expression of them "
        f"(with i, N, rand(), randn(){', the variables ' + ', '.join(sorted(names)) if names else ''})."
    )


#: a number directly followed by a unit name ("0.5ms", "20 Hz"), written as "0.5*ms"
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_]\w*)\s*$")


#: a number of seconds written with ``s``
_SECONDS = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*s\s*$")


def _parse(text: str, where: str) -> ast.Expression:
    text = _NUMBER_UNIT.sub(r"\1*\2", text)
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ParameterError(f"{where}: '{text}' is not a valid expression.") from None


def parse_quantity(value: object, where: str):
    """Parse a number or a quantity string.

    Parameters
    ----------
    value : int, float or str
        ``3``, ``0.5``, ``"20*ms"``, ``"20ms"``, ``"-inf"``.
    where : str
        Location for error messages (file and key).

    Returns
    -------
    float or brian2.Quantity

    Raises
    ------
    ParameterError
        If the value is neither a number nor a quantity expression.

    Examples
    --------
    >>> parse_quantity("20*ms", "x")
    20. * msecond
    >>> parse_quantity("uniform(1, 2)", "f.toml: key 'tau'")
    Traceback (most recent call last):
    ...
    bioadapt.errors.ParameterError: f.toml: key 'tau': a distribution is not allowed here ...
    """
    if isinstance(value, bool):
        raise ParameterError(f"{where}: expected a number or quantity, got a boolean.")
    if isinstance(value, (int, float)):
        if value != value:
            raise ParameterError(f"{where}: got NaN (not a number).")
        return float(value)
    if not isinstance(value, str):
        raise ParameterError(f"{where}: expected a number or quantity string, got {type(value).__name__}.")
    tree = _parse(value, where)
    if any(isinstance(n, ast.Call) for n in ast.walk(tree)):
        raise ParameterError(f"{where}: a distribution is not allowed here (got '{value}'); give a single value.")
    result = _evaluate(tree, {}, where)
    return float(result) if isinstance(result, (int, float)) else result


def _same_dims(where: str, *values):
    dims = {fu.get_dimensions(v) for v in values}
    if len(dims) > 1:
        raise ParameterError(f"{where}: the arguments of the distribution have different units: {values}.")
    if not all(np.isfinite(np.asarray(v, dtype=np.float64)) for v in values):
        raise ParameterError(f"{where}: the arguments of the distribution must be finite, got {values}.")


def _uniform(rng, n, where):
    def draw(low, high):
        _same_dims(where, low, high)
        if not high >= low:
            raise ParameterError(f"{where}: uniform(low, high) needs low <= high, got {low}, {high}.")
        unit = fu.get_unit(fu.get_dimensions(low))
        lo, hi = float(low / unit), float(high / unit)
        return rng.uniform(lo, hi, size=n) * unit
    return draw


def _normal(rng, n, where):
    def draw(mean, std):
        _same_dims(where, mean, std)
        if not std >= 0 * std:
            raise ParameterError(f"{where}: normal(mean, std) needs std >= 0, got {std}.")
        unit = fu.get_unit(fu.get_dimensions(mean))
        return rng.normal(float(mean / unit), float(std / unit), size=n) * unit
    return draw


def _lognormal(rng, n, where):
    def draw(median, sigma):
        if not (np.isfinite(np.asarray(median, dtype=np.float64)) and np.isfinite(np.asarray(sigma, dtype=np.float64))):
            raise ParameterError(f"{where}: lognormal(median, sigma) needs finite arguments.")
        if fu.get_dimensions(sigma) is not fu.DIMENSIONLESS:
            raise ParameterError(f"{where}: lognormal(median, sigma) needs a dimensionless sigma.")
        unit = fu.get_unit(fu.get_dimensions(median))
        if not float(median / unit) > 0:
            raise ParameterError(f"{where}: lognormal(median, sigma) needs median > 0.")
        return np.exp(rng.normal(np.log(float(median / unit)), float(sigma), size=n)) * unit
    return draw


def _constant(rng, n, where):
    del rng
    def draw(value):
        unit = fu.get_unit(fu.get_dimensions(value))
        return np.full(n, float(value / unit)) * unit
    return draw


#: Distributions a value may be drawn from; each takes ``(rng, n, where)`` and
#: returns the function the TOML call is applied to.
DISTRIBUTIONS: dict[str, Callable] = {
    "uniform": _uniform,
    "normal": _normal,
    "lognormal": _lognormal,
    "constant": _constant,
}


def sample_values(value: object, n: int, rng: np.random.Generator, where: str, names: dict | None = None):
    """Return ``n`` values (a float array or a Quantity array) for a TOML value.

    A plain number or quantity is repeated; a distribution is sampled with
    ``rng``; an expression may use ``names`` (arrays of ``n`` values or single
    values, such as the index ``i``), ``rand()`` and ``randn()`` (``n``
    draws from ``rng``), and ``sqrt``, ``exp``, ``log``, ``sin``, ``cos``,
    ``tanh``, ``sinh``, ``cosh``, ``abs``, ``clip``, ``pi``, ``inf``, as Brian2's
    initial values do.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sample_values("-60*mV + 10*mV*i/N", 3, rng, "v", names={"i": np.arange(3), "N": 3})
    array([-60.        , -56.66666667, -53.33333333]) * mvolt
    """
    if isinstance(value, str):
        tree = _parse(value, where)
        calls = {name: factory(rng, n, where) for name, factory in DISTRIBUTIONS.items()}
        calls.update(rand=lambda: rng.random(n), randn=lambda: rng.standard_normal(n))
        result = _evaluate(tree, calls, where, names)
    elif isinstance(value, (list, tuple)):  # one value per neuron or synapse, as Brian2's G.I = [0.4, 2, 4]
        if len(value) != n:
            raise ParameterError(f"{where}: a list of {len(value)} values for {n} neurons or synapses.")
        items = [parse_quantity(item, f"{where}[{k}]") for k, item in enumerate(value)]
        dims = {fu.get_dimensions(item) for item in items}
        if len(dims) > 1:
            raise ParameterError(f"{where}: the values of the list have different units.")
        dim = dims.pop() if items else fu.DIMENSIONLESS
        result = np.array([float(item / fu.get_unit(dim)) for item in items])
        if dim is not fu.DIMENSIONLESS:
            result = result * fu.get_unit(dim)
    else:
        result = parse_quantity(value, where)
    if np.any(np.isnan(np.asarray(result, dtype=np.float64))):
        raise ParameterError(f"{where}: {value!r} gives NaN (not a number).")
    if isinstance(result, fu.Quantity) and result.shape == (n,):
        return result
    if isinstance(result, np.ndarray) and result.shape == (n,):
        return result
    if isinstance(result, fu.Quantity):
        return np.full(n, float(result / fu.get_unit(result.dim))) * fu.get_unit(result.dim)
    return np.full(n, float(result))


def unit_text(dim) -> str:
    """The unit of dimensions ``dim`` as Brian2 writes it in equations: ``"1"``
    for dimensionless (or None), else the unit's name (``"second"``, ``"mV"``)."""
    return "1" if dim is None or fu.get_dimensions(dim).is_dimensionless else repr(fu.get_unit(dim))


def _as_unit(value, unit, what: str, example: str, where: str) -> float:
    """``value`` in ``unit`` (a float): a number (already in SI), a Brian2
    quantity, or a quantity string; one `ParameterError` for anything else."""
    if isinstance(value, fu.Quantity):
        quantity = value
    elif isinstance(value, str):
        # "600s", "600 s", "600*s": Brian2 calls the second `second`; here `s` is one too
        text = _SECONDS.sub(r"\1*second", value) if unit is fu.get_unit(fu.get_or_create_dimension(s=1)) else value
        quantity = parse_quantity(text, where)
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        quantity = float(value) * unit  # a plain number is SI (seconds, hertz)
    else:
        raise ParameterError(f"{where}: expected a {what} such as {example}, got {value!r}.")
    if fu.get_dimensions(quantity) is not fu.get_dimensions(unit) or np.ndim(quantity) != 0:
        raise ParameterError(f"{where}: expected a {what} such as {example}, got {value!r}.")
    seconds = float(quantity / unit)
    if not np.isfinite(seconds):
        raise ParameterError(f"{where}: expected a finite {what}, got {value!r}.")
    return seconds


def as_seconds(value, where: str) -> float:
    """A time in seconds from ``"0.1*ms"``, ``"0.1ms"``, ``"600s"``, a Brian2
    quantity, or a number of seconds.

    Examples
    --------
    >>> as_seconds("0.1ms", "dt")
    0.0001
    >>> as_seconds("3*mV", "dt")
    Traceback (most recent call last):
    ...
    bioadapt.errors.ParameterError: dt: expected a time such as '0.1*ms' or '0.1ms', got '3*mV'.
    """
    from brian2 import second

    return _as_unit(value, second, "time", "'0.1*ms' or '0.1ms'", where)


def as_hertz(value, where: str) -> float:
    """A rate in Hz from ``"20*Hz"``, ``"20Hz"``, a Brian2 quantity, or a number of Hz."""
    from brian2 import Hz

    return _as_unit(value, Hz, "rate", "'20*Hz' or '20Hz'", where)
