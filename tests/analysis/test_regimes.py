"""classify_regime on spike trains whose regime is known by construction."""

import numpy as np
import pytest

from bioadapt import ParameterError
from bioadapt.analysis import Regime, classify_regime, upstrokes


def _bursts(n_bursts, per_burst, isi, silence, t0=0.0):
    times, t = [], t0
    for _ in range(n_bursts):
        times.extend(t + isi * np.arange(per_burst))
        t = times[-1] + silence
    return np.array(times)


def test_quiescent_and_tonic():
    assert classify_regime([], 0, 100).regime is Regime.QUIESCENT
    assert classify_regime([150.0], 0, 100).regime is Regime.QUIESCENT  # outside the window
    tonic = classify_regime(np.arange(5, 1000, 60.0) + np.tile([0, 1], 9)[:17], 0, 1000)  # one-step jitter
    assert tonic.regime is Regime.TONIC and len(tonic.bursts) == 1
    assert tonic.mean_isi == pytest.approx((tonic.spike_times[-1] - tonic.spike_times[0]) / 16)


def test_bursting_statistics():
    t = _bursts(4, 7, 65.0, 2000.0, t0=100.0)
    p = classify_regime(t, 0, t[-1] + 500)
    assert p.regime is Regime.BURSTING
    assert p.spikes_per_burst.tolist() == [7, 7, 7, 7]
    np.testing.assert_allclose(p.intra_burst_isi, 65.0)
    np.testing.assert_allclose(p.inter_burst_interval, 2000.0)
    np.testing.assert_allclose(p.burst_period, 6 * 65.0 + 2000.0)


def test_bursts_need_silences_longer_than_burst_ratio_times_the_isi():
    t = _bursts(4, 5, 60.0, 150.0)  # silences only 2.5 x the ISI
    assert classify_regime(t, 0, t[-1] + 60).regime is Regime.TONIC
    assert classify_regime(t, 0, t[-1] + 60, burst_ratio=2.0).regime is Regime.BURSTING


def test_phasic_is_activity_that_stops():
    t = 1000 + np.cumsum(np.linspace(50, 90, 15))
    assert classify_regime(t, 1000, 6000).regime is Regime.PHASIC
    # the same spikes in a window that ends soon after them are ongoing activity
    assert classify_regime(t, 1000, t[-1] + 100).regime is Regime.TONIC
    # a bursting neuron observed over several periods is not phasic
    b = _bursts(3, 7, 65.0, 2000.0)
    assert classify_regime(b, 0, b[-1] + 1500).regime is Regime.BURSTING
    assert classify_regime([1002.0], 1000, 1500).regime is Regime.PHASIC


def test_bad_windows_and_ratios_are_rejected():
    with pytest.raises(ParameterError, match="start < stop"):
        classify_regime([1.0], 5, 5)
    with pytest.raises(ParameterError, match="must be > 1"):
        classify_regime([1.0], 0, 5, burst_ratio=0.5)


def test_upstrokes_count_each_crossing_once():
    v = np.array([0.5, 0.7, -0.1, -0.3, 0.0, 0.2, 0.4, -1.0, 0.1])
    np.testing.assert_array_equal(upstrokes(v, 0.0), [0, 5, 8])
    np.testing.assert_array_equal(upstrokes(v, 0.0, dt=0.5), [0, 2.5, 4])
