"""Translate Brian2 abstract-code expressions into torch operations.

This is the twin's counterpart of Brian2's ``NumpyNodeRenderer``: an expression
string (as it comes out of ``brian2.codegen.translation.make_statements``) is
parsed with Python's ``ast`` and turned into a tree of closures that evaluate
the same operations, in the same order, with numpy's semantics:

- ``a/b`` with a Python number ``a`` is computed as a 0-d tensor divided by
  ``b``: torch's scalar-by-tensor division multiplies by a reciprocal and
  differs from IEEE division in the last bit.
- ``x**2`` is ``x*x``, ``x**0.5`` is ``sqrt(x)`` and ``x**-1`` is ``1/x``, as
  numpy's fast scalar power does; other powers call numpy's ``power``.
- ``int``, ``floor`` and ``ceil`` return int32 (Brian2's numpy implementations).
- Functions (``exp``, ``tanh``, ``exprel``, ``sign`` ...) are those of the
  ``math`` mode (`functions.MATH_MODES`): numpy's, the C library's or torch's.
- ``x**c`` with a constant ``c`` in compiled code (``math="libm"``) is what
  g++ makes of Brian2's ``_brian_pow(x, c)``, i.e. ``pow(x, c)``: at
  bioadapt's flags (``-O3 -fno-fast-math -ffp-contract=off``) it replaces
  the integral exponents -1, 0, 1 and 2 by ``1.0/x``, ``1.0``, ``x`` and
  ``x*x`` (an integer base converted to double first) and calls the C
  library's ``pow`` for every other exponent (0.5, 3, -2, 3.3, ...) and for
  exponents that are variables (`functions.LIBM_FOLDED_POWERS`).

Noise in neuron and synapse code reaches the twin as counter-based sources
(`bioadapt.noise`), functions of ``(t, i)`` (``i`` the neuron's or the
synapse's index) that it draws as the Brian2 backends do. Brian2's own random
functions where they remain (``poisson``, ``xi`` under a method other than
Euler's) draw from a stateful generator the twin cannot follow and are
refused with an error that names the population and the Brian2 backends
that run it.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ...errors import BackendError
from .functions import LIBM_FOLDED_POWERS, MATH_MODES, _as_float, _libm_pow, _pow, _RandomRefused, _torch_pow, divide

__all__ = ["compile_expression", "is_fixed_expression", "Target", "Env"]

Env = dict
Compiled = Callable[[Env], Any]


def _constant_exponent(node: ast.AST) -> float | None:
    """The value of an exponent written as a number (``2``, ``-1``, ``+0.5``), else None."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * node.value
    return None


_INT32 = torch.iinfo(torch.int32)


def _promoting(op: Callable) -> Callable:
    """``op`` with numpy's promotion of an integer or boolean tensor meeting a
    Python float: float64 (torch alone would compute in its default float32);
    and of an int32 tensor (``int()``, ``floor``, ``ceil``) meeting a Python
    int outside int32: int64, as numpy 1 and compiled code compute (torch
    alone wraps the number silently; numpy 2 refuses it, NEP 50)."""

    def apply(a, b):
        if type(b) is float and isinstance(a, torch.Tensor) and not a.is_floating_point():
            a = a.to(torch.float64)
        elif type(a) is float and isinstance(b, torch.Tensor) and not b.is_floating_point():
            b = b.to(torch.float64)
        elif type(b) is int and isinstance(a, torch.Tensor) and a.dtype == torch.int32 and not _INT32.min <= b <= _INT32.max:
            a = a.to(torch.int64)
        elif type(a) is int and isinstance(b, torch.Tensor) and b.dtype == torch.int32 and not _INT32.min <= a <= _INT32.max:
            b = b.to(torch.int64)
        return op(a, b)

    return apply


def _remainder(a, b):
    """``%`` of the numpy runtime: Python's sign convention (``np.remainder``)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.remainder(a, b) if isinstance(a, torch.Tensor) else torch.remainder(torch.as_tensor(a, dtype=b.dtype if b.is_floating_point() else None), b)
    return float(np.remainder(a, b)) if isinstance(a, float) or isinstance(b, float) else a % b


def _floor_divide(a, b):
    """``//`` of the numpy runtime (``np.floor_divide``)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a = a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=b.dtype if b.is_floating_point() else None)
        return torch.div(a, b, rounding_mode="floor")
    return float(np.floor_divide(a, b)) if isinstance(a, float) or isinstance(b, float) else a // b


def _compiled_remainder(a, b):
    """``%`` of Brian2's generated C++ (``_brian_mod``): Python's convention for
    integers, ``x - y*floor(1.0*x/y)`` for floating-point numbers."""
    if _integral(a) and _integral(b):
        return _remainder(a, b)
    a, b = _as_float(a), _as_float(b)
    return a - b * _floor(divide(a, b))


