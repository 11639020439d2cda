"""Mackey-Glass chaotic time series, sampled as in the NeuroBench protocol.

The delay differential equation

    dx/dt = beta*x(t - tau)/(1 + x(t - tau)**n) - gamma*x(t),   x(t) = history(t) for t <= 0,

is integrated with the classical fourth-order Runge-Kutta method on a grid of
step ``h = tau/m`` (``m`` an integer, so that ``t - tau`` falls on the grid
at the start and end of a step and the derivative jumps of the history at
``t = 0, tau, 2 tau, ...`` sit on grid points). The delayed value at the
midpoint of a step, ``x(t + h/2 - tau)``, is the cubic Hermite interpolant
of the stored values and derivatives,

    x(t_k + h/2) = (x_k + x_{k+1})/2 + h*(f_k - f_{k+1})/8,

which is fourth-order accurate, so the scheme converges at order 4
(`tests/tasks/test_mackey_glass.py` measures it). Samples between grid points
use the same Hermite interpolant.

NeuroBench's protocol samples 75 points per Lyapunov time (about 197 time
units for ``tau = 17``), trains on 10 and tests on the next 10 Lyapunov times.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import ParameterError

__all__ = [
    "LYAPUNOV_TIME",
    "POINTS_PER_LYAPUNOV",
    "SAMPLE_INTERVAL",
    "mackey_glass",
    "seeded_history",
    "lyapunov_split",
    "prediction_pairs",
    "nrmse",
]

#: Lyapunov time of the tau = 17 attractor (time units), as NeuroBench uses it.
LYAPUNOV_TIME = 197.0
#: Samples per Lyapunov time in the NeuroBench protocol.
POINTS_PER_LYAPUNOV = 75
SAMPLE_INTERVAL = LYAPUNOV_TIME / POINTS_PER_LYAPUNOV


def seeded_history(seed: int, tau: float = 17.0) -> Callable[[float], float]:
    """A smooth initial history on ``[-tau, 0]`` drawn from ``seed``.

    ``x(t) = x0 + sum_{k=1..3} b_k sin(2 pi k t/tau + phi_k)`` with ``x0`` uniform
    in [0.8, 1.2], ``b_k`` uniform in [-0.05, 0.05]/k and ``phi_k`` uniform phases;
    it does not depend on the integration step, so runs at different steps
    integrate the same problem.
    """
    rng = np.random.default_rng(seed)
    x0 = float(rng.uniform(0.8, 1.2))
    k = np.arange(1, 4)
    b = rng.uniform(-0.05, 0.05, size=3) / k
    phi = rng.uniform(0.0, 2 * np.pi, size=3)

    def history(t):
        t = np.asarray(t, dtype=float)
        return x0 + np.sum(b * np.sin(2 * np.pi * k * t[..., None] / tau + phi), axis=-1)

    return history


def mackey_glass(
    n_samples: int,
    sample_interval: float = SAMPLE_INTERVAL,
    washout: float = 1000.0,
    step: float = 17.0 / 340,
    seed: int = 0,
    history: float | Callable | None = None,
    beta: float = 0.2,
    gamma: float = 0.1,
    n: float = 10.0,
    tau: float = 17.0,
) -> np.ndarray:
    """The Mackey-Glass series sampled at ``washout + j*sample_interval`` for ``j`` from 0 to ``n_samples - 1``.

    Parameters
    ----------
    n_samples : int
    sample_interval : float
        Time between samples (default: 197/75, NeuroBench).
    washout : float
        Time discarded before the first sample (transient from the history).
    step : float
        Internal RK4 step; ``tau/step`` must be an integer.
    seed : int
        Draws the initial history (`seeded_history`) when ``history`` is None.
    history : float or callable, optional
        A constant or a function of ``t <= 0`` (vectorised), overriding the seed.
    beta, gamma, n, tau : float
        Equation parameters (defaults: the chaotic tau = 17 set).

    Examples
    --------
    >>> x = mackey_glass(750)
    >>> x.shape
    (750,)
    >>> mackey_glass(10, step=0.3)
    Traceback (most recent call last):
    ...
    bioadapt.errors.ParameterError: mackey_glass: tau/step must be an integer (got tau = 17, step = 0.3, ratio 56.667); try step = 17/56.
    """
    if n_samples < 1 or not sample_interval > 0 or not washout >= 0:
        raise ParameterError(f"mackey_glass: need n_samples >= 1, sample_interval > 0 and washout >= 0, got {n_samples}, {sample_interval}, {washout}.")
    ratio = tau / step if step > 0 else float("nan")
    m = round(ratio) if math.isfinite(ratio) else 0
    if m < 1 or abs(ratio - m) > 1e-9 * ratio:
        raise ParameterError(f"mackey_glass: tau/step must be an integer (got tau = {tau:g}, step = {step:g}, ratio {ratio:.5g}); try step = {tau:g}/{max(int(ratio), 1)}.")
    h = tau / m
    if history is None:
        history = seeded_history(seed, tau)
    elif not callable(history):
        value = float(history)
        history = lambda t, value=value: np.full(np.shape(t), value)  # noqa: E731
    t_end = washout + (n_samples - 1) * sample_interval
    steps = int(math.ceil(t_end / h - 1e-9)) + 1  # one step beyond t_end keeps the last interval interior
    xs, fs = _rk4(history, h, m, steps, beta, gamma, n)
    times = washout + sample_interval * np.arange(n_samples)
    return _hermite(xs, fs, h, times)


def _rk4(history: Callable, h: float, m: int, steps: int, beta: float, gamma: float, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Values ``x_k = x(k h)`` and derivatives ``f_k`` for ``k = 0 .. steps``."""
    # Delayed input g(d) = beta*d/(1 + d**n), for the history part precomputed
    # at grid points and midpoints of [-tau, 0].
    past = np.asarray(history(np.arange(m + 1) * h - m * h), dtype=float)
    past_mid = np.asarray(history((np.arange(m) + 0.5) * h - m * h), dtype=float)
    g_past = (beta * past / (1.0 + past**n)).tolist()
    g_past_mid = (beta * past_mid / (1.0 + past_mid**n)).tolist()
    xs = [float(past[-1])]  # continuity at t = 0
    fs = [g_past[0] - gamma * xs[0]]
    g0 = g_past[0]
    for k in range(steps):
        j = k - m  # the delayed step starts at t_j
        if j < 0:
            g_mid, g1 = g_past_mid[k], g_past[k + 1]
        else:
            d_mid = 0.5 * (xs[j] + xs[j + 1]) + 0.125 * h * (fs[j] - fs[j + 1])
            d1 = xs[j + 1]
            g_mid = beta * d_mid / (1.0 + d_mid**n)
            g1 = beta * d1 / (1.0 + d1**n)
        x = xs[k]
        k1 = g0 - gamma * x
        k2 = g_mid - gamma * (x + 0.5 * h * k1)
        k3 = g_mid - gamma * (x + 0.5 * h * k2)
        k4 = g1 - gamma * (x + h * k3)
        x_next = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        xs.append(x_next)
        fs.append(g1 - gamma * x_next)
        g0 = g1
    return np.array(xs), np.array(fs)


