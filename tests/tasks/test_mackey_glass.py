"""Mackey-Glass series: range, integrator convergence, determinism, chaos."""

import numpy as np
import pytest

from bioadapt import ParameterError
from bioadapt.tasks import LYAPUNOV_TIME, POINTS_PER_LYAPUNOV, lyapunov_split, mackey_glass, nrmse, prediction_pairs
from bioadapt.tasks.mackey_glass import seeded_history

TAU = 17.0
#: Separation beyond which two trajectories no longer diverge exponentially (the attractor is ~1 wide).
SATURATION = 1e-2


def test_standard_series_stays_in_the_attractor_range():
    # 20 Lyapunov times (the NeuroBench train + test length) for several seeds
    for seed in range(3):
        x = mackey_glass(20 * POINTS_PER_LYAPUNOV, seed=seed)
        assert 0.0 < x.min() and x.max() < 1.5
        assert x.std() > 0.15  # it oscillates over the attractor, not near a fixed point (x* = 1)


def test_constant_history_near_the_fixed_point_grows_away_from_it():
    # x* = 1 solves beta x/(1 + x^n) = gamma x; it is unstable for tau = 17
    x = mackey_glass(200, sample_interval=5.0, washout=0.0, history=1.0 + 1e-6)
    assert abs(x[0] - 1.0) < 1e-5 and np.abs(x[-50:] - 1.0).max() > 0.2


def test_rk4_converges_at_fourth_order():
    """Max error over t in [0, 300] (about 1.5 Lyapunov times, so chaos amplifies
    errors only by ~e^1.5) against a 2x finer run, as tau/step doubles."""
    run = lambda m: mackey_glass(301, sample_interval=1.0, washout=0.0, step=TAU / m)  # noqa: E731
    reference = run(2720)
    errors = np.array([np.abs(run(m) - reference).max() for m in (85, 170, 340, 680)])
    orders = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.abs(orders - 4) < 0.3), orders
    assert errors[2] < 1e-9  # the default step, tau/340


