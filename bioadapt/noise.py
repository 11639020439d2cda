"""Noise that every backend draws alike: a counter-based generator.

Brian2 draws ``xi``, ``rand()`` and ``randn()`` from a stateful generator
whose numbers depend on the backend (numpy's global generator, one generator
per thread in C++, cuRAND on a GPU) and on the order of the calls. A noisy
network then gives other spikes in each backend, and the twin could not follow
any of them. bioadapt replaces each noise source of a population's code by a
*counter-based* function: the number drawn for neuron ``i`` at time step ``k``
is a fixed function of ``(seed, population, source, k, i)`` (of a
projection's name and synapse ``i`` for noise in synapse code), computed with the
same integer and IEEE double operations in numpy (Brian2's numpy runtime and
the twin on the CPU), in C++ (cpp_standalone, cuda_standalone) and in torch
(the twin on any device):

- an integer hash (SplitMix64's finaliser, wrapping 64-bit arithmetic) of the
  key of the source, the step and the index gives 64 random bits;
- 53 of them make a uniform number in ``[0, 1)`` (``rand()``);
- a second hash gives a second uniform number, and the Box-Muller transform
  makes a standard normal number of the two (``randn()``, ``xi``). Its
  logarithm and cosine are written here as polynomials of ``+ - * /`` (and
  ``frexp``, ``sqrt``, both exact in IEEE arithmetic): the C library's and
  numpy's ``log`` and ``cos`` differ in the last bit, these do not.

The numbers are independent of which neurons are computed (a reset draws for
the neurons that spiked, the twin for all of them, with the same result; on_pre
code for the synapses a spike reaches, or all of them), of
the backend and of the number of threads. In the twin, sample ``b`` of a
batch draws from stream ``b``; stream 0 is what the Brian2 backends draw.
"""

from __future__ import annotations

import functools
import math
import re
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["NoiseSource", "binomial_table", "rewrite_noise", "NOISE_PREFIX", "XI_NAME"]

#: Prefix of the functions that replace noise in code given to Brian2
#: (names beginning with ``bioadapt_`` are reserved in model files).
NOISE_PREFIX = "bioadapt_noise_"
#: Brian2's noise variables: ``xi`` and ``xi_<anything>``.
XI_NAME = re.compile(r"\bxi(?:_\w+)?\b")
_CALL = re.compile(r"\b(rand|randn)\(\s*\)")

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def _mix_int(z: int) -> int:
    """SplitMix64's finaliser on a Python integer (mod 2**64)."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


# Coefficients as doubles (written as hexadecimal literals in C++, so that the
# compiled code and numpy use the same numbers).
_LOG_SERIES = tuple(1.0 / (2 * k + 1) for k in range(12))  # log(m) = 2 s sum s^2k/(2k+1)
_COS_SERIES = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(13))  # cos x = sum (-1)^k x^2k/(2k)!
_LN2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)
_TWO_PI = 2.0 * math.pi
_TWO_M53 = 2.0**-53


class _NumpyOps:
    """The generator's operations on numpy arrays (uint64 wraps on overflow)."""

    @staticmethod
    def shift(z, s):
        return z >> np.uint64(s)

    @staticmethod
    def const(value: int):
        return np.uint64(value)

    @staticmethod
    def index(i):
        return np.asarray(i).astype(np.uint64)

    @staticmethod
    def bits_to_unit(z):
        return (z >> np.uint64(11)).astype(np.float64) * _TWO_M53

    frexp = staticmethod(np.frexp)
    sqrt = staticmethod(np.sqrt)
    where = staticmethod(np.where)
    abs = staticmethod(np.abs)


class _TorchOps:
    """The same on torch int64 tensors: two's complement wraps like uint64; the
    right shift is made logical by a mask."""

    def __init__(self, torch):
        self.torch = torch

    def shift(self, z, s):
        return (z >> s) & ((1 << (64 - s)) - 1)

    @staticmethod
    def const(value: int):
        return value - (1 << 64) if value >= 1 << 63 else value

    def index(self, i):
        return i.to(self.torch.int64)

    def bits_to_unit(self, z):
        return self.shift(z, 11).to(self.torch.float64) * _TWO_M53

    def frexp(self, x):
        m, e = self.torch.frexp(x)
        return m, e.to(self.torch.float64)

    def sqrt(self, x):
        # IEEE's correctly rounded square root: torch's vectorised one on the
        # CPU is not (it differs in the last bit); CUDA's is
        if x.device.type == "cpu":
            return self.torch.from_numpy(np.sqrt(x.numpy()))
        return self.torch.sqrt(x)

    def where(self, c, a, b):
        return self.torch.where(c, a, b)

    def abs(self, x):
        return self.torch.abs(x)