def _hermite(xs: np.ndarray, fs: np.ndarray, h: float, times: np.ndarray) -> np.ndarray:
    k = np.minimum((times / h).astype(np.int64), len(xs) - 2)
    s = times / h - k
    s2, s3 = s * s, s * s * s
    return (2 * s3 - 3 * s2 + 1) * xs[k] + (s3 - 2 * s2 + s) * h * fs[k] + (-2 * s3 + 3 * s2) * xs[k + 1] + (s3 - s2) * h * fs[k + 1]


def lyapunov_split(series: np.ndarray, train: float = 10, test: float = 10, points_per_lyapunov: int = POINTS_PER_LYAPUNOV) -> tuple[np.ndarray, np.ndarray]:
    """The first ``train`` Lyapunov times of ``series`` and the ``test`` Lyapunov times after them.

    Examples
    --------
    >>> a, b = lyapunov_split(np.arange(1500.0))
    >>> len(a), len(b), float(b[0])
    (750, 750, 750.0)
    >>> lyapunov_split(np.arange(100.0))
    Traceback (most recent call last):
    ...
    bioadapt.errors.ParameterError: lyapunov_split: 10 + 10 Lyapunov times at 75 points each need 1500 samples, got 100.
    """
    n_train = int(round(train * points_per_lyapunov))
    n_test = int(round(test * points_per_lyapunov))
    series = np.asarray(series)
    if len(series) < n_train + n_test:
        raise ParameterError(f"lyapunov_split: {train:g} + {test:g} Lyapunov times at {points_per_lyapunov} points each need {n_train + n_test} samples, got {len(series)}.")
    return series[:n_train], series[n_train : n_train + n_test]


