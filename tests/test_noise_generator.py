"""The counter-based generator of `bioadapt.noise`: numpy, torch and compiled
C++ give the same bits; the numbers are uniform and normal; sources, streams,
steps and neurons are independent; noise in code is rewritten as Brian2 reads it."""

import shutil
import subprocess

import numpy as np
import pytest
import torch
from scipy import stats

from bioadapt.backends.brian.device import FAITHFUL_GCC_FLAGS
from bioadapt.noise import NoiseSource, rewrite_noise

DT = 1e-4
STEPS = [0, 1, 2, 17, 999, 123456, 2**31 + 5]


BINOMIAL = {"trials": 1000, "p": 0.01}  # Brian2's PoissonInput: N = 1000 inputs at 100 Hz, dt = 0.1 ms


def _source(kind, site=0, seed=7, period=0, name=None):
    return NoiseSource(name or f"f_{kind}", kind, seed, "pop", site, DT, period, **(BINOMIAL if kind == "binomial" else {}))


@pytest.mark.parametrize("kind", ["rand", "randn", "binomial"])
def test_torch_draws_the_bits_of_numpy(kind):
    source = _source(kind)
    i = np.arange(500)
    for k in STEPS:
        drawn = source.torch(k, torch.as_tensor(i), streams=2)
        assert drawn.dtype == torch.float64 and drawn.shape == (2, 500)
        assert np.array_equal(drawn[0].numpy(), source.numpy(k * DT, i))
        assert not torch.equal(drawn[0], drawn[1])


@pytest.mark.parametrize("kind", ["rand", "randn", "binomial"])
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_compiled_code_draws_the_bits_of_numpy(kind, tmp_path):
    """The C++ of the source, at bioadapt's compiler flags, against numpy (and with a
    period: step k of the run is step k % period of stream k // period)."""
    plain, periodic = _source(kind), _source(kind, period=1000, name=f"g_{kind}")
    calls = "".join(f"for (int i = 0; i < 300; i++) printf(\"%a %a\\n\", f_{kind}({k}*{DT!r}, i), g_{kind}({k}*{DT!r}, i));\n" for k in STEPS[:6])
    program = tmp_path / "noise.cpp"
    program.write_text("#include <cstdint>\n#include <cmath>\n#include <cstdio>\n" + plain.cpp() + periodic.cpp() + "int main() {\n" + calls + "}\n")
    subprocess.run(["g++", *FAITHFUL_GCC_FLAGS, str(program), "-o", str(tmp_path / "noise")], check=True)
    lines = subprocess.run([str(tmp_path / "noise")], capture_output=True, text=True, check=True).stdout.split()
    values = np.array([float.fromhex(x) for x in lines]).reshape(6, 300, 2)
    i = np.arange(300)
    for row, k in enumerate(STEPS[:6]):
        assert np.array_equal(values[row, :, 0], plain.numpy(k * DT, i))
        assert np.array_equal(values[row, :, 1], periodic.numpy(k * DT, i))
        stream, step = divmod(k, 1000)
        assert np.array_equal(values[row, :, 1], _source(kind, name="h").torch(step, torch.as_tensor(i), streams=stream + 1)[stream].numpy())


@pytest.mark.parametrize("trials, p", [(1000, 0.01), (40, 0.3), (10000, 0.5), (5, 1.0), (5, 0.0)])
def test_binomial_counts_follow_the_binomial_distribution(trials, p):
    """Brian2's PoissonInput draws Binomial(N, rate*dt) per neuron and step; the inverse of the
    float64 distribution function gives those counts (chi-square over the bins, p-value > 1e-3)."""
    source = NoiseSource("b", "binomial", 3, "pop", 0, DT, trials=trials, p=p)
    counts = np.concatenate([source.numpy(k * DT, np.arange(20000)) for k in range(10)])
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0 and counts.max() <= trials
    if p in (0.0, 1.0):
        assert (counts == trials * p).all()
        return
    low, high = stats.binom.ppf([1e-4, 1 - 1e-4], trials, p)
    edges = np.arange(low, high + 2) - 0.5
    observed = np.histogram(np.clip(counts, low, high), bins=edges)[0]
    expected = np.diff(stats.binom.cdf(edges + 0.5 - 1, trials, p))
    expected[0], expected[-1] = stats.binom.cdf(low, trials, p), stats.binom.sf(high - 1, trials, p)
    assert stats.chisquare(observed, expected / expected.sum() * len(counts)).pvalue > 1e-3
    assert abs(counts.mean() - trials * p) < 5 * np.sqrt(trials * p * (1 - p) / len(counts))


def test_distributions_and_independence():
    """10^6 numbers of each kind: Kolmogorov-Smirnov against U(0, 1) and N(0, 1)
    (p > 0.001), moments, and correlations between neighbouring neurons, steps,
    sources and seeds below 5 standard errors."""
    i = np.arange(10000)
    u = np.concatenate([_source("rand").numpy(k * DT, i) for k in range(100)])
    n = np.concatenate([_source("randn").numpy(k * DT, i) for k in range(100)])
    assert stats.kstest(u, "uniform").pvalue > 1e-3 and stats.kstest(n, "norm").pvalue > 1e-3
    assert 0 <= u.min() and u.max() < 1
    se = 5 / np.sqrt(len(n))
    assert abs(n.mean()) < se and abs(n.var() - 1) < 5 * np.sqrt(2 / len(n))
    grid = n.reshape(100, 10000)
    others = [grid[:, 1:].ravel(), grid[1:].ravel(), _source("randn", site=1).numpy(0.0, np.arange(10**6)), _source("randn", seed=8).numpy(0.0, np.arange(10**6))]
    for first, second in zip([grid[:, :-1].ravel(), grid[:-1].ravel(), n, n], others):
        assert abs(np.corrcoef(first, second)[0, 1]) < 5 / np.sqrt(len(first))


def test_rewrite():
    sources = []
    xi = {}
    code = rewrite_noise("dv/dt = (-v + sigma*xi + s2*xi_b + sigma*xi)/tau + rand() - randn() : 1", "P", 3, DT, sources, xi=xi)
    assert [s.kind for s in sources] == ["rand", "randn", "randn", "randn"]
    assert code == ("dv/dt = (-v + sigma*(bioadapt_noise_P_2(t, i)*dt**-0.5) + s2*(bioadapt_noise_P_3(t, i)*dt**-0.5) "
                    "+ sigma*(bioadapt_noise_P_2(t, i)*dt**-0.5))/tau + bioadapt_noise_P_0(t, i) - bioadapt_noise_P_1(t, i) : 1")
    # an xi name keeps its source across lines; shared code draws one number (index 0)
    assert rewrite_noise("dw/dt = xi_b/tau : 1", "P", 3, DT, sources, xi=xi) == "dw/dt = (bioadapt_noise_P_3(t, i)*dt**-0.5)/tau : 1"
    assert rewrite_noise("c = randn()", "P", 3, DT, sources, shared=True) == "c = bioadapt_noise_P_4(t, 0)"
    assert rewrite_noise("dv/dt = xi/tau : 1", "P", 3, DT, []) == "dv/dt = xi/tau : 1"  # xi only where Euler integrates it
    assert len({s.key() for s in sources}) == 5