def test_same_seed_same_series_other_seed_other_series():
    a, b, c = (mackey_glass(300, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


def _largest_lyapunov_exponent(tau: float, horizon: int = 3000, eps: float = 1e-12) -> tuple[float, np.ndarray]:
    """Growth rate of the separation of two trajectories whose histories differ by eps.

    The separation envelope (max over windows of 200 time units) is fitted by
    exp(lambda t) after the first window (alignment onto the unstable direction)
    while it stays below SATURATION (eps*e^{0.0056*3000} ~ 3e-4 at tau = 17);
    rounding (1e-16) is far below eps."""
    history = seeded_history(0, tau)
    step = tau / round(tau / 0.05)
    a = mackey_glass(horizon, sample_interval=1.0, washout=0.0, history=history, tau=tau, step=step)
    b = mackey_glass(horizon, sample_interval=1.0, washout=0.0, history=lambda t: history(t) + eps, tau=tau, step=step)
    window = 200
    envelope = np.abs(a - b)[: horizon // window * window].reshape(-1, window).max(axis=1)
    centres = window * (np.arange(len(envelope)) + 0.5)
    fit = (np.arange(len(envelope)) >= 1) & (envelope < SATURATION)
    slope = np.polyfit(centres[fit], np.log(envelope[fit]), 1)[0]
    return slope, envelope


def test_tau_17_is_chaotic_and_tau_10_is_periodic():
    rate, envelope = _largest_lyapunov_exponent(17.0)
    # NeuroBench's Lyapunov time 197 means lambda = 1/197 = 0.0051 per time unit
    assert 0.5 / LYAPUNOV_TIME < rate < 2 / LYAPUNOV_TIME
    assert envelope[-1] > 1e4 * envelope[0]
    rate, envelope = _largest_lyapunov_exponent(10.0)  # a limit cycle: the separation does not grow
    assert abs(rate) < 1e-4 and envelope[-1] < 10 * envelope[0]


def test_nonperiodic_series_has_no_exact_return():
    # a periodic orbit sampled at a fixed interval would come back close to an
    # earlier segment; the chaotic series does not, the tau = 10 series does
    def closest_return(x, length=40):
        target = x[-length:]
        return min(np.abs(x[s : s + length] - target).max() for s in range(len(x) - 2 * length))

    chaotic = mackey_glass(1500, sample_interval=1.0, tau=17.0)
    periodic = mackey_glass(1500, sample_interval=1.0, tau=10.0, step=10.0 / 200)
    assert closest_return(chaotic) > 1e-2
    assert closest_return(periodic) < 1e-3


def test_lyapunov_split_and_prediction_pairs():
    x = mackey_glass(20 * POINTS_PER_LYAPUNOV)
    train, test = lyapunov_split(x)
    assert len(train) == len(test) == 10 * POINTS_PER_LYAPUNOV
    np.testing.assert_array_equal(np.concatenate([train, test]), x)
    inputs, targets = prediction_pairs(train, horizon=5, lags=(0, 3))
    assert inputs.shape == (len(train) - 5 - 3, 2)
    np.testing.assert_array_equal(inputs[:, 0], train[3:-5])
    np.testing.assert_array_equal(inputs[:, 1], train[:-8])
    np.testing.assert_array_equal(targets, train[8:])
    with pytest.raises(ParameterError, match="need 3000 samples"):
        lyapunov_split(x, train=20, test=20)
    with pytest.raises(ParameterError, match="horizon >= 1"):
        prediction_pairs(train, horizon=0)


def test_nrmse():
    x = mackey_glass(750)
    assert nrmse(x, x) == 0.0
    assert nrmse(np.full_like(x, x.mean()), x) == pytest.approx(1.0, rel=1e-12)
    # persistence (x[t] as the prediction of x[t+h]) gets worse with the horizon
    # while h is below a quarter of the ~50 time-unit quasi-period
    x = mackey_glass(750, sample_interval=1.0)
    scores = []
    for h in (1, 3, 10):
        inputs, targets = prediction_pairs(x, h)
        scores.append(nrmse(inputs[:, 0], targets))
    assert 0 < scores[0] < scores[1] < scores[2]


def test_bad_steps_are_rejected():
    with pytest.raises(ParameterError, match="tau/step must be an integer"):
        mackey_glass(10, step=0.3)
    with pytest.raises(ParameterError, match="tau/step must be an integer"):
        mackey_glass(10, step=20.0)


def test_prediction_windows_split_in_time():
    from bioadapt.tasks import mackey_glass_task

    data = mackey_glass_task(seed=2, horizon=3, train_lyapunov=4, test_lyapunov=4, window=50, stride=7)
    x, target = data.x[..., 0], data.target[..., 0]
    assert x.shape == target.shape and x.shape[1] == 50
    series = mackey_glass(4 * 75 + 4 * 75 + 3, seed=2)
    # every window is a stretch of the series, the target the same stretch `horizon` samples later
    first_test = data.splits["test"][0]
    assert np.array_equal(x[0], series[:50]) and np.array_equal(target[0], series[3:53])
    assert np.array_equal(x[first_test], series[300:350])
    # the test windows start after the training segment; train and valid windows lie inside it
    train_valid = np.concatenate([data.splits["train"], data.splits["valid"]])
    assert train_valid.max() < first_test and len(data.splits["valid"]) == round(0.1 * len(train_valid))
    assert data.splits["valid"].min() > data.splits["train"].max()  # validation: the latest training windows


@pytest.mark.parametrize("horizon,latency", [(1, 2), (3, 2), (2, 2)])
def test_latency_shifts_the_target_behind_the_input(horizon, latency):
    """With latency L the target at step t is x[t - L + horizon], for every window and step."""
    from bioadapt.tasks import mackey_glass_task

    data = mackey_glass_task(seed=2, horizon=horizon, latency=latency, train_lyapunov=4, test_lyapunov=4, window=50, stride=7)
    series = mackey_glass(4 * 75 + 4 * 75 + horizon, seed=2)
    x, target = data.x[..., 0], data.target[..., 0]
    shift = horizon - latency
    for k in range(len(x)):
        start = int(np.flatnonzero(series == x[k, 0])[0])
        assert np.array_equal(x[k], series[start:start + 50])
        assert start + shift >= 0 and np.array_equal(target[k], series[start + shift:start + shift + 50])
    assert np.array_equal(x[0], series[max(0, -shift):max(0, -shift) + 50])