def prediction_pairs(series: np.ndarray, horizon: int, lags: tuple = (0,)) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` for predicting ``x[t + horizon]`` from ``x[t - lag]`` for each lag.

    ``inputs`` has shape ``(N, len(lags))`` and ``targets`` ``(N,)``, for every
    ``t`` with ``t - max(lags) >= 0`` and ``t + horizon < len(series)``.

    Examples
    --------
    >>> x, y = prediction_pairs(np.arange(10.0), horizon=3, lags=(0, 2))
    >>> x[0].tolist(), float(y[0])
    ([2.0, 0.0], 5.0)
    """
    series = np.asarray(series)
    lags = tuple(int(lag) for lag in lags)
    if horizon < 1 or not lags or min(lags) < 0:
        raise ParameterError(f"prediction_pairs: need horizon >= 1 and lags >= 0, got horizon={horizon}, lags={lags}.")
    first, count = max(lags), len(series) - horizon - max(lags)
    if count < 1:
        raise ParameterError(f"prediction_pairs: a series of {len(series)} samples has no pair for horizon {horizon} and lags {lags}.")
    t = np.arange(first, first + count)
    inputs = np.stack([series[t - lag] for lag in lags], axis=1)
    return inputs, series[t + horizon]


def nrmse(prediction: np.ndarray, target: np.ndarray) -> float:
    """Root-mean-square error divided by the standard deviation of ``target``.

    Predicting the target's mean gives 1; a perfect prediction 0.
    """
    prediction, target = np.asarray(prediction, dtype=float), np.asarray(target, dtype=float)
    if prediction.shape != target.shape:
        raise ParameterError(f"nrmse: prediction and target need the same shape, got {prediction.shape} and {target.shape}.")
    return float(np.sqrt(np.mean((prediction - target) ** 2)) / np.std(target))


def mackey_glass_task(seed: int = 0, horizon: int = 1, train_lyapunov: float = 10, test_lyapunov: float = 10, window: int = 150, stride: int = 10, valid_fraction: float = 0.1, points_per_lyapunov: int = POINTS_PER_LYAPUNOV, latency: int = 0, standardize: bool = False):
    """Windows of a Mackey-Glass series for ``horizon``-step-ahead prediction (a `SequenceDataset`).

    The series is cut NeuroBench-style into ``train_lyapunov`` Lyapunov times
    for training (windows every ``stride`` samples; the last ``valid_fraction``
    of them for validation) followed by ``test_lyapunov`` Lyapunov times for
    testing (the same windowing); input ``x[t]``, target ``x[t - latency + horizon]``.

    ``latency`` is the number of steps a value needs to reach the readout: a
    relay -> hidden -> leaky-integrator network shows ``x[t]`` in its readout at
    step ``t + 2``, so with ``latency = 2`` the readout at step ``t`` predicts
    ``horizon`` samples beyond the last value it has seen.

    ``standardize`` maps the series to zero mean and unit variance with the
    mean and standard deviation of the training segment (the test segment is
    not looked at); NRMSE does not change under this map.
    """
    from .base import SequenceDataset

    n_train = int(round(train_lyapunov * points_per_lyapunov))
    n_test = int(round(test_lyapunov * points_per_lyapunov))
    if window < 2 or stride < 1 or horizon < 1 or latency < 0:
        raise ParameterError(f"mackey_glass_task: need window >= 2, stride >= 1, horizon >= 1, latency >= 0 (got {window}, {stride}, {horizon}, {latency}).")
    if window + horizon > min(n_train, n_test):
        raise ParameterError(f"mackey_glass_task: window + horizon ({window + horizon}) exceeds the train ({n_train}) or test ({n_test}) segment.")
    series = mackey_glass(n_train + n_test + horizon, seed=seed)
    if standardize:
        series = (series - series[:n_train].mean()) / series[:n_train].std()
    segments = {"train": (0, n_train), "test": (n_train, n_train + n_test)}
    xs, ys, splits, offset = [], [], {}, 0
    for name, (lo, hi) in segments.items():
        shift = horizon - latency  # target index minus input index
        starts = np.arange(lo + max(0, -shift), hi - window - max(0, shift) + 1, stride)
        xs += [series[s:s + window] for s in starts]
        ys += [series[s + shift:s + shift + window] for s in starts]
        splits[name] = np.arange(offset, offset + len(starts))
        offset += len(starts)
    n_valid = int(round(valid_fraction * len(splits["train"])))
    splits["valid"], splits["train"] = splits["train"][len(splits["train"]) - n_valid:], splits["train"][: len(splits["train"]) - n_valid]
    x = np.asarray(xs)[:, :, None]
    target = np.asarray(ys)[:, :, None]
    return SequenceDataset(x=x, target=target, splits=splits, name="mackey_glass")
