"""The expression translator reproduces numpy's (and the C library's) arithmetic bit for bit."""

import math
import shutil
import subprocess

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


#: Bases for the power forms: wide range, both signs, and the special values.
POW_X = np.concatenate([RNG.uniform(-100.0, 100.0, 20000), [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1e300]])
#: Integer bases (Brian2's ``integer`` is int32), as many as ``POW_X``: large enough that k*k rounds.
POW_K = np.concatenate([RNG.integers(-(2**31) + 1, 2**31 - 1, 20000), [0, 1, -1, 2, 3, 46341, -46341, 2**31 - 1, -(2**31) + 1]]).astype(np.int32)
#: Every form of power the generator writes for a number as exponent.
POWER_FORMS = ["x**2", "x**2.0", "(x - 2.5)**2", "x**-1", "x**(-1.0)", "x**1", "x**0", "x**0.5", "x**3", "x**-2", "x**3.3", "x**-0.5", "k**2", "k**-1", "k**1", "k**0", "k**3"]


def _bits(values):
    return np.asarray(values, dtype=np.float64).view(np.uint64)


@pytest.fixture(scope="module")
def compiled_powers(tmp_path_factory):
    """``POWER_FORMS`` evaluated by a C++ program: each rendered by Brian2's
    C++ renderer with Brian2's ``_brian_pow``, compiled with bioadapt's flags."""
    from brian2.codegen.generators.cpp_generator import pow_support_code
    from brian2.parsing.rendering import CPPNodeRenderer

    from bioadapt.backends.brian.device import FAITHFUL_GCC_FLAGS

    folder = tmp_path_factory.mktemp("powers")
    POW_X.tofile(folder / "x.bin")
    POW_K.tofile(folder / "k.bin")
    lines = [f"    out[{n}*N + m] = {CPPNodeRenderer().render_expr(form)};" for n, form in enumerate(POWER_FORMS)]
    source = "\n".join([
        "#include <cmath>", "#include <cstdio>", "#include <cstdint>", pow_support_code,
        "int main() {",
        f"  const long N = {len(POW_X)};",
        "  static double xs[N], out[N*%d]; static int32_t ks[N];" % len(POWER_FORMS),
        "  FILE *f = fopen(\"x.bin\", \"rb\"); fread(xs, 8, N, f); fclose(f);",
        "  f = fopen(\"k.bin\", \"rb\"); fread(ks, 4, N, f); fclose(f);",
        "  for (long m = 0; m < N; m++) {", "    const double x = xs[m]; const int32_t k = ks[m];",
        *lines,
        "  }",
        "  f = fopen(\"out.bin\", \"wb\"); fwrite(out, 8, N*%d, f); fclose(f);" % len(POWER_FORMS),
        "  return 0;", "}",
    ])
    (folder / "powers.cpp").write_text(source)
    subprocess.run(["g++", *FAITHFUL_GCC_FLAGS, "powers.cpp", "-o", "powers"], cwd=folder, check=True)
    subprocess.run(["./powers"], cwd=folder, check=True)
    out = np.fromfile(folder / "out.bin", dtype=np.float64).reshape(len(POWER_FORMS), len(POW_X))
    return dict(zip(POWER_FORMS, out))


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("form", POWER_FORMS)
def test_libm_power_folding(form, compiled_powers):
    """``math="libm"`` computes every power form as compiled Brian2 code does,
    bit for bit: g++ folds x**2 into x*x and x**-1 into 1.0/x (which differ from
    the C library's pow for some inputs) and calls pow for the rest."""
    with np.errstate(all="ignore"):  # 1e300**2 overflows, 0**-1 divides by zero: as in C
        got = _eval(form, "libm", x=POW_X, k=POW_K).numpy()
    assert np.array_equal(_bits(got), _bits(compiled_powers[form]))


def test_libm_power_rules():
    """The forms g++ folds differ from pow() in the C library (so the folding
    matters); the others are pow() itself."""
    x = POW_X[:20000]  # finite
    assert any(math.pow(v, 2) != v * v for v in x) and any(math.pow(v, -1) != 1 / v for v in x)
    assert np.array_equal(_eval("x**2", "libm", x=x).numpy(), x * x)
    assert np.array_equal(_eval("x**-1", "libm", x=x).numpy(), 1 / x)
    assert np.array_equal(_eval("k**2", "libm", k=POW_K).numpy(), POW_K.astype(np.float64) ** 2)
    positive = np.abs(x)
    for form, exponent in (("x**0.5", 0.5), ("x**3", 3.0), ("x**-2", -2.0)):
        assert np.array_equal(_eval(form, "libm", x=positive).numpy(), np.array([math.pow(v, exponent) for v in positive])), form
    # an exponent that is a variable is never folded: pow() at run time
    two = np.full_like(x, 2.0)
    assert np.array_equal(_eval("x**e", "libm", x=x, e=two).numpy(), np.array([math.pow(v, 2.0) for v in x]))
    # scalars follow the same rules
    assert _eval("d**2", "libm", d=1.1) == 1.1 * 1.1 and _eval("d**3", "libm", d=1.1) == math.pow(1.1, 3)