def _mix(ops, z):
    z = (z ^ ops.shift(z, 30)) * ops.const(_M1)
    z = (z ^ ops.shift(z, 27)) * ops.const(_M2)
    return z ^ ops.shift(z, 31)


def _log_unit(ops, x):
    """log(x) for x in (0, 1], by frexp and the series of atanh."""
    m, e = ops.frexp(x)
    low = m < _SQRT_HALF
    m = ops.where(low, m * 2.0, m)
    e = ops.where(low, e - 1, e)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = _LOG_SERIES[-1]
    for c in reversed(_LOG_SERIES[:-1]):
        p = p * s2 + c
    return e * _LN2 + 2.0 * s * p


def _cos_two_pi(ops, u):
    """cos(2 pi u) for u in [0, 1), reduced to [0, pi/2] and a Taylor series."""
    a = ops.abs(u - 0.5)  # cos(2 pi u) = -cos(2 pi a), a in [0, 0.5]
    far = a > 0.25
    a = ops.where(far, 0.5 - a, a)  # cos(2 pi a) = -cos(2 pi (0.5 - a))
    x = _TWO_PI * a
    x2 = x * x
    p = _COS_SERIES[-1]
    for c in reversed(_COS_SERIES[:-1]):
        p = p * x2 + c
    return ops.where(far, p, -p)


def _draw(ops, key, step: int, i, normal: bool):
    z = _mix(ops, key + ops.const((_GOLDEN * step) & _MASK))
    z = _mix(ops, z + ops.const(_GOLDEN) * (ops.index(i) + ops.const(1)))
    u = ops.bits_to_unit(z)
    if not normal:
        return u
    v = ops.bits_to_unit(_mix(ops, z ^ ops.const(_M1)))
    return ops.sqrt(-2.0 * _log_unit(ops, 1.0 - u)) * _cos_two_pi(ops, v)


def binomial_table(trials: int, p: float) -> tuple:
    """``(offset, tiny, cdf)`` for drawing a binomial number of ``trials``
    draws of probability ``p`` from a uniform number ``u`` by the inverse of
    its distribution function: ``offset + (tiny if u > 0 else 0) + #{k :
    cdf[k] <= u}`` (a binary search).

    The running sums of the probabilities (``lgamma``, ``exp`` and ``log`` of
    Python, in float64, computed once) are ``P(X <= k)``. The uniform numbers
    are multiples of 2**-53 in [0, 1): sums that round to 0 are always
    counted (``offset``), the ``tiny`` ones below 2**-53 are counted unless
    ``u`` is 0, and the sums stop past the mean where adding a probability
    no longer changes them (and at 1). Every backend reads the same table and
    only compares with it, so all count alike.

    >>> offset, tiny, cdf = binomial_table(3, 0.5)
    >>> offset, tiny, [round(x, 12) for x in cdf]
    (0, 0, [0.125, 0.5, 0.875])
    """
    if p <= 0.0:
        return 0, 0, []
    if p >= 1.0:
        return trials, 0, []
    log_p, log_q, top = math.log(p), math.log1p(-p), math.lgamma(trials + 1)
    sums, total = [], 0.0
    for k in range(trials + 1):
        new = total + math.exp(top - math.lgamma(k + 1) - math.lgamma(trials - k + 1) + k * log_p + (trials - k) * log_q)
        if new >= 1.0 or (new == total and k > trials * p):
            break
        sums.append(total := new)
    offset = sum(1 for x in sums if x == 0.0)
    tiny = sum(1 for x in sums if 0.0 < x < _TWO_M53)
    return offset, tiny, sums[offset + tiny:]


_binomial_table = functools.lru_cache(maxsize=64)(binomial_table)


def _hex(x: float) -> str:
    """A double as a C++ literal that parses back to it (17 significant digits)."""
    return f"{float(x):.17g}".replace("inf", "INFINITY") if "." in f"{float(x):.17g}" or "e" in f"{float(x):.17g}" else f"{float(x):.17g}.0"