def _compiled_floor_divide(a, b):
    """``//`` of Brian2's generated C++ (``_brian_floordiv``): Python's
    convention for integers, ``floor(1.0*x/y)`` for floating-point numbers."""
    if _integral(a) and _integral(b):
        return _floor_divide(a, b)
    return _floor(divide(_as_float(a), _as_float(b)))


def _integral(x) -> bool:
    return not x.is_floating_point() if isinstance(x, torch.Tensor) else isinstance(x, (int, bool, np.integer))


def _floor(x):
    return torch.floor(x) if isinstance(x, torch.Tensor) else float(np.floor(x))


_BINARY = {
    ast.Add: _promoting(operator.add),
    ast.Sub: _promoting(operator.sub),
    ast.Mult: _promoting(operator.mul),
    ast.Div: divide,
    ast.Pow: _pow,
    ast.Mod: _promoting(_remainder),
    ast.FloorDiv: _promoting(_floor_divide),
}

_COMPARE = {
    ast.Lt: _promoting(operator.lt),
    ast.LtE: _promoting(operator.le),
    ast.Gt: _promoting(operator.gt),
    ast.GtE: _promoting(operator.ge),
    ast.Eq: _promoting(operator.eq),
    ast.NotEq: _promoting(operator.ne),
}

_NAMED_CONSTANTS = {"True": True, "False": False, "inf": float("inf")}


def _logicals(array: type | tuple, logical_and: Callable, logical_or: Callable, logical_not: Callable, as_array: Callable) -> tuple[Callable, Callable]:
    """``and``/``or`` of several values and ``not`` for the arrays of one
    target: elementwise where a value is an ``array`` (the others made arrays
    by ``as_array``), Python's own on plain values."""
    def logical(op: str, values: list):
        result = values[0]
        for value in values[1:]:
            if isinstance(result, array) or isinstance(value, array):
                result = (logical_and if op == "and" else logical_or)(as_array(result), as_array(value))
            else:
                result = (result and value) if op == "and" else (result or value)
        return result

    def negate(x):
        return logical_not(x) if isinstance(x, array) else not x

    return logical, negate


_logical, _not = _logicals(torch.Tensor, torch.logical_and, torch.logical_or, torch.logical_not,
                           lambda x: x if isinstance(x, torch.Tensor) else torch.tensor(bool(x)))


def _chained(ops: tuple, values: list):
    """A chained comparison (``a < b < c``): every comparison evaluated, then and-ed."""
    return _logical("and", [op(values[k], values[k + 1]) for k, op in enumerate(ops)])


def is_fixed_expression(expr: str, fixed: set[str], math: str = "numpy") -> bool:
    """Whether ``expr`` reads only names in ``fixed`` (and calls only pure known functions)."""
    return _is_fixed(ast.parse(expr, mode="eval").body, fixed, MATH_MODES[math])


def _is_fixed(node: ast.AST, fixed, functions) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in fixed or node.id in _NAMED_CONSTANTS
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in functions or name in _RANDOM or node.keywords:
            return False
        return all(_is_fixed(a, fixed, functions) for a in node.args)
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)):
        return all(_is_fixed(c, fixed, functions) for c in ast.iter_child_nodes(node) if not isinstance(c, (ast.operator, ast.unaryop, ast.boolop, ast.cmpop)))
    return False


_RANDOM = ("rand", "randn", "poisson")


@dataclass(frozen=True)
class Target:
    """What `compile_expression` builds for other arrays than the twin's
    tensors (`numpy_target.NUMPY`): ``source(node, names, functions, build,
    bind)``, the Python source of an expression node (``build`` gives the
    source of a sub-expression, ``bind`` the name of a value in the function's
    namespace; it raises for what it does not translate), and ``scope``, the
    names its sources call."""

    source: Callable
    scope: dict