def test_libm_folded_powers_have_gradients():
    x = torch.tensor([0.3, 1.1, -2.0], dtype=torch.float64, requires_grad=True)
    for expr in ["x**2", "x**-1", "x**1", "x**3"]:
        fn = compile_expression(expr, {"x"}, "test", "libm")
        assert torch.autograd.gradcheck(lambda v: fn({"x": v}), (x,)), expr


def test_sign_is_brian2s_in_each_math_mode(tmp_path):
    """``sign`` as each of Brian2's targets computes it, bit for bit on the
    special values: its numpy runtime (``np.sign``, the implementation its
    numpy generator registers: NaN for NaN) for ``math="numpy"``; its C++
    ``_sign`` (0 for NaN), compiled, for ``math="libm"``; torch's own (0
    for NaN) for ``math="torch"``. Numbers alike."""
    from brian2.codegen.generators.numpy_generator import NumpyCodeGenerator
    from brian2.core.functions import DEFAULT_FUNCTIONS

    numpy_sign = DEFAULT_FUNCTIONS["sign"].implementations[NumpyCodeGenerator].get_code(None)
    x = POW_X
    assert np.array_equal(_bits(_eval("sign(x)", "numpy", x=x).numpy()), _bits(numpy_sign(x)))
    assert np.isnan(_eval("sign(x)", "numpy", x=x).numpy()).sum() == 1
    torch_sign = _eval("sign(x)", "torch", x=x).numpy()
    assert np.array_equal(_bits(torch_sign), _bits(torch.sign(torch.from_numpy(x)).numpy())) and not np.isnan(torch_sign).any()
    for value in (2.5, -0.5, 0.0, float("nan")):
        assert _bits(_eval("sign(d)", "numpy", d=value)) == _bits(numpy_sign(value)), value
        assert _eval("sign(d)", "libm", d=value) == (0.0 if value != value else float(np.sign(value))), value
    assert np.array_equal(_eval("sign(k)", "numpy", k=POW_K).numpy(), numpy_sign(POW_K))
    if shutil.which("g++") is None:
        pytest.skip("needs g++ for Brian2's C++ sign")
    from brian2.codegen.generators.cpp_generator import CPPCodeGenerator

    from bioadapt.backends.brian.device import FAITHFUL_GCC_FLAGS

    cpp_sign = DEFAULT_FUNCTIONS["sign"].implementations[CPPCodeGenerator]  # its support code and name
    x.tofile(tmp_path / "x.bin")
    (tmp_path / "sign.cpp").write_text("\n".join([
        "#include <cstdio>", cpp_sign.get_code(None), "int main() {", f"  const long N = {len(x)};", "  static double xs[N], out[N];",
        "  FILE *f = fopen(\"x.bin\", \"rb\"); fread(xs, 8, N, f); fclose(f);",
        f"  for (long m = 0; m < N; m++) out[m] = {cpp_sign.name}(xs[m]);",
        "  f = fopen(\"out.bin\", \"wb\"); fwrite(out, 8, N, f); fclose(f);", "  return 0;", "}",
    ]))
    subprocess.run(["g++", *FAITHFUL_GCC_FLAGS, "sign.cpp", "-o", "sign"], cwd=tmp_path, check=True)
    subprocess.run(["./sign"], cwd=tmp_path, check=True)
    compiled = np.fromfile(tmp_path / "out.bin", dtype=np.float64)
    assert np.array_equal(_bits(_eval("sign(x)", "libm", x=x).numpy()), _bits(compiled))


def test_timestep_matches_brian2():
    from brian2.core.functions import timestep

    t = np.arange(0, 1000) * 1e-4
    got = _eval("timestep(t, dt)", t=t, dt=1e-4).numpy()
    assert np.array_equal(got, timestep(t, 1e-4))


def test_random_functions_are_refused():
    with pytest.raises(BackendError, match=r"test: the twin cannot translate .rand\(\).*The Brian2 backends \(numpy, cpp_standalone, cuda_standalone\) run this network"):
        _eval("x + rand()", x=X)


def test_unknown_function_is_refused_at_compile_time():
    with pytest.raises(BackendError, match=r"test: the twin cannot translate function 'erf' in 'erf\(x\)'"):
        compile_expression("erf(x)", {"x"}, "test")


