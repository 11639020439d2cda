"""The expression translator reproduces numpy's (and the C library's) arithmetic bit for bit."""

import math

import numpy as np
import pytest
import torch

from bioadapt import BackendError
from bioadapt.backends.torch.translate import compile_expression

RNG = np.random.default_rng(0)
X = RNG.uniform(0.1, 5.0, 20000)
Y = RNG.normal(size=20000)


def _eval(expr, math_mode="numpy", **env):
    fn = compile_expression(expr, set(env), "test", math_mode)
    return fn({k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in env.items()})


@pytest.mark.parametrize(
    "expr, reference",
    [
        ("0.37/x", lambda x, y: 0.37 / x),
        ("y/x", lambda x, y: y / x),
        ("x**2", lambda x, y: x**2),
        ("x**3", lambda x, y: x**3),
        ("x**0.5", lambda x, y: x**0.5),
        ("x**-1", lambda x, y: x**-1),
        ("exp(-y)", lambda x, y: np.exp(-y)),
        ("tanh(y)*x", lambda x, y: np.tanh(y) * x),
        ("log(x) + sqrt(x)", lambda x, y: np.log(x) + np.sqrt(x)),
        ("clip(y, -0.5, 0.5)", lambda x, y: np.clip(y, -0.5, 0.5)),
        ("int(y > 0)*x", lambda x, y: np.int32(y > 0) * x),
        ("int(3.7*y)", lambda x, y: np.int32(3.7 * y)),
        ("(y > 0) and (x < 2)", lambda x, y: np.logical_and(y > 0, x < 2)),
        ("not (y > 0) or x > 4", lambda x, y: np.logical_or(np.logical_not(y > 0), x > 4)),
    ],
)
def test_numpy_semantics_bitwise(expr, reference):
    got = _eval(expr, x=X, y=Y).numpy()
    want = reference(X, Y)
    assert got.dtype == np.asarray(want).dtype
    assert np.array_equal(got, want)


K = RNG.integers(-50, 50, 20000)
B = Y > 0


@pytest.mark.parametrize(
    "expr, reference",
    [
        ("0.1*k", lambda y, k, b: 0.1 * k),
        ("2*3.141592653589793*k/50", lambda y, k, b: 2 * 3.141592653589793 * k / 50),
        ("k*0.37 + 2.5 - k", lambda y, k, b: k * 0.37 + 2.5 - k),
        ("b*0.3", lambda y, k, b: b * 0.3),
        ("sin(k)", lambda y, k, b: np.sin(k)),
        ("k % 7", lambda y, k, b: k % 7),
        ("k // -3", lambda y, k, b: k // -3),
        ("k % 0.7", lambda y, k, b: k % 0.7),
        ("y % 0.7", lambda y, k, b: y % 0.7),
        ("y // 0.1", lambda y, k, b: y // 0.1),
        ("-2.5 % y", lambda y, k, b: -2.5 % y),
        ("k > 0.5", lambda y, k, b: k > 0.5),
    ],
)
def test_integers_and_booleans_with_floats_follow_numpy(expr, reference):
    """numpy computes an integer array with a Python float in float64 (torch alone: float32)."""
    got = _eval(expr, y=Y, k=K, b=B).numpy()
    want = reference(Y, K, B)
    assert got.dtype == np.asarray(want).dtype
    assert np.array_equal(got, want)


def test_integer_compared_with_a_float_is_exact():
    big = np.array([2**24 + 1, 2**24], dtype=np.int64)  # 2**24 + 1 has no float32
    assert _eval("k > 16777216.5", k=big).tolist() == [True, False]


def test_modulo_and_floor_division_of_both_runtimes():
    """Brian2's numpy runtime uses numpy's % and //, its C++ ``x - y*floor(1.0*x/y)``
    and ``floor(1.0*x/y)`` for floats: 1.0 // 0.1 is 9 in one and 10 in the other."""
    assert _eval("x // 0.1", x=np.array([1.0])).item() == 9.0
    assert _eval("x // 0.1", "libm", x=np.array([1.0])).item() == 10.0
    x, y = X * 7.3, np.where(np.abs(Y) < 0.05, 0.05, Y)
    assert np.array_equal(_eval("x % y", "libm", x=x, y=y).numpy(), x - y * np.floor(x / y))
    assert np.array_equal(_eval("x // y", "libm", x=x, y=y).numpy(), np.floor(x / y))
    assert np.array_equal(_eval("k % 7", "libm", k=K).numpy(), K % 7)  # integers: Python's convention in both
    assert np.array_equal(_eval("k // -3", "libm", k=K).numpy(), K // -3)


def test_torch_division_alone_would_not_be_exact():
    """Why the translator wraps scalars: torch's scalar/tensor division is not IEEE division."""
    naive = (0.37 / torch.from_numpy(X)).numpy()
    assert np.any(naive != 0.37 / X)


@pytest.mark.parametrize("name", ["exp", "tanh", "log", "expm1", "sin"])
def test_libm_mode_matches_the_c_library(name):
    got = _eval(f"{name}(x)", "libm", x=X[:2000]).numpy()
    want = np.array([getattr(math, name)(v) for v in X[:2000]])
    assert np.array_equal(got, want)


def test_libm_power_matches_c_pow():
    got = _eval("x**3.3", "libm", x=X[:2000]).numpy()
    assert np.array_equal(got, np.array([math.pow(v, 3.3) for v in X[:2000]]))


def test_timestep_matches_brian2():
    from brian2.core.functions import timestep

    t = np.arange(0, 1000) * 1e-4
    got = _eval("timestep(t, dt)", t=t, dt=1e-4).numpy()
    assert np.array_equal(got, timestep(t, 1e-4))


def test_random_functions_are_refused():
    with pytest.raises(BackendError, match=r"test: the twin cannot translate .rand\(\)..*Draw random values in the network config"):
        _eval("x + rand()", x=X)


def test_unknown_function_is_refused_at_compile_time():
    with pytest.raises(BackendError, match=r"test: the twin cannot translate function 'erf' in 'erf\(x\)'"):
        compile_expression("erf(x)", {"x"}, "test")


def test_gradients_of_numpy_backed_functions():
    x = torch.tensor([0.3, 1.1, 2.0], dtype=torch.float64, requires_grad=True)
    for expr in ["exp(x)", "tanh(x)", "log(x)", "sqrt(x)", "x**3.5", "exprel(x)"]:
        fn = compile_expression(expr, {"x"}, "test")
        assert torch.autograd.gradcheck(lambda v: fn({"x": v}), (x,)), expr
