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

from bioadapt import BackendError, network_from_dict
from bioadapt.backends.torch import Twin
from bioadapt.backends.torch.compiled import STEPS_PER_GRAPH, Chunks
from helpers import MEMBRANE, model_network

ROOT = Path(__file__).resolve().parents[3]

from torch._dynamo.utils import counters

SHIPPED = ["lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"]

# Measured largest differences (float64, the runs below, every shipped model):
# states 2.2e-15 (mtc), gradients 1.6e-14 relative to the largest (mtc, in
# compiled segments); whole steps compiled (dense synapses): 4.4e-16 (stc),
# 3.1e-15 (adlif). The bounds leave two orders of magnitude for other
# compilers and CPUs.
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


def _compare(model: str, steps: int, synapses: str = "exact"):
    """``model``'s network in the exact and the compiled execution: the
    compiled one as whole steps (`Chunks`) where every pathway is a matrix
    product, else as compiled segments."""
    spec = network_from_dict(model_network(model, steps=steps))
    var = MEMBRANE[model]
    exact = Twin(spec, synapses=synapses)
    compiled = Twin(spec, synapses=synapses, execution="compiled")
    # (mtc sums a graded variable synapse by synapse, relay's readout is not a product: segments)
    assert isinstance(compiled._compiled_steps, Chunks) == (synapses == "dense" and model not in ("mtc", "relay"))
    x = torch.cat([exact.default_inputs()["inp"]] * 2, dim=1)
    a, grads_a = _run(exact, x, var)
    b, grads_b = _run(compiled, x, var)
    assert a.spikes.keys() == b.spikes.keys()
    for group in a.spikes:
        assert torch.equal(a.spikes[group], b.spikes[group]), f"{model}: spike trains of {group} differ"
    assert model == "li" or a.spikes["hid"].sum() > 0
    state = float((a.traces["hid"][var] - b.traces["hid"][var]).detach().abs().max())
    assert state <= STATE_BOUND, (model, state)
    assert grads_a and set(grads_a) <= set(grads_b)
    gradient = 0.0
    for name, g in grads_b.items():
        if name not in grads_a:  # one graph over whole steps: what the loss does not depend on gets zeros, not None
            assert not g.any(), (model, name)
            continue
        difference = float((grads_a[name] - g).abs().max()) / max(float(grads_a[name].abs().max()), 1e-300)
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


def test_stretches_of_whole_steps_follow_the_exact_execution():
    """Dense pathways with delays inside the graphs of several steps; 27 steps
    (two stretches of 10 and a shorter last one, its own graph), then the same
    run checkpointed every 10 steps and recorded every 3rd step from a start
    step (the same graphs): the exact execution's spikes, states and gradients."""
    spec = network_from_dict(model_network("adlif", steps=27))
    exact, compiled = Twin(spec, synapses="dense"), Twin(spec, synapses="dense", execution="compiled")
    assert isinstance(compiled._compiled_steps, Chunks) and compiled._compiled_steps.steps == STEPS_PER_GRAPH == 10
    x = torch.cat([exact.default_inputs()["inp"]] * 2, dim=1)
    record = {"hid": ["u", "w"]}
    graphs = counters["stats"]["unique_graphs"]
    for options in ({}, {"start_step": 5, "record_every": 3, "checkpoint_every": 10}):
        outputs, grads = [], []
        for twin in (exact, compiled):
            for p in twin.parameters():
                p.grad = None
            out = twin(inputs={"inp": x}, record=record, **options)
            (out.traces["hid"]["u"].square().sum() + out.spikes["hid"].sum()).backward()
            outputs.append(out)
            grads.append({name: p.grad for name, p in twin.named_parameters() if p.grad is not None})
        a, b = outputs
        assert a.spikes["hid"].sum() > 0 and torch.equal(a.spikes["hid"], b.spikes["hid"])
        assert a.traces["hid"]["u"].shape[0] == (27 if not options else len([k for k in range(5, 32) if k % 3 == 0]))
        for var in record["hid"]:
            assert float((a.traces["hid"][var] - b.traces["hid"][var]).detach().abs().max()) <= STATE_BOUND, var
        for key, value in a.state.items():
            assert float((value.double() - b.state[key].double()).detach().abs().max()) <= STATE_BOUND, key
        assert grads[0].keys() == grads[1].keys()
        for name, g in grads[0].items():
            assert float((g - grads[1][name]).abs().max()) <= GRADIENT_BOUND * float(g.abs().max()), name
        # one graph per length of stretch, the same for every stretch of that length
        assert counters["stats"]["unique_graphs"] == graphs + 2
    assert set(compiled._compiled_steps._functions) == {(10, (("hid", "u"), ("hid", "w"))), (7, (("hid", "u"), ("hid", "w")))}


@pytest.mark.parametrize("synapses", ["exact", "dense"])
def test_noise_runs_eagerly_between_compiled_segments(synapses):
    """A network that draws noise (``xi``, ``randn()``, ``rand()``) cannot be
    traced over whole steps: its other blocks run as compiled segments, its
    noise eagerly, the same draws as the exact execution. With dense
    synapses, the schedule of GPUs (the dense pathways inside the segments),
    here on the CPU."""
    spec = network_from_dict(
        {
            "dt": "0.1*ms", "duration": "300*0.1*ms", "seed": 3,
            "populations": {"bh": {"model": "valid/noisy_lif.toml", "size": 40}, "rr": {"model": "valid/random_reset.toml", "size": 20}},
            "projections": [{"source": "bh", "target": "bh", "on_pre": "V_post += weight", "connect": {"p": 0.2}, "weight": "-0.1*mV", "delay": "2*ms"}],
        },
        folder=ROOT / "tests" / "models",
    )
    exact, compiled = Twin(spec, synapses=synapses), Twin(spec, synapses=synapses, execution="compiled")
    if synapses == "dense":
        compiled._compiled_steps["cpu"] = compiled._compiled_steps["other"]
    schedule = compiled._compiled_steps["cpu"]
    assert any(kind == "segment" for kind, _, _ in schedule) and any(kind == "code" for kind, _, _ in schedule)
    assert any(kind == "pathway" for kind, _, _ in schedule) == (synapses == "exact")
    with torch.no_grad():
        a, b = exact(record={"bh": ["V"]}), compiled(record={"bh": ["V"]})
    assert a.spikes["bh"].sum() > 0 and a.spikes["rr"].sum() > 0
    for group in ("bh", "rr"):
        assert torch.equal(a.spikes[group], b.spikes[group]), group
    assert float((a.traces["bh"]["V"] - b.traces["bh"]["V"]).abs().max()) <= STATE_BOUND * float(a.traces["bh"]["V"].abs().max())


@pytest.mark.slow
@pytest.mark.parametrize("synapses", ["dense", "exact"])
@pytest.mark.parametrize("model", SHIPPED)
def test_every_shipped_model(model, synapses):
    state, gradient = _compare(model, steps=300, synapses=synapses)[2:]
    print(f"{model}, synapses={synapses}: largest state difference {state:.3g}, largest relative gradient difference {gradient:.3g}")


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