def test_gradients_of_numpy_backed_functions():
    x = torch.tensor([0.3, 1.1, 2.0], dtype=torch.float64, requires_grad=True)
    for expr in ["exp(x)", "tanh(x)", "log(x)", "sqrt(x)", "x**3.5", "exprel(x)"]:
        fn = compile_expression(expr, {"x"}, "test")
        assert torch.autograd.gradcheck(lambda v: fn({"x": v}), (x,)), expr


# NEP 50 (numpy 2) changed how Python numbers and numpy scalars promote. Brian2's
# numpy runtime holds arrays (float64, int32, bool), numpy scalars read from
# one-element arrays (``dt = _array_defaultclock_dt[0]``, ``t``, shared variables)
# and Python numbers (literals, constants); the twin holds a numpy scalar as a
# 0-d tensor. The references below are computed by the numpy the tests run with.
NUMPY_MAJOR = int(np.__version__.split(".")[0])
K32 = K.astype(np.int32)
S = np.float64(0.37)  # dt, t or a shared variable
N32 = np.int32(7)  # int() of a scalar


def _nep50_eval(expr, math_mode="numpy", **env):
    fn = compile_expression(expr, set(env), "test", math_mode)
    return fn({k: torch.from_numpy(np.asarray(v)) if isinstance(v, (np.ndarray, np.generic)) else v for k, v in env.items()})


@pytest.mark.parametrize(
    "expr",
    ["x*s", "s*0.1 + x", "0.1/s", "s - 3", "n*0.1", "n/3", "k*s", "b*s", "x*100000", "k*100000*0.5", "k + 0.5*n", "(s > 0.3)*x", "s % 0.1", "n // 2 + x"],
)
def test_float64_programs_do_not_depend_on_the_numpy_major(expr):
    """Every float64 value Brian2's numpy runtime computes from these operands is
    the same under numpy 1 and 2, and the twin computes it bit for bit."""
    env = {"x": X, "s": S, "n": N32, "k": K32, "b": B}
    want = np.asarray(eval(expr, {}, dict(env)))
    got = _nep50_eval(expr, **env)
    assert want.dtype == np.float64
    assert got.dtype == torch.float64 and np.array_equal(got.numpy(), want)


X32 = X.astype(np.float32)
S32 = np.float32(3.0)


@pytest.mark.parametrize(
    "expr, numpy_dtype",
    [
        # a numpy float32 scalar meeting a Python float (the example)
        ("s32*0.1", {1: np.float64, 2: np.float32}),
        # a float32 array meeting a float64 numpy scalar (dt)
        ("x32*s", {1: np.float32, 2: np.float64}),
        # a float32 array meeting a Python int that float16 cannot hold
        ("x32*100000", {1: np.float64, 2: np.float32}),
        ("x32**s", {1: np.float32, 2: np.float64}),
    ],
)
def test_nep50_changes_float32_arithmetic_but_not_the_float32_twin(expr, numpy_dtype):
    """numpy's result type here depends on its major version; the float32 twin
    computes in float32 (torch's rule) under both: bit for bit numpy's result with
    every operand in float32."""
    env = {"x32": X32, "s32": S32, "s": S}
    assert np.asarray(eval(expr, {}, dict(env))).dtype == numpy_dtype[NUMPY_MAJOR]
    in_float32 = {k: np.float32(v) if np.ndim(v) == 0 else v for k, v in env.items()}
    want = np.asarray(eval(expr.replace("100000", "np.float32(100000)").replace("0.1", "np.float32(0.1)"), {"np": np}, in_float32))
    got = _nep50_eval(expr, **env)
    assert want.dtype == np.float32
    assert got.dtype == torch.float32 and np.array_equal(got.numpy(), want)


def test_nep50_int32_scalar_meeting_a_python_int():
    """numpy 1 widens an int32 scalar times a Python int to int64, numpy 2 keeps
    int32 (so does compiled code); the value is the same until it overflows."""
    want = N32 * 3
    assert want.dtype == {1: np.int64, 2: np.int32}[NUMPY_MAJOR]
    got = _nep50_eval("n*3", n=N32)
    assert got.dtype == torch.int32 and got.item() == want == 21


def test_python_int_outside_int32_meeting_an_int32_array():
    """numpy 1 computes in int64, numpy 2 refuses (OverflowError: Brian2's numpy
    runtime cannot run such code), compiled code computes in int64 (a ``long``
    literal). The twin computes the exact int64 value; torch alone would wrap it."""
    big = 2**40
    if NUMPY_MAJOR == 1:
        assert np.array_equal(K32 + big, K.astype(np.int64) + big)
    else:
        with pytest.raises(OverflowError):
            K32 + big
    for mode in ("numpy", "libm"):
        got = _nep50_eval(f"k + {big}", mode, k=K32)
        assert got.dtype == torch.int64 and np.array_equal(got.numpy(), K.astype(np.int64) + big)
        assert np.array_equal(_nep50_eval(f"{big} - k", mode, k=K32).numpy(), big - K.astype(np.int64))
