"""The numpy target of the translator (`compile_numpy`: `translate.compile_expression` for numpy arrays).

Without gradients, on the CPU, in float64 and with numpy's elementary
functions (``math="numpy"``), the twin evaluates per-step statements with
numpy on views of its tensors (`compile_numpy`):
the same IEEE operations, on the same values, with numpy's own semantics,
which the torch target's functions reproduce. Only what is the same operation
in both is translated: ``+ - * /`` and comparisons (native operators),
``**`` on a float array with a number exponent (numpy's fast scalar power,
as `_pow` reproduces it; any other power through `_pow` itself), logical
operators and the functions of `NUMPY_FUNCTIONS` (``exprel`` and ``clip``
in the operations the torch target's write out), and functions of the
environment (noise sources, timed arrays: their numpy form, `_np_call`). An
expression with anything else (``%``, ``//``, chained comparisons, Brian2's
own random numbers, integers outside int32) is not translated: its block
runs in torch.
"""

from __future__ import annotations

import ast
from typing import Callable

import numpy as np
import torch

from .functions import EXPREL_LARGE, EXPREL_SMALL, _clip, _pow, _sign
from .translate import _INT32, _NAMED_CONSTANTS, Compiled, Target, _logicals, compile_expression

__all__ = ["NotNumpy", "NUMPY", "NUMPY_FUNCTIONS", "compile_numpy", "numpy_where", "source"]


class NotNumpy(Exception):
    """An expression the numpy target does not translate (its block runs in torch)."""


_ARRAY = (np.ndarray, np.generic)


def _np_float(x):
    """``x`` as an array of float64 where it is an integer or boolean array (`_as_float`)."""
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _np_unary(np_fn: Callable) -> Callable:
    def apply(x):
        if isinstance(x, _ARRAY):
            return np_fn(_np_float(x))
        return float(np_fn(np.float64(x)))

    return apply


def _np_int32(x):
    return x.astype(np.int32) if isinstance(x, _ARRAY) else int(x)


def _np_floor(x):
    return np.floor(x).astype(np.int32) if isinstance(x, _ARRAY) else int(np.floor(x))


def _np_ceil(x):
    return np.ceil(x).astype(np.int32) if isinstance(x, _ARRAY) else int(np.ceil(x))


def _np_timestep(t, dt):
    value = (t + 1e-3 * dt) / dt
    return value.astype(np.int64) if isinstance(value, _ARRAY) else int(value)


def _np_abs(x):
    return np.abs(x) if isinstance(x, _ARRAY) else abs(x)


def _as_tensor(x):
    return torch.from_numpy(np.asarray(x)) if isinstance(x, _ARRAY) else x


def _np_pow(a, b):
    """``a**b``: numpy's own operator for a float array and a number exponent
    (what `_pow` reproduces), `_pow` on the tensors of the arrays otherwise."""
    if type(a) is np.ndarray and a.ndim and a.dtype.kind == "f" and type(b) in (int, float):
        return a**b
    value = _pow(_as_tensor(a), _as_tensor(b))
    return value.numpy() if isinstance(value, torch.Tensor) else value


def _np_exprel(x):
    """Brian2's ``exprel`` in the operations of the torch target's
    (`functions._exprel_with`): 1 for ``|x| <`` `functions.EXPREL_SMALL`, inf
    above `functions.EXPREL_LARGE`, else ``expm1(x)/x``."""
    array = np.asarray(x, dtype=np.float64) if not isinstance(x, _ARRAY) else _np_float(x)
    small = np.abs(array) < EXPREL_SMALL
    value = np.where(small, 1.0, np.expm1(array) / np.where(small, 1.0, array))
    value = np.where(array > EXPREL_LARGE, np.inf, value)
    return value if isinstance(x, _ARRAY) else float(value)


def _np_clip(x, low, high):
    """``clip`` on a float array with bounds that are numbers or arrays of its
    dtype: ``minimum(maximum(x, low), high)``, as the torch target
    (`functions._clip`); anything else (integer arrays, numbers) through that
    function itself."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and all(type(b) in (int, float) or (isinstance(b, np.ndarray) and b.dtype == x.dtype) for b in (low, high)):
        return np.minimum(np.maximum(x, low), high)
    value = _clip(_as_tensor(x), _as_tensor(low), _as_tensor(high))
    return value.numpy() if isinstance(value, torch.Tensor) else value


def _np_sign(x):
    """``sign``: numpy's own on a float array (`functions._sign` reproduces it), that function itself otherwise."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return np.sign(x)
    value = _sign(_as_tensor(x))
    return value.numpy() if isinstance(value, torch.Tensor) else value


