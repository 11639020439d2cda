"""The twin's compiled execution (``Twin(execution="compiled")``, a training option):
the same program through `torch.compile`, against the exact execution.

The compiled execution evaluates elementary functions with torch's own
(``math="torch"``) and lets the compiler fuse the arithmetic, so in float64 it
may differ from the exact execution in the last bits; these tests bound that
difference (states, gradients) and require the same spikes over the runs below.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bioadapt import BackendError, ConfigError, network_from_dict
from bioadapt.backends.torch import Twin
from helpers import MEMBRANE, model_network

ROOT = Path(__file__).resolve().parents[3]

from torch._dynamo.utils import counters

SHIPPED = ["lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"]

# Measured largest differences (float64, the runs below, every shipped model):
# states 2.2e-15 (mtc), gradients 1.6e-14 relative to the largest (mtc). The
# bounds leave two orders of magnitude for other compilers and CPUs.
STATE_BOUND = 1e-12
GRADIENT_BOUND = 1e-12  # (mtc: 1.6e-14)


def _run(twin: Twin, x: torch.Tensor, var: str):
    for p in twin.parameters():
        p.grad = None
    out = twin(inputs={"inp": x}, record={"hid": [var]})
    loss = out.traces["hid"][var].square().sum()
    if "hid" in out.spikes:  # (li does not spike)
        loss = loss + out.spikes["hid"].sum()
    loss.backward()
    return out, {name: p.grad.clone() for name, p in twin.named_parameters() if p.grad is not None}


def _compare(model: str, steps: int, graph_pathways: bool = False):
    spec = network_from_dict(model_network(model, steps=steps))
    var = MEMBRANE[model]
    exact = Twin(spec)
    compiled = Twin(spec, execution="compiled")
    if graph_pathways:  # the GPU schedule (dense pathways inside the graph), here on the CPU
        compiled._compiled_steps["cpu"] = compiled._compiled_steps["other"]
    x = torch.cat([exact.default_inputs()["inp"]] * 2, dim=1)
    a, grads_a = _run(exact, x, var)
    b, grads_b = _run(compiled, x, var)
    assert a.spikes.keys() == b.spikes.keys()
    for group in a.spikes:
        assert torch.equal(a.spikes[group], b.spikes[group]), f"{model}: spike trains of {group} differ"
    assert model == "li" or a.spikes["hid"].sum() > 0
    state = float((a.traces["hid"][var] - b.traces["hid"][var]).detach().abs().max())
    assert state <= STATE_BOUND, (model, state)
    assert grads_a.keys() == grads_b.keys() and grads_a
    gradient = 0.0
    for name, g in grads_a.items():
        difference = float((g - grads_b[name]).abs().max()) / max(float(g.abs().max()), 1e-300)
        assert difference <= GRADIENT_BOUND, (model, name, difference)
        gradient = max(gradient, difference)
    return compiled, x, state, gradient


def test_compiled_matches_exact_and_compiles_once():
    """adlif (recurrent, delays, autapses): same spikes, bounded differences;
    a second batch of the same size reuses the compiled graphs."""
    compiled, x, _, _ = _compare("adlif", steps=200)
    with torch.no_grad():  # evaluation: its own graphs, made once
        compiled(inputs={"inp": x})
    before = counters["stats"]["unique_graphs"]
    out = compiled(inputs={"inp": x.flip(0)}, record={"hid": ["u"]})
    out.traces["hid"]["u"].sum().backward()
    with torch.no_grad():
        compiled(inputs={"inp": x.flip(0)})
    assert before > 0 and counters["stats"]["unique_graphs"] == before


def test_dense_pathways_in_the_graph():
    """The schedule of other devices (dense products inside the compiled graph)."""
    spec = network_from_dict(model_network("adlif", steps=150))
    exact, compiled = Twin(spec, synapses="dense"), Twin(spec, synapses="dense", execution="compiled")
    compiled._compiled_steps["cpu"] = compiled._compiled_steps["other"]
    assert any(kind == "segment" and segment.keys and ("hid", "I") in segment.keys for kind, segment, _ in compiled._compiled_steps["cpu"])
    x = exact.default_inputs()["inp"]
    a, ga = _run(exact, x, "u")
    b, gb = _run(compiled, x, "u")
    assert torch.equal(a.spikes["hid"], b.spikes["hid"])
    # dense sums round alike in both (one product per delay), the rest to the last bits
    assert float((a.traces["hid"]["u"] - b.traces["hid"]["u"]).detach().abs().max()) <= STATE_BOUND
    for name, g in ga.items():
        assert float((g - gb[name]).abs().max()) <= GRADIENT_BOUND * float(g.abs().max()), name


@pytest.mark.slow
@pytest.mark.parametrize("model", SHIPPED)
def test_every_shipped_model(model):
    state, gradient = _compare(model, steps=300)[2:]
    print(f"{model}: largest state difference {state:.3g}, largest relative gradient difference {gradient:.3g}")


def test_execution_errors():
    spec = network_from_dict(model_network("lif", steps=10))
    with pytest.raises(BackendError, match="execution must be one of exact, compiled"):
        Twin(spec, execution="fast")
    with pytest.raises(BackendError, match="math='torch'"):
        Twin(spec, execution="compiled", math="numpy")


def test_torch_math_is_torch_functions_with_gradients():
    """math="torch": torch's own functions (what the compiler fuses), within
    rounding of numpy's, differentiable; numbers fixed over a run stay numbers."""
    from bioadapt.backends.torch.translate import compile_expression

    fn = compile_expression("exp(-x/2) + x**1.5 + tanh(x) + sqrt(x)", {"x"}, "test", "torch")
    x = torch.linspace(0.1, 5.0, 50, dtype=torch.float64, requires_grad=True)
    y = fn({"x": x})
    xn = x.detach().numpy()
    expected = np.exp(-xn / 2) + xn**1.5 + np.tanh(xn) + np.sqrt(xn)
    assert np.allclose(y.detach().numpy(), expected, rtol=1e-15, atol=0)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert np.allclose(grad.numpy(), -0.5 * np.exp(-xn / 2) + 1.5 * xn**0.5 + 1 - np.tanh(xn) ** 2 + 0.5 / np.sqrt(xn), rtol=1e-12)
    assert compile_expression("exp(2.0)", set(), "test", "torch")({}) == float(np.exp(2.0))


def test_without_a_compiler_one_clear_error(tmp_path):
    """No C++ compiler for torch's CPU kernels: one BackendError saying what is needed."""
    script = (
        "import torch\n"
        "from bioadapt import BackendError, network_from_dict\n"
        "from bioadapt.backends.torch import Twin\n"
        "from helpers import model_network\n"
        "twin = Twin(network_from_dict(model_network('adlif', steps=5)), execution='compiled')\n"
        "try:\n"
        "    twin()\n"
        "except BackendError as exc:\n"
        "    print('BackendError:', exc)\n"
    )
    env = dict(os.environ, CXX=str(tmp_path / "no-compiler"), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert "BackendError: execution='compiled': torch.compile could not build the kernels" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "C++ compiler (g++)" in out.stdout
