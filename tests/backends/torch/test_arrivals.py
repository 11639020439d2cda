"""Synapses run only where a spike arrives (no gradients) against every synapse every step."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin
from bioadapt.backends.torch.arrivals import Arrivals
from helpers import MEMBRANE
from strategies import networks


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(0, 60), st.integers(0, 5), st.integers(1, 3), st.sampled_from([0.3, 0.05]))
def test_arrivals_are_the_spiking_synapses_in_queue_order(seed, n_source, n_syn, max_delay, batch, rate):
    """Against the definition: every synapse whose neuron fired ``delay`` steps
    ago in any sample (at a low ``rate``, often one neuron at one delay)."""
    rng = np.random.default_rng(seed)
    pre, delay = rng.integers(0, n_source, n_syn), rng.integers(0, max_delay + 1, n_syn)
    order = np.lexsort((np.arange(n_syn), pre, -delay))  # the twin's queue order
    pre, delay = torch.as_tensor(pre[order]), torch.as_tensor(delay[order])
    hist = torch.as_tensor(rng.random((max_delay + 1, batch, n_source)) < rate, dtype=torch.float64)
    expected = torch.nonzero((hist[max_delay - delay, :, pre] > 0).any(1)).squeeze(1)
    arriving = Arrivals(delay, pre, n_source)(list(hist.unbind(0)))
    if len(expected) == 0:
        assert arriving is None
        return
    assert torch.equal(torch.from_numpy(arriving.active), expected)
    if batch == 1:  # every arriving synapse receives a positive spike
        assert arriving.spikes is None
    else:
        assert torch.equal(torch.from_numpy(arriving.spikes), hist[max_delay - delay[expected], :, pre[expected]].T)


def test_synapses_out_of_queue_order_are_refused():
    with pytest.raises(ValueError, match="spike-queue order"):
        Arrivals(torch.tensor([0, 1]), torch.tensor([0, 0]), 1)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_steps=300))
def test_runs_without_gradients_equal_runs_with_them(case):
    """Random networks (heterogeneous delays, autapses, recurrent input into
    several variables), one sample and two samples per batch: spikes, traces and
    the final state bitwise equal whether every synapse runs every step
    (gradients) or only those a spike reaches (no gradients)."""
    model, net = case
    twin = Twin(network_from_dict(net))
    base = twin.default_inputs()["inp"]
    for inputs in ({"inp": base}, {"inp": torch.cat([base, base.flip(0)], dim=1)}):
        _same_with_and_without_gradients(twin, inputs, model)


def _same_with_and_without_gradients(twin, inputs, model):
    record = {"hid": [MEMBRANE[model]]}
    with torch.no_grad():
        events = twin(inputs=inputs, record=record)
    with torch.enable_grad():
        every = twin(inputs=inputs, record=record)
    assert torch.equal(events.spikes["hid"], every.spikes["hid"].detach())
    var = MEMBRANE[model]
    assert torch.equal(events.traces["hid"][var], every.traces["hid"][var].detach())
    assert events.state.keys() == every.state.keys()
    for key, value in events.state.items():
        values, others = (value, every.state[key]) if isinstance(value, (list, tuple)) else ([value], [every.state[key]])
        assert all(torch.equal(a, b.detach()) for a, b in zip(values, others, strict=True)), key
