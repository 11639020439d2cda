"""Event-driven spike products (`bioadapt.backends.torch.events`): the dense
pathway's ``spikes @ W`` and its gradients computed from the spikes' events,
against the matrix product (the same sums in another order), finite
differences, and the twin with events switched off."""

import pytest
import torch

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin, events
from bioadapt.backends.torch.events import Events, spike_product
from helpers import model_network


def _spikes(shape, rate, seed, values=(1.0,)):
    g = torch.Generator().manual_seed(seed)
    fired = torch.rand(shape, generator=g, dtype=torch.float64) < rate
    pick = torch.tensor(values, dtype=torch.float64)[torch.randint(len(values), shape, generator=g)]
    return torch.where(fired, pick, torch.zeros((), dtype=torch.float64))


@pytest.fixture
def always_events(monkeypatch):
    """Events for every product, however small or dense; yields the calls of
    the event product (whether each was binary)."""
    monkeypatch.setattr(events, "EVENTS_FROM_SIZE", 0)
    monkeypatch.setattr(events, "DENSE_ABOVE", 1.0)
    calls = []
    original = events._SpikeProduct.apply
    monkeypatch.setattr(events._SpikeProduct, "apply", lambda *a: calls.append(a[2].values is None) or original(*a))
    return calls


@pytest.mark.parametrize("shape", [(7, 30), (5, 3, 30)])
@pytest.mark.parametrize("values", [(1.0,), (1.0, 2.0, -0.5)])
def test_product_and_gradients_equal_the_matrix_product(always_events, shape, values):
    spikes = _spikes(shape, 0.1, seed=1, values=values)
    spikes[0] = 0  # a row (sample) without events
    weights = torch.randn(30, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    binary = values == (1.0,)
    s1, w1 = spikes.clone().requires_grad_(), weights.clone().requires_grad_()
    s2, w2 = spikes.clone().requires_grad_(), weights.clone().requires_grad_()
    out = spike_product(s1, w1, binary=binary)
    ref = s2 @ w2
    assert out.shape == ref.shape
    assert always_events == [binary]  # the event path ran
    torch.testing.assert_close(out, ref, rtol=1e-14, atol=1e-14)
    grad = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-14, atol=1e-14)
    # the spikes' gradient is the matrix product's (what a surrogate needs)
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-14, atol=1e-14)


def test_weight_gradient_against_finite_differences(always_events):
    spikes = _spikes((6, 12), 0.2, seed=4, values=(1.0, 3.0))
    ev = Events(spikes, binary=False)
    weights = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: events._SpikeProduct.apply(spikes, w, ev), (weights,))


def test_no_events_and_fallbacks(always_events, monkeypatch):
    weights = torch.randn(8, 4, dtype=torch.float64)
    silent = torch.zeros(3, 8, dtype=torch.float64)
    assert torch.equal(spike_product(silent, weights, binary=True), torch.zeros(3, 4, dtype=torch.float64))
    # too dense: the matrix product itself, bit for bit
    monkeypatch.setattr(events, "DENSE_ABOVE", 0.05)
    busy = _spikes((3, 8), 0.9, seed=5)
    assert torch.equal(spike_product(busy, weights, binary=True), busy @ weights)
    assert Events.find(busy, True) is None


def _twin_run(spec, x, var):
    twin = Twin(spec, synapses="dense")
    out = twin(inputs={"inp": x}, record={"hid": [var]})
    (out.traces["hid"][var] ** 2).mean().add(out.spikes["hid"].mean()).backward()
    grads = {f"{o}.{n}": p.grad for o in twin.params for n, p in twin.params[o].items() if p.grad is not None}
    return out, grads


@pytest.mark.parametrize("counts", [False, True])
def test_twin_with_events_equals_twin_without(always_events, monkeypatch, counts):
    """Every dense pathway through events (recurrent, delayed, input
    populations, input counts > 1) against the matrix products."""
    spec = network_from_dict(model_network("adlif", steps=120))
    twin = Twin(spec)
    base = twin.default_inputs(batch=1)["inp"]
    g = torch.Generator().manual_seed(6)
    x = torch.cat([base, (torch.rand(base.shape, generator=g) < 0.05).to(base.dtype)], dim=1)
    if counts:
        x = x * torch.randint(1, 3, x.shape, generator=g).to(x.dtype)
    with_events, g_events = _twin_run(spec, x, "u")
    calls = list(always_events)
    assert calls and (not all(calls) if counts else all(calls))  # the event path ran (with values for counts)
    monkeypatch.setattr(events, "EVENTS_FROM_SIZE", float("inf"))
    without, g_dense = _twin_run(spec, x, "u")
    assert len(always_events) == len(calls)
    assert with_events.spikes["hid"].sum() > 0
    assert torch.equal(with_events.spikes["hid"], without.spikes["hid"])
    torch.testing.assert_close(with_events.traces["hid"]["u"], without.traces["hid"]["u"], rtol=0, atol=1e-12)
    assert g_events.keys() == g_dense.keys()
    for name in g_dense:
        torch.testing.assert_close(g_events[name], g_dense[name], rtol=1e-9, atol=1e-12)


def test_learned_delays_with_events_equal_learned_delays_without(always_events, monkeypatch):
    """Learnable delays: one product per tap from the same events; the
    gradient reaches the positions through the taps' weight gradients."""
    spec = network_from_dict(model_network("adlif", steps=80))

    def run():
        twin = Twin(spec, synapses="dense")
        relaxed = twin.learn_delays("hid_to_hid_1", 6)
        out = twin(inputs=twin.default_inputs(batch=2), record={"hid": ["u"]})
        (out.traces["hid"]["u"] ** 2).mean().backward()
        return out, relaxed.position.grad

    with_events, g_events = run()
    assert always_events
    monkeypatch.setattr(events, "EVENTS_FROM_SIZE", float("inf"))
    without, g_dense = run()
    assert torch.equal(with_events.spikes["hid"], without.spikes["hid"])
    torch.testing.assert_close(with_events.traces["hid"]["u"], without.traces["hid"]["u"], rtol=0, atol=1e-12)
    assert torch.any(g_dense != 0)
    torch.testing.assert_close(g_events, g_dense, rtol=1e-9, atol=1e-12)


def test_empty_shapes_take_the_matrix_product(always_events):
    for spikes, weights in ((torch.zeros(4, 0), torch.zeros(0, 3)), (torch.zeros(0, 5), torch.zeros(5, 3))):
        assert torch.equal(spike_product(spikes, weights), spikes @ weights)