def compile_expression(expr: str, names: set[str], where: str, math: str = "numpy", fixed: set[str] | None = None, hoisted: list | None = None, prefix: str = "_fixed_", target: Target | None = None) -> Compiled:
    """Compile one Brian2 expression into a function of an environment.

    Parameters
    ----------
    expr : str
        Expression in Brian2's abstract-code syntax (``and``, ``or``, ``not``,
        ``**``, function calls).
    names : set of str
        Names the environment will provide (variables, constants, temporaries).
    where : str
        Location used in error messages (population, code block).
    math : {"numpy", "libm"}
        Whose elementary functions to reproduce: Brian2's numpy runtime or
        compiled code (cpp_standalone).

    fixed : set of str, optional
        Names whose values do not change over a run (parameters, constants,
        ``dt``). With ``hoisted``, every largest sub-expression that reads only
        such names (``exp(-dt/tau)``, ``-tau``) is compiled on its own and
        appended to ``hoisted`` as ``(name, fn)``; the returned function reads
        its value from ``env[name]``. Evaluating the hoisted functions once per
        run, in order, gives bitwise the values of evaluating them every step.
    hoisted : list, optional
        Receives the hoisted sub-expressions (see ``fixed``).
    prefix : str
        Prefix of the generated names (``prefix + str(index in hoisted)``).
    target : Target, optional
        What the function computes on: the twin's tensors (None), or the
        arrays of another `Target` (`numpy_target.compile_numpy`). With a
        target and ``hoisted``, the hoisted sub-expressions get the names the
        tensors' function gives them, with no function (the prelude is the
        tensors').

    Returns
    -------
    callable
        ``fn(env) -> tensor or number``.

    Raises
    ------
    BackendError
        For a function or construct the twin cannot translate.
    """
    functions = MATH_MODES[math]
    binary = dict(_BINARY)
    if math == "libm":
        binary.update({ast.Pow: _libm_pow, ast.Mod: _promoting(_compiled_remainder), ast.FloorDiv: _promoting(_compiled_floor_divide)})
    elif math == "torch":
        binary[ast.Pow] = _torch_pow
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError as exc:
        raise BackendError(f"{where}: cannot parse expression '{expr}': {exc}") from None

    # The expression becomes the source of one Python function of ``env``: every
    # operator a call of its function (evaluated left to right, as nested calls
    # are), every constant and function a name of the namespace ``scope``.
    scope: dict = {"_not": _not, "_logical": _logical, "_chained": _chained}

    def bind(value) -> str:
        name = f"_k{len(scope)}"
        scope[name] = value
        return name

    def function(source: str) -> Compiled:
        return eval(f"lambda env: {source}", scope)  # noqa: S307 (source built here from the parsed tree)

    def build(node: ast.AST, hoist: bool = fixed is not None and hoisted is not None) -> str:
        if hoist and not isinstance(node, (ast.Constant, ast.Name)) and _is_fixed(node, fixed, functions):
            inner = None if target is not None else function(build(node, False))
            name = f"{prefix}{len(hoisted)}"
            hoisted.append((name, inner))
            return f"env[{name!r}]"
        if target is not None:
            return target.source(node, names, functions, lambda inner: build(inner, hoist), bind)
        if isinstance(node, ast.Constant):
            return bind(node.value)
        if isinstance(node, ast.Name):
            name = node.id
            if name in names:
                return f"env[{name!r}]"
            if name in _NAMED_CONSTANTS:
                return bind(_NAMED_CONSTANTS[name])
            raise BackendError(f"{where}: unknown name '{name}' in '{expr}'.")
        if math == "libm" and isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = _constant_exponent(node.right)
            if exponent is not None and exponent in LIBM_FOLDED_POWERS:  # folded by the compiler
                return f"{bind(LIBM_FOLDED_POWERS[int(exponent)])}({build(node.left, hoist)})"
        if isinstance(node, ast.BinOp) and type(node.op) in binary:
            return f"{bind(binary[type(node.op)])}({build(node.left, hoist)}, {build(node.right, hoist)})"
        if isinstance(node, ast.UnaryOp):
            operand = build(node.operand, hoist)
            if isinstance(node.op, ast.USub):
                return f"(-{operand})"
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return f"_not({operand})"
        if isinstance(node, ast.BoolOp):
            parts = ", ".join(build(v, hoist) for v in node.values)
            return f"_logical({'and' if isinstance(node.op, ast.And) else 'or'!r}, [{parts}])"
        if isinstance(node, ast.Compare):
            left = build(node.left, hoist)
            ops = [_COMPARE[type(o)] for o in node.ops]
            rights = [build(c, hoist) for c in node.comparators]
            if len(ops) == 1:
                return f"{bind(ops[0])}({left}, {rights[0]})"
            return f"_chained({bind(tuple(ops))}, [{left}, {', '.join(rights)}])"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fname = node.func.id
            if fname in names and fname not in functions:  # provided by the environment
                args = ", ".join(build(a, hoist) for a in node.args)
                return f"env[{fname!r}]({args})"
            if fname in _RANDOM:
                try:
                    functions[fname]()
                except _RandomRefused as exc:
                    raise BackendError(f"{where}: {exc}") from None
            if fname not in functions:
                raise BackendError(
                    f"{where}: the twin cannot translate function '{fname}' in '{expr}'. "
                    f"Functions it knows: {', '.join(sorted(functions))}."
                )
            return f"{bind(functions[fname])}({', '.join(build(a, hoist) for a in node.args)})"
        raise BackendError(f"{where}: the twin cannot translate '{ast.unparse(node)}' in '{expr}'.")

    if target is not None:
        scope.update(target.scope)
    return function(build(tree))
