"""The elementary functions of Brian2 code as the twin computes them, one table per ``math`` mode (`MATH_MODES`).

- ``math="numpy"`` (`FUNCTIONS`): transcendental functions on CPU tensors
  evaluated by numpy itself, bit-faithful to Brian2's numpy runtime (``sign``
  as ``np.sign``: NaN for NaN).
- ``math="libm"`` (`LIBM_FUNCTIONS`): evaluated by the C library that compiled
  Brian2 code calls, bit-faithful to cpp_standalone without fast math (powers
  as g++ compiles them, `LIBM_FOLDED_POWERS`; ``sign`` as Brian2's C++
  ``_sign``: 0 for NaN).
- ``math="torch"`` (`TORCH_FUNCTIONS`): torch's own, on every device, what a
  compiler fuses (reproducing neither).

The derivative is supplied to autograd: torch's vectorised ``exp``, ``log``,
``tanh``, ``sqrt`` differ from numpy's and the C library's in the last bit for
a large fraction of inputs, and numpy's differ from the C library's. On CUDA
tensors torch's own functions are used. Also here: what the operators and the
functions share (numpy's division `divide` and powers `_pow`, float64
promotion `_as_float`). The translator (`translate`) binds a table's functions
into the expressions it compiles.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

import numpy as np
import torch

from ...errors import BackendError
from .spikes import unbroadcast

__all__ = ["FUNCTIONS", "LIBM_FUNCTIONS", "TORCH_FUNCTIONS", "LIBM_FOLDED_POWERS", "MATH_MODES", "EXPREL_SMALL", "EXPREL_LARGE", "divide"]


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
