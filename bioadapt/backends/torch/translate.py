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
- Transcendental functions on CPU tensors are evaluated by numpy itself
  (``math="numpy"``, bit-faithful to Brian2's numpy runtime) or by the C
  library that compiled Brian2 code calls (``math="libm"``, bit-faithful to
  cpp_standalone without fast math), with the derivative supplied to autograd:
  torch's vectorised ``exp``, ``log``, ``tanh``, ``sqrt`` differ from both in
  the last bit for a large fraction of inputs, and numpy's differ from the C
  library's. On CUDA tensors torch's own functions are used.
- ``x**c`` with a constant ``c`` in compiled code (``math="libm"``) is what
  g++ makes of Brian2's ``_brian_pow(x, c)``, i.e. ``pow(x, c)``: at
  bioadapt's flags (``-O3 -fno-fast-math -ffp-contract=off``) it replaces
  the integral exponents -1, 0, 1 and 2 by ``1.0/x``, ``1.0``, ``x`` and
  ``x*x`` (an integer base converted to double first) and calls the C
  library's ``pow`` for every other exponent (0.5, 3, -2, 3.3, ...) and for
  exponents that are variables (`LIBM_FOLDED_POWERS`).

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
import ctypes
import ctypes.util
import operator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ...errors import BackendError
from .spikes import unbroadcast

__all__ = ["compile_expression", "Target", "FUNCTIONS", "LIBM_FUNCTIONS", "TORCH_FUNCTIONS", "LIBM_FOLDED_POWERS", "MATH_MODES", "Env", "EXPREL_SMALL", "EXPREL_LARGE"]

Env = dict
Compiled = Callable[[Env], Any]


def _numpy_unary(name: str, np_fn: Callable, torch_fn: Callable, derivative: Callable) -> Callable:
    """Elementwise function evaluated by numpy on CPU, with a torch derivative."""

    class _Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            if x.device.type == "cpu":
                y = torch.from_numpy(np.asarray(np_fn(x.detach().numpy())))
            else:
                y = torch_fn(x)
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * derivative(x, y)

    _Op.__name__ = f"NumpyFaithful_{name}"

    def apply(x):
        if not isinstance(x, torch.Tensor):
            return float(np_fn(np.float64(x)))
        return _Op.apply(_as_float(x))

    return apply


def _same_dtype(x: torch.Tensor, p: torch.Tensor) -> tuple:
    """``x`` and ``p`` as numpy arrays of torch's result dtype for them. numpy
    alone would follow its own promotion, which NEP 50 changed: a float32 array
    and a 0-d float64 give float32 under numpy 1, float64 under numpy 2."""
    dtype = torch.result_type(x, p)
    return x.detach().to(dtype).numpy(), p.detach().to(dtype).numpy()


class _Power(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p):
        if x.device.type == "cpu":
            y = torch.from_numpy(np.asarray(np.power(*_same_dtype(x, p))))
        else:
            y = torch.pow(x, p)
        ctx.save_for_backward(x, p, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, p, y = ctx.saved_tensors
        gx = grad * p * torch.pow(x, p - 1)
        safe_log = torch.log(torch.where(x > 0, x, torch.ones_like(x)))
        gp = grad * y * safe_log
        return unbroadcast(gx, x.shape), unbroadcast(gp, p.shape)


def _like(value, other) -> torch.Tensor:
    """A Python number as a 0-d tensor of ``other``'s float dtype and device."""
    dtype = other.dtype if other.is_floating_point() else torch.float64
    return torch.tensor(value, dtype=dtype, device=other.device)


def _as_float(x):
    if isinstance(x, torch.Tensor) and not x.is_floating_point():
        return x.to(torch.float64)
    return x


def divide(a, b):
    """IEEE division with numpy's semantics (a Python-number numerator becomes a 0-d tensor)."""
    a_tensor = isinstance(a, torch.Tensor)
    if a_tensor and isinstance(b, torch.Tensor) and a.is_floating_point() and b.is_floating_point():
        return a / b  # the common case, without the conversions below
    if a_tensor or isinstance(b, torch.Tensor):
        a, b = _as_float(a), _as_float(b)
        if not isinstance(a, torch.Tensor):
            a = _like(a, b)
        return a / b
    return a / b


def _sqrt(x):
    return FUNCTIONS["sqrt"](x)


def _pow(a, b, power=_Power.apply, sqrt=_sqrt):
    """``a**b``: numpy's power (``power``), with numpy's fast scalar power for the special exponents."""
    if isinstance(b, (int, float)) and isinstance(a, torch.Tensor) and a.dim() > 0:
        # numpy's fast_scalar_power for an array base and a Python exponent
        if b == 2:
            return a * a
        if b == 0.5:
            return sqrt(a)
        if b == -1:
            return divide(1.0, a)
        if b == 1:
            return _as_float(a) + 0 if not a.is_floating_point() else a
        if b == 0:
            return torch.ones_like(_as_float(a))
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        return float(np.power(np.float64(a), np.float64(b)))
    ref = a if isinstance(a, torch.Tensor) else b
    a = _as_float(a) if isinstance(a, torch.Tensor) else _like(a, ref)
    b = _as_float(b) if isinstance(b, torch.Tensor) else _like(b, ref)
    return power(a, b)


def _int32(x):
    if isinstance(x, torch.Tensor):
        return x.to(torch.int32)
    return int(x)


def _timestep(t, dt):
    # Brian2: int64((t + 1e-3*dt)/dt), shifted so multiples of dt stay put
    value = divide(t + 1e-3 * dt, dt)
    if isinstance(value, torch.Tensor):
        return value.to(torch.int64)
    return int(value)


def _clip(x, low, high):
    if not isinstance(x, torch.Tensor):
        return float(np.clip(x, low, high))
    low = low if isinstance(low, torch.Tensor) else _like(low, x)
    high = high if isinstance(high, torch.Tensor) else _like(high, x)
    return torch.minimum(torch.maximum(x, low), high)


#: Brian2's exprel (numpy and C++ alike): 1 for ``|x| <`` `EXPREL_SMALL`, inf above `EXPREL_LARGE`, else ``expm1(x)/x``
EXPREL_SMALL, EXPREL_LARGE = 1e-16, 717


def _exprel_with(functions: dict) -> Callable:
    # Brian2's exprel with ``functions``' expm1 (`EXPREL_SMALL`, `EXPREL_LARGE`)
    def exprel(x):
        if not isinstance(x, torch.Tensor):  # a number: the same operations in float64
            x = torch.tensor(float(x), dtype=torch.float64)
            return float(exprel(x))
        x = _as_float(x)
        ex = functions["expm1"](x)
        small = torch.abs(x) < EXPREL_SMALL
        safe = torch.where(small, torch.ones_like(x), x)
        value = torch.where(small, torch.ones_like(ex), divide(ex, safe))
        return torch.where(x > EXPREL_LARGE, torch.full_like(value, float("inf")), value)

    return exprel


class _RandomRefused(BackendError):
    """Raised by the stand-ins of Brian2's random functions."""


def _random(name: str):
    def refuse(*args):
        del args
        raise _RandomRefused(
            f"the twin cannot translate '{name}()' here: Brian2's own generator draws it (poisson(), or xi "
            "under a method other than 'euler'), and the twin does not follow that generator. The Brian2 "
            "backends (numpy, cpp_standalone, cuda_standalone) run this network, drawing from the network's "
            "seed. The twin draws xi (under 'euler'), rand() and randn() in neuron and synapse code; random "
            "initial values or weights belong in the network config (drawn from the seed)."
        )

    return refuse


def _d_tanh(x, y):
    del x
    return 1 - y * y


def _sign(x):
    """numpy's ``sign`` (Brian2's numpy runtime): -1, 0 or 1, NaN for NaN (which ``torch.sign`` makes 0)."""
    if not isinstance(x, torch.Tensor):
        return float(np.sign(x))
    sign = torch.sign(x)
    return torch.where(torch.isnan(x), x, sign) if x.is_floating_point() else sign


def _c_sign(x):
    """The ``sign`` of Brian2's C++ code (``_sign``: ``(T(0) < x) - (x < T(0))``), as a number of the argument's kind: 0 for NaN."""
    if not isinstance(x, torch.Tensor):
        return float((0 < x) - (x < 0))
    return torch.sign(x)


#: Functions the twin knows, by their name in Brian2 abstract code.
FUNCTIONS: dict[str, Callable] = {
    "exp": _numpy_unary("exp", np.exp, torch.exp, lambda x, y: y),
    "expm1": _numpy_unary("expm1", np.expm1, torch.expm1, lambda x, y: y + 1),
    "log": _numpy_unary("log", np.log, torch.log, lambda x, y: 1 / x),
    "log10": _numpy_unary("log10", np.log10, torch.log10, lambda x, y: 1 / (x * np.log(10.0))),
    "sqrt": _numpy_unary("sqrt", np.sqrt, torch.sqrt, lambda x, y: 0.5 / y),
    "sin": _numpy_unary("sin", np.sin, torch.sin, lambda x, y: torch.cos(x)),
    "cos": _numpy_unary("cos", np.cos, torch.cos, lambda x, y: -torch.sin(x)),
    "tan": _numpy_unary("tan", np.tan, torch.tan, lambda x, y: 1 + y * y),
    "sinh": _numpy_unary("sinh", np.sinh, torch.sinh, lambda x, y: torch.cosh(x)),
    "cosh": _numpy_unary("cosh", np.cosh, torch.cosh, lambda x, y: torch.sinh(x)),
    "tanh": _numpy_unary("tanh", np.tanh, torch.tanh, _d_tanh),
    "arcsin": _numpy_unary("arcsin", np.arcsin, torch.asin, lambda x, y: 1 / torch.sqrt(1 - x * x)),
    "arccos": _numpy_unary("arccos", np.arccos, torch.acos, lambda x, y: -1 / torch.sqrt(1 - x * x)),
    "arctan": _numpy_unary("arctan", np.arctan, torch.atan, lambda x, y: 1 / (1 + x * x)),
    "abs": lambda x: torch.abs(x) if isinstance(x, torch.Tensor) else abs(x),
    "sign": _sign,
    "int": _int32,
    "floor": lambda x: _int32(torch.floor(x)) if isinstance(x, torch.Tensor) else int(np.floor(x)),
    "ceil": lambda x: _int32(torch.ceil(x)) if isinstance(x, torch.Tensor) else int(np.ceil(x)),
    "clip": _clip,
    "timestep": _timestep,
    "rand": _random("rand"),
    "randn": _random("randn"),
    "poisson": _random("poisson"),
}

_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")


def _libm_function(name: str, arity: int = 1):
    fn = getattr(_LIBM, name)
    fn.restype = ctypes.c_double
    fn.argtypes = [ctypes.c_double] * arity
    return np.frompyfunc(fn, arity, 1)


def _libm_numpy(name: str, arity: int = 1):
    """A numpy-callable that applies the C library's ``name`` elementwise."""
    ufunc = _libm_function(name, arity)

    def apply(*arrays):
        return np.asarray(ufunc(*arrays), dtype=np.result_type(*arrays, np.float64) if arrays[0].dtype != np.float32 else np.float32)

    return apply


class _LibmPower(_Power):
    @staticmethod
    def forward(ctx, x, p):
        if x.device.type == "cpu":
            y = torch.from_numpy(_LIBM_POW(x.detach().numpy(), p.detach().numpy()))
        else:
            y = torch.pow(x, p)
        ctx.save_for_backward(x, p, y)
        return y


_LIBM_POW = _libm_numpy("pow", 2)


def _libm_pow(a, b):
    # pow() of the C library: what compiled Brian2 code calls for an exponent
    # that is not folded at compile time (see `LIBM_FOLDED_POWERS`)
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        return float(_LIBM_POW(np.float64(a), np.float64(b)))
    ref = a if isinstance(a, torch.Tensor) else b
    a = _as_float(a) if isinstance(a, torch.Tensor) else _like(a, ref)
    b = _as_float(b) if isinstance(b, torch.Tensor) else _like(b, ref)
    return _LibmPower.apply(a, b)


def _double(x):
    """``x`` as C++ converts a ``pow`` argument: a double (a float tensor stays as it is)."""
    return _as_float(x) if isinstance(x, torch.Tensor) else float(x)


def _one(x):
    return torch.ones_like(x) if isinstance(x, torch.Tensor) else 1.0


#: ``pow(x, c)`` for a constant exponent ``c`` as g++ compiles it at bioadapt's
#: flags (``device.FAITHFUL_GCC_FLAGS``): the integral exponents -1, 0, 1 and 2
#: become arithmetic (GCC expands ``pow`` with such an exponent into
#: multiplications without ``-funsafe-math-optimizations``); every other
#: exponent stays a call of the C library's ``pow`` (``x**0.5`` is not
#: ``sqrt(x)``, ``x**3`` not ``x*x*x``). Checked against compiled code in
#: ``tests/backends/torch/test_translate.py::test_libm_power_folding``.
LIBM_FOLDED_POWERS: dict[int, Callable] = {
    2: lambda x: _double(x) * _double(x),
    1: _double,
    0: lambda x: _one(_double(x)),
    -1: lambda x: divide(1.0, _double(x)),
}


def _constant_exponent(node: ast.AST) -> float | None:
    """The value of an exponent written as a number (``2``, ``-1``, ``+0.5``), else None."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * node.value
    return None


#: The same functions evaluated by the C library (what cpp_standalone calls).
LIBM_FUNCTIONS: dict[str, Callable] = dict(FUNCTIONS)
for _name, _torch_fn, _derivative in [
    ("exp", torch.exp, lambda x, y: y),
    ("expm1", torch.expm1, lambda x, y: y + 1),
    ("log", torch.log, lambda x, y: 1 / x),
    ("log10", torch.log10, lambda x, y: 1 / (x * np.log(10.0))),
    ("sin", torch.sin, lambda x, y: torch.cos(x)),
    ("cos", torch.cos, lambda x, y: -torch.sin(x)),
    ("tan", torch.tan, lambda x, y: 1 + y * y),
    ("sinh", torch.sinh, lambda x, y: torch.cosh(x)),
    ("cosh", torch.cosh, lambda x, y: torch.sinh(x)),
    ("tanh", torch.tanh, _d_tanh),
]:
    LIBM_FUNCTIONS[_name] = _numpy_unary(_name, _libm_numpy(_name), _torch_fn, _derivative)
LIBM_FUNCTIONS["arcsin"] = _numpy_unary("arcsin", _libm_numpy("asin"), torch.asin, lambda x, y: 1 / torch.sqrt(1 - x * x))
LIBM_FUNCTIONS["arccos"] = _numpy_unary("arccos", _libm_numpy("acos"), torch.acos, lambda x, y: -1 / torch.sqrt(1 - x * x))
LIBM_FUNCTIONS["arctan"] = _numpy_unary("arctan", _libm_numpy("atan"), torch.atan, lambda x, y: 1 / (1 + x * x))
LIBM_FUNCTIONS["exprel"] = _exprel_with(LIBM_FUNCTIONS)
LIBM_FUNCTIONS["sign"] = _c_sign
FUNCTIONS["exprel"] = _exprel_with(FUNCTIONS)



def _torch_unary(torch_fn: Callable, np_fn: Callable) -> Callable:
    """``torch_fn`` itself on tensors (torch's autograd, any device, traceable by
    `torch.compile`); numpy's function on a Python number (a value fixed over a run)."""

    def apply(x):
        if not isinstance(x, torch.Tensor):
            return float(np_fn(np.float64(x)))
        return torch_fn(_as_float(x))

    return apply


def _torch_pow(a, b):
    """``a**b`` by ``torch.pow`` (and ``torch.sqrt``), with the special exponents of numpy's fast scalar power."""
    return _pow(a, b, torch.pow, lambda x: torch.sqrt(_as_float(x)))


#: The same functions as torch computes them on every device: what the twin's
#: compiled execution uses (`Twin(execution="compiled")`), where a compiler
#: fuses them with the arithmetic around them. Not bit-faithful to Brian2 on the
#: CPU (torch's ``exp`` and numpy's differ in the last bit for some inputs).
TORCH_FUNCTIONS: dict[str, Callable] = dict(FUNCTIONS)
for _name, _torch_fn, _np_fn in [
    ("exp", torch.exp, np.exp), ("expm1", torch.expm1, np.expm1), ("log", torch.log, np.log), ("log10", torch.log10, np.log10),
    ("sqrt", torch.sqrt, np.sqrt), ("sin", torch.sin, np.sin), ("cos", torch.cos, np.cos), ("tan", torch.tan, np.tan),
    ("sinh", torch.sinh, np.sinh), ("cosh", torch.cosh, np.cosh), ("tanh", torch.tanh, np.tanh),
    ("arcsin", torch.asin, np.arcsin), ("arccos", torch.acos, np.arccos), ("arctan", torch.atan, np.arctan),
]:
    TORCH_FUNCTIONS[_name] = _torch_unary(_torch_fn, _np_fn)
TORCH_FUNCTIONS["exprel"] = _exprel_with(TORCH_FUNCTIONS)
TORCH_FUNCTIONS["sign"] = _c_sign  # torch's sign: 0 for NaN

#: ``math=`` modes of the twin: whose transcendental functions it reproduces
#: (``torch``: torch's own, reproducing neither; compiled execution and GPUs).
MATH_MODES = {"numpy": FUNCTIONS, "libm": LIBM_FUNCTIONS, "torch": TORCH_FUNCTIONS}

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