@dataclass(frozen=True)
class NoiseSource:
    """One noise source of a population's code: ``kind`` ``"rand"`` (uniform
    in [0, 1)), ``"randn"`` (standard normal; also ``xi``) or ``"binomial"``
    (successes of ``trials`` draws of probability ``p``, as Brian2's
    ``PoissonInput`` draws them; from one uniform number, `binomial_table`),
    drawn per step of length ``dt`` and per neuron from the network's ``seed``.

    The source is ``name`` in the code given to Brian2, called as
    ``name(t, i)`` (``i`` 0 in code of shared variables).

    Examples
    --------
    >>> import numpy as np, torch
    >>> source = NoiseSource("bioadapt_noise_P_0", "randn", seed=1, population="P", site=0, dt=1e-4)
    >>> x = source.numpy(12 * 1e-4, np.arange(4))  # step 12, neurons 0..3
    >>> y = source.torch(12, torch.arange(4), streams=2)  # the twin: a row per stream
    >>> bool(np.array_equal(x, y[0].numpy())), bool(np.array_equal(x, y[1].numpy()))
    (True, False)
    """

    name: str
    kind: str
    seed: int
    population: str
    site: int
    dt: float
    #: Steps per sample when Brian2 runs several samples one after another
    #: (``build_network(samples=...)``): step ``k`` of the run is step
    #: ``k % period`` of stream ``k // period``, as sample ``k // period`` of
    #: the twin's batch draws. 0: one sample.
    period: int = 0
    trials: int = 0  # kind "binomial"
    p: float = 0.0  # kind "binomial"

    @property
    def table(self) -> tuple:
        """Kind ``"binomial"``: `binomial_table` of ``trials`` and ``p``."""
        return _binomial_table(self.trials, self.p)

    @property
    def base(self) -> int:
        where = zlib.crc32(f"{self.population}:{self.site}:{self.kind}".encode())
        return _mix_int(_mix_int(self.seed + _GOLDEN) ^ where)

    def key(self, stream: int = 0) -> int:
        """The 64-bit key of this source for ``stream`` (a sample of the twin's batch)."""
        return _mix_int(self.base + stream * _M2)

    def step(self, t: float) -> tuple:
        """``(stream, step)`` of time ``t`` (as the C++ code computes it)."""
        k = int(float(t) / self.dt + 0.5)
        return divmod(k, self.period) if self.period else (0, k)

    def numpy(self, t, i) -> np.ndarray:
        """The numbers for time ``t`` and indices ``i`` (numpy; Brian2's numpy runtime)."""
        stream, step = self.step(np.asarray(t).item())
        values = self._numpy_draw(np.asarray([self.key(stream)], dtype=np.uint64), step, np.atleast_1d(np.asarray(i)))
        return values if np.ndim(i) else values.reshape(())

    def numpy_streams(self, step: int, i, streams: int = 1) -> np.ndarray:
        """`torch` with numpy: the numbers of time step ``step`` for the index
        array ``i`` (1-d), one row per stream ``0 .. streams - 1``, as float64
        (the twin without gradients on the CPU; the same operations)."""
        keys = np.asarray([[self.key(b)] for b in range(streams)], dtype=np.uint64)
        return self._numpy_draw(keys, step, np.asarray(i)[np.newaxis, :])

    def _numpy_draw(self, keys: np.ndarray, step: int, i: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            values = _draw(_NumpyOps, keys, step, i, self.kind == "randn")
        if self.kind == "binomial":
            offset, tiny, cdf = self.table
            values = (offset + np.where(values > 0.0, tiny, 0) + np.searchsorted(np.asarray(cdf, dtype=np.float64), values, side="right")).astype(np.float64)
        return values

    def torch(self, step: int, i, streams: int = 1):
        """The numbers of time step ``step`` for index tensor ``i``, one row per
        stream ``0 .. streams - 1`` (the twin's batch), as float64."""
        import torch

        ops = _TorchOps(torch)
        keys = torch.tensor([ops.const(self.key(b)) for b in range(streams)], dtype=torch.int64, device=i.device).unsqueeze(1)
        values = _draw(ops, keys, step, i.unsqueeze(0), self.kind == "randn")
        if self.kind == "binomial":
            offset, tiny, cdf = self.table
            cdf = torch.as_tensor(cdf, dtype=torch.float64, device=i.device)
            values = (offset + (values > 0.0).to(torch.int64) * tiny + torch.searchsorted(cdf, values.contiguous(), right=True)).to(torch.float64)
        return values

    def cpp(self, qualifiers: str = "static inline") -> str:
        """C++ (and CUDA) code of ``name(t, i)``: the same operations on uint64_t and double."""
        n = self.name
        log_terms = "".join(f"    p = p*s2 + {_hex(c)};\n" for c in reversed(_LOG_SERIES[:-1]))
        cos_terms = "".join(f"    q = q*x2 + {_hex(c)};\n" for c in reversed(_COS_SERIES[:-1]))
        normal = self.kind == "randn"
        period = f"    stream = step / {self.period}ULL;\n    step = step % {self.period}ULL;\n" if self.period else ""
        body = f"""
{qualifiers} uint64_t {n}_mix(uint64_t z)
{{
    z = (z ^ (z >> 30)) * {_M1}ULL;
    z = (z ^ (z >> 27)) * {_M2}ULL;
    return z ^ (z >> 31);
}}
{qualifiers} double {n}(const double t, const int i)
{{
    uint64_t step = (uint64_t)(t / {_hex(self.dt)} + 0.5);
    uint64_t stream = 0;
{period}    uint64_t z = {n}_mix({n}_mix({self.base}ULL + {_M2}ULL*stream) + {_GOLDEN}ULL*step);
    z = {n}_mix(z + {_GOLDEN}ULL*((uint64_t)i + 1ULL));
    const double u = (double)(z >> 11) * {_hex(_TWO_M53)};
"""
        if self.kind == "binomial":  # offset, the tiny sums unless u is 0, and a binary search: the entries <= u
            offset, tiny, cdf = self.table
            search = (f"    const double cdf[{len(cdf)}] = {{{', '.join(_hex(c) for c in cdf)}}};\n    int lo = 0, hi = {len(cdf)};\n"
                      "    while (lo < hi) {\n        const int mid = (lo + hi)/2;\n        if (cdf[mid] <= u) lo = mid + 1; else hi = mid;\n    }\n") if cdf else "    const int lo = 0;\n"
            return body + search + f"    return (double)({offset} + (u > 0.0 ? {tiny} : 0) + lo);\n}}\n"
        if not normal:
            return body + "    return u;\n}\n"
        return body + f"""    const double v = (double)({n}_mix(z ^ {_M1}ULL) >> 11) * {_hex(_TWO_M53)};
    int e;
    double m = frexp(1.0 - u, &e);
    if (m < {_hex(_SQRT_HALF)}) {{ m = m*2.0; e = e - 1; }}
    const double s = (m - 1.0)/(m + 1.0);
    const double s2 = s*s;
    double p = {_hex(_LOG_SERIES[-1])};
{log_terms}    const double log_u = e*{_hex(_LN2)} + 2.0*s*p;
    double a = fabs(v - 0.5);
    const bool far = a > 0.25;
    if (far) a = 0.5 - a;
    const double x = {_hex(_TWO_PI)}*a;
    const double x2 = x*x;
    double q = {_hex(_COS_SERIES[-1])};
{cos_terms}    const double c = far ? q : -q;
    return sqrt(-2.0*log_u)*c;
}}
"""


def rewrite_noise(code: str, population: str, seed: int, dt: float, sources: list, shared: bool = False, xi: dict | None = None, period: int = 0, index: str = "i", stream: str | None = None) -> str:
    """``code`` with each ``rand()``/``randn()`` call (and, with ``xi`` a
    dict, each noise variable ``xi``/``xi_*``) replaced by a call of a new
    `NoiseSource`, appended to ``sources``. A noise variable becomes
    ``name(t, i)*dt**-0.5`` (unit ``second**-0.5``, as Brian2's ``xi``): under
    Euler's scheme its increment over a step is ``sqrt(dt)`` times a standard
    normal number, as in Brian2's Euler-Maruyama. One ``xi_*`` name is one
    source wherever it appears (``xi`` maps names to their sources, across
    calls); each call of ``rand()``/``randn()`` is one. ``shared``: the code
    computes a shared variable (one number per step, index 0); ``index``: the
    name of the element index otherwise (``i`` for neurons; synapse code passes
    a variable holding each synapse's index). ``stream`` (default
    ``population``) keys the numbers: code of one group run apart from its
    model (a ``run_regularly``) passes its own, so that its sources are not the
    model's."""
    index = "0" if shared else index

    def new(kind: str) -> NoiseSource:
        source = NoiseSource(f"{NOISE_PREFIX}{population}_{len(sources)}", kind, seed, stream or population, len(sources), dt, period)
        sources.append(source)
        return source

    code = _CALL.sub(lambda m: f"{new(m.group(1)).name}(t, {index})", code)
    if xi is not None:
        for name in XI_NAME.findall(code):
            if name not in xi:
                xi[name] = new("randn")
        code = XI_NAME.sub(lambda m: f"({xi[m.group(0)].name}(t, {index})*dt**-0.5)", code)
    return code