def _np_call(function, *args):
    """A function of the environment (a noise source, a timed array) called
    with numpy arrays: its own numpy form (``function.numpy``, the same
    numbers), else the function itself on tensors of the arrays."""
    numpy = getattr(function, "numpy", None)
    if numpy is not None:
        return numpy(*args)
    value = function(*(_as_tensor(a) for a in args))
    return value.numpy() if isinstance(value, torch.Tensor) else value


_np_logical, _np_not = _logicals(_ARRAY, np.logical_and, np.logical_or, np.logical_not, lambda x: x)


def numpy_where(cond, a, b):
    """``where(cond, a, b)`` of numpy's boolean-simplified statements, as
    `env.evaluate` computes it: a Python number becomes float64 (the float
    dtype of a float64 twin), arrays keep theirs."""
    a = a if isinstance(a, _ARRAY) else np.float64(a)
    b = b if isinstance(b, _ARRAY) else np.float64(b)
    return np.where(cond, a, b)


#: The functions of `FUNCTIONS` (``math="numpy"``) as the numpy target evaluates them.
NUMPY_FUNCTIONS: dict[str, Callable] = {
    **{name: _np_unary(getattr(np, name)) for name in ("exp", "expm1", "log", "log10", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan")},
    "abs": _np_abs,
    "int": _np_int32,
    "floor": _np_floor,
    "ceil": _np_ceil,
    "timestep": _np_timestep,
    "exprel": _np_exprel,
    "clip": _np_clip,
    "sign": _np_sign,
}

_NP_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

def source(node: ast.AST, names: set, functions: dict, build: Callable, bind: Callable) -> str:
    """The Python source of ``node`` for numpy arrays: ``names`` those the
    environment provides, ``functions`` the torch target's (``math``'s),
    ``build`` the translator's source of a sub-expression (hoisting what is
    fixed), ``bind`` the name of a value in the function's namespace (which
    holds `NUMPY`'s scope). Raises `NotNumpy` for what is not translated."""
    if isinstance(node, ast.Constant):
        if type(node.value) is int and not _INT32.min <= node.value <= _INT32.max:
            raise NotNumpy("an integer outside int32")
        return bind(node.value)
    if isinstance(node, ast.Name):
        if node.id in names:
            return f"env[{node.id!r}]"
        if node.id in _NAMED_CONSTANTS:
            return bind(_NAMED_CONSTANTS[node.id])
    elif isinstance(node, ast.BinOp) and type(node.op) in _NP_OPERATORS:
        return f"({build(node.left)} {_NP_OPERATORS[type(node.op)]} {build(node.right)})"
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return f"_np_pow({build(node.left)}, {build(node.right)})"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        operand = build(node.operand)
        return f"(-{operand})" if isinstance(node.op, ast.USub) else operand if isinstance(node.op, ast.UAdd) else f"_np_not({operand})"
    elif isinstance(node, ast.BoolOp):
        parts = ", ".join(build(v) for v in node.values)
        return f"_np_logical({'and' if isinstance(node.op, ast.And) else 'or'!r}, [{parts}])"
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _NP_OPERATORS:
        return f"({build(node.left)} {_NP_OPERATORS[type(node.ops[0])]} {build(node.comparators[0])})"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords and node.func.id in NUMPY_FUNCTIONS and (node.func.id in functions or node.func.id not in names):
        return f"{bind(NUMPY_FUNCTIONS[node.func.id])}({', '.join(build(a) for a in node.args)})"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords and node.func.id in names and node.func.id not in functions:
        return f"_np_call(env[{node.func.id!r}], {', '.join(build(a) for a in node.args)})"  # provided by the environment
    raise NotNumpy(ast.unparse(node))


#: The numpy target: `source`, and the names its sources call.
NUMPY = Target(source, {"_np_pow": _np_pow, "_np_not": _np_not, "_np_logical": _np_logical, "_np_call": _np_call})


def compile_numpy(expr: str, names: set[str], where: str, math: str = "numpy", fixed: set[str] | None = None, hoisted: list | None = None, prefix: str = "_fixed_") -> Compiled:
    """`translate.compile_expression` for numpy arrays (``math="numpy"``
    only): the same operations on the same values, for evaluation without
    gradients on the CPU; with ``hoisted``, the hoisted sub-expressions get
    the names the torch function gives them, with no function (the prelude
    is the torch function's). An expression this target does not translate
    raises `NotNumpy`."""
    if math != "numpy":
        raise NotNumpy(f"math={math!r}")
    return compile_expression(expr, names, where, math, fixed=fixed, hoisted=hoisted, prefix=prefix, target=NUMPY)
