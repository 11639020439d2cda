"""Gradient checkpointing of the twin: chunked forward with recomputation gives
the plain run's outputs and gradients, bit for bit (float64)."""

import pytest
import torch

from bioadapt import BackendError, network_from_dict
from bioadapt.backends.torch import Twin
from helpers import MEMBRANE, model_network


def _inputs(twin, batch=3, seed=1):
    base = twin.default_inputs()["inp"]
    g = torch.Generator().manual_seed(seed)
    others = [(torch.rand(base.shape, generator=g) < 0.03).to(base.dtype) for _ in range(batch - 1)]
    return torch.cat([base, *others], dim=1)


def _run(twin, x, var, every):
    twin.zero_grad(set_to_none=True)
    out = twin(inputs={"inp": x}, record={"hid": [var]}, checkpoint_every=every)
    # spikes carry surrogate gradients, traces the gradients of the state
    loss = (out.traces["hid"][var] ** 2).mean() + out.spikes["hid"].mean()
    loss.backward()
    grads = {f"{owner}.{name}": p.grad.clone() for owner in twin.params for name, p in twin.params[owner].items() if p.grad is not None}
    return out, grads


@pytest.mark.parametrize("model", ["adlif", "lif"])
def test_checkpointed_forward_is_bitwise_the_plain_one(model):
    """Refractory LIF (t, conditional writes) and SE-adLIF, delayed synapses
    with spikes in flight across chunk boundaries, a short last chunk."""
    spec = network_from_dict(model_network(model, steps=90))
    twin = Twin(spec)
    var = MEMBRANE[model]
    x = _inputs(twin)
    plain, g_plain = _run(twin, x, var, None)
    chunked, g_chunked = _run(twin, x, var, 7)
    assert plain.spikes["hid"].sum() > 0
    for group in plain.spikes:
        assert torch.equal(plain.spikes[group], chunked.spikes[group])
    assert torch.equal(plain.traces["hid"][var], chunked.traces["hid"][var])
    assert plain.state.keys() == chunked.state.keys()
    for key in plain.state:
        assert torch.equal(plain.state[key], chunked.state[key]), key
    assert g_plain.keys() == g_chunked.keys()
    assert any(torch.any(g != 0) for g in g_plain.values())
    for name in g_plain:
        assert torch.equal(g_plain[name], g_chunked[name]), name


def test_checkpointed_exact_scheme_propagators():
    """The exact scheme's propagators are computed once per call, outside the chunks."""
    net = model_network("adlif", steps=40)
    net["populations"]["hid"]["scheme"] = "exact"
    twin = Twin(network_from_dict(net))
    x = _inputs(twin, batch=2)
    plain, g_plain = _run(twin, x, "u", None)
    chunked, g_chunked = _run(twin, x, "u", 9)
    assert torch.equal(plain.traces["hid"]["u"], chunked.traces["hid"]["u"])
    assert torch.any(g_plain["hid.tau_w"] != 0)
    for name in g_plain:
        assert torch.equal(g_plain[name], g_chunked[name]), name


def test_checkpointed_dense_synapses_agree():
    twin = Twin(network_from_dict(model_network("adlif", steps=60)), synapses="dense")
    x = _inputs(twin)
    plain, g_plain = _run(twin, x, "u", None)
    chunked, g_chunked = _run(twin, x, "u", 8)
    assert torch.equal(plain.spikes["hid"], chunked.spikes["hid"])
    assert torch.equal(plain.traces["hid"]["u"], chunked.traces["hid"]["u"])
    assert any(torch.any(g != 0) for g in g_plain.values())
    for name in g_plain:
        assert torch.equal(g_plain[name], g_chunked[name]), name


@pytest.mark.parametrize("every", [0, -3, 2.5, True])
def test_checkpoint_every_must_be_a_positive_int(every):
    twin = Twin(network_from_dict(model_network("lif", steps=20)))
    with pytest.raises(BackendError, match="checkpoint_every must be a positive number of steps"):
        twin(checkpoint_every=every)
