"""The compiled execution's passes for booleans on the CPU (`masks`): with them
no kernel torch generates stores or loads a boolean, and every value and
gradient is what the same compiled function gives without them, bit for bit."""

import warnings

import pytest
import torch
from torch._inductor.utils import run_and_get_code

from bioadapt.backends.torch.masks import compiler_options
from bioadapt.backends.torch.spikes import Surrogate, spike, spike_where


def _steps(v, a, w, x, p):
    """Three steps of a recurrent adaptive layer the way the twin writes them:
    the threshold's mask read by the spike, the reset and the next step."""
    total = torch.zeros((), dtype=v.dtype)
    s = torch.zeros_like(v)
    for k in range(x.shape[0]):
        v = p[0] * v + (1 - p[0]) * (x[k] + s @ w - a)
        a = p[1] * a + (1 - p[1]) * p[2] * v
        fired = v > p[3] + p[4] * a
        s = spike(v - p[3] - p[4] * a, fired, Surrogate())
        v = spike_where(s, p[5], v, fired)
        a = spike_where(s, a + p[4], a, fired)
        total = total + (v * s).sum() + v.square().sum()
    return total, v


def _run(options: dict, v, a, w, x, p):
    torch._dynamo.reset()
    fn = torch.compile(_steps, dynamic=False, options=options)
    w = w.clone().requires_grad_()
    x = x.clone().requires_grad_()

    def step():
        with warnings.catch_warnings():  # torch's own, while it traces
            warnings.filterwarnings("ignore", module=r"torch\.")
            total, v_end = fn(v, a, w, x, p)
        total.backward()
        return v_end

    v_end, code = run_and_get_code(step)
    assert len(code) == 2  # the forward's and the backward's
    return v_end, w.grad, x.grad, "\n".join(code)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")
def test_no_boolean_between_kernels_and_the_same_values():
    g = torch.Generator().manual_seed(0)
    v, a = torch.rand(2, 8, 32, dtype=torch.float64, generator=g)
    p = torch.rand(6, 32, dtype=torch.float64, generator=g)  # per neuron: decays, adaptation, threshold, reset
    p[5] = 0.0
    w = torch.randn(32, 32, dtype=torch.float64, generator=g) * 0.3
    x = torch.rand(3, 8, 32, dtype=torch.float64, generator=g)
    plain = _run({}, v, a, w, x, p)
    passes = _run(compiler_options(), v, a, w, x, p)
    assert "bool*" in plain[3]  # (without the passes torch stores masks as booleans)
    assert "bool*" not in passes[3]
    assert plain[0].eq(0).any() and plain[0].ne(0).any()  # some neurons fired in the last step, some not
    for a, b in zip(plain[:3], passes[:3]):
        assert torch.equal(a, b)
