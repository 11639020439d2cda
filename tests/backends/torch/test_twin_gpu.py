"""The twin on a CUDA GPU (marker ``gpu``: deselected by default, skipped
without a GPU; run with ``pytest -m gpu``).

On a GPU the twin runs torch's own functions (not numpy's), so it is compared
with the CPU twin to rounding, spikes exactly. A training step captured as a
CUDA graph (`CudaGraphStep`) replays the very kernels of an eager step: loss
and gradients are compared bit for bit, before and after an optimizer step.
"""

import pytest
import torch

from bioadapt import BackendError, network_from_dict
from bioadapt.backends.torch import CudaGraphStep, Twin
from helpers import MEMBRANE, model_network

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="torch finds no CUDA GPU")]


@pytest.mark.parametrize("model", ["adlif", "lif", "stc", "mtc"])
def test_twin_on_gpu_matches_cpu(model):
    """adlif: symplectic decays computed on the device; lif: refractoriness
    (t every step) and on_pre into v; stc: autapses; mtc: summed synapses."""
    spec = network_from_dict(model_network(model, steps=400))
    cpu = Twin(spec)
    gpu = Twin(spec).cuda()
    inputs = cpu.default_inputs(batch=3)
    record = {"hid": [MEMBRANE[model]]}
    with torch.no_grad():
        a = cpu(inputs=inputs, record=record)
        b = gpu(inputs={pop: x.cuda() for pop, x in inputs.items()}, record=record)
    assert int(a.spikes["hid"].sum()) > 0
    assert torch.equal(a.spikes["hid"], b.spikes["hid"].cpu())
    var = MEMBRANE[model]
    torch.testing.assert_close(b.traces["hid"][var].cpu(), a.traces["hid"][var], rtol=1e-9, atol=1e-12)


def _readout_network(scheme: str = "symplectic_euler") -> dict:
    """Poisson input, a recurrent adlif layer (dense), a leaky readout."""
    pops = {
        "inp": {"kind": "poisson", "size": 40, "rate": "20*Hz"},
        "hid": {"model": "adlif", "size": 64, "scheme": scheme, "values": {"tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 1)", "b": "uniform(0, 2)"}},
        "out": {"model": "li", "size": 5},
    }
    projections = [
        {"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0.4, 0.8)"},
        {"name": "rec", "source": "hid", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 0.25)"},
        {"source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 0.12)"},
    ]
    return {"dt": "1*ms", "duration": "120*ms", "seed": 4, "populations": pops, "projections": projections}


def _task(twin, batch: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(120, batch, 40, generator=g) < 0.05).float().cuda()
    labels = torch.randint(0, 5, (batch,), generator=g).cuda()

    def loss_fn(x, labels):
        y = twin(inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"]
        return torch.nn.functional.cross_entropy(y.mean(0), labels)

    return x, labels, loss_fn


def test_graphed_step_equals_eager_step():
    twin = Twin(network_from_dict(_readout_network()), dtype=torch.float32, synapses="dense").cuda()
    x, labels, loss_fn = _task(twin)
    names, params = zip(*[(n, p) for n, p in twin.named_parameters() if p.requires_grad])
    step = CudaGraphStep(loss_fn, twin.parameters(), x, labels)
    # small steps: the values are SI (time constants of a few ms) and unconstrained here
    optimizer = torch.optim.SGD(twin.parameters(), lr=1e-3)
    for seed in (1, 2, 3):  # new inputs each call; parameters updated in place in between
        x, labels, _ = _task(twin, seed=seed)
        twin.zero_grad(set_to_none=True)
        loss = loss_fn(x, labels)
        loss.backward()
        expected = [loss.detach().clone()] + [p.grad.clone() for p in params]
        optimizer.zero_grad(set_to_none=True)  # the step puts its gradients back
        got = [step(x, labels).clone()] + [p.grad.clone() for p in params]
        for name, a, b in zip(("loss",) + names, expected, got):
            torch.testing.assert_close(b, a, rtol=0, atol=0, msg=lambda m, name=name: f"{name}: {m}")  # bit for bit
        assert float(got[0]) > 0 and all(bool(torch.isfinite(g).all()) for g in got) and any(float(g.abs().sum()) > 0 for g in got[1:])
        optimizer.step()


def test_graphed_step_refuses_other_shapes_and_bad_values():
    twin = Twin(network_from_dict(_readout_network()), dtype=torch.float32, synapses="dense").cuda()
    x, labels, loss_fn = _task(twin)
    step = CudaGraphStep(loss_fn, twin.parameters(), x, labels)
    with pytest.raises(BackendError, match=r"tensor 0 must have shape \(120, 16, 40\)"):
        step(x[:, :8], labels[:8])
    with pytest.raises(BackendError, match="NaN"):
        step(torch.full_like(x, float("nan")), labels)
    with pytest.raises(BackendError, match="captured with 2 tensors"):
        step(x)


def test_exact_scheme_is_not_captured():
    """The exact scheme's propagators come from scipy on the host in every call."""
    twin = Twin(network_from_dict(_readout_network(scheme="exact")), dtype=torch.float32, synapses="dense").cuda()
    x, labels, loss_fn = _task(twin)
    with pytest.raises(BackendError, match="propagators of population 'hid'"):
        CudaGraphStep(loss_fn, twin.parameters(), x, labels)
    # the twin still trains eagerly on the GPU
    loss = loss_fn(x, labels)
    loss.backward()
    assert torch.isfinite(loss)
