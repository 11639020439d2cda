"""Property-based: random networks over the shipped models give identical spikes
(and bitwise identical states) in the twin and in Brian2."""

import pytest
from hypothesis import HealthCheck, given, settings

from bioadapt import network_from_dict
from helpers import MEMBRANE, assert_same_spikes, assert_same_traces, run_all
from strategies import networks

def _check(case, brian="numpy", twin="torch"):
    model, net = case
    spec = network_from_dict(net)
    res = run_all(spec, [brian, twin], {"hid": [MEMBRANE[model]]})
    assert_same_spikes(res[brian], res[twin])
    assert_same_traces(res[brian], res[twin])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_twin_equals_numpy(case):
    _check(case)


@pytest.mark.slow  # five compiled projects; test_agreement compiles every model once
@pytest.mark.brian_standalone
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_steps=2000))
def test_random_networks_twin_equals_cpp_standalone(case):
    _check(case, brian="cpp_standalone", twin="torch:libm")


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_steps=3000))
def test_random_networks_twin_equals_numpy_long(case):
    _check(case)
