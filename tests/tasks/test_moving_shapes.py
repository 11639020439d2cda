"""Moving shapes: seeded, squares inside the frame, bounces equal the closed-form triangle wave."""

import numpy as np
import pytest

from bioadapt import ConfigError
from bioadapt.tasks import moving_shapes
from bioadapt.tasks.moving_shapes import bounce, render_squares


def triangle(p0, v, t, limit):
    """Reflection at 0 and ``limit`` in closed form: fold the free motion ``p0 + v t`` with period ``2 limit``."""
    return limit - np.abs(np.mod(p0 + v * t, 2 * limit) - limit)


def test_bounce_is_the_folded_free_motion():
    rng = np.random.default_rng(0)
    for limit in (1, 2, 5, 9):
        p0 = rng.integers(0, limit + 1, size=50)
        v = rng.integers(-limit, limit + 1, size=50)
        got = bounce(p0, v, 40, limit)
        t = np.arange(40)[:, None]
        assert np.array_equal(got, triangle(p0, v, t, limit))
        assert got.min() >= 0 and got.max() <= limit


def test_render_squares_counts_pixels():
    frame = render_squares(np.array([[0, 0], [3, 4]]), 2, 6, 7)
    assert frame.shape == (6, 7) and frame.sum() == 8
    assert frame[0:2, 0:2].all() and frame[3:5, 4:6].all()
    overlap = render_squares(np.array([[1, 1], [2, 2]]), 2, 6, 7)
    assert overlap.sum() == 7 and overlap.max() == 1  # overlapping squares stay 1


def test_shapes_dtypes_and_seed():
    a = moving_shapes(n_samples=20, seed=3, height=7, width=9, frames=10, shapes=2, size=2, latency=2)
    b = moving_shapes(n_samples=20, seed=3, height=7, width=9, frames=10, shapes=2, size=2, latency=2)
    c = moving_shapes(n_samples=20, seed=4, height=7, width=9, frames=10, shapes=2, size=2, latency=2)
    assert a.x.shape == a.target.shape == (20, 10, 63) and a.x.dtype == a.target.dtype == np.float64
    assert a.kind == "regression" and a.name == "moving_shapes"
    assert np.array_equal(a.x, b.x) and np.array_equal(a.target, b.target)
    assert not np.array_equal(a.x, c.x)
    assert sorted(np.concatenate([a.subset(s) for s in ("train", "valid", "test")]).tolist()) == list(range(20))
    assert set(np.unique(a.x)) <= {0.0, 1.0}


@pytest.mark.parametrize("latency", [0, 1, 2, 3])
def test_target_is_the_frame_after_the_last_one_seen(latency):
    """target[t] = frame[t - latency + 1]; the frames before the first input come from the same motion."""
    data = moving_shapes(n_samples=8, seed=1, frames=12, latency=latency)
    if latency == 0:
        assert np.array_equal(data.target[:, :-1], data.x[:, 1:])  # the usual next-frame labelling
    else:
        assert np.array_equal(data.target[:, latency - 1:], data.x[:, :12 - latency + 1])
    longer = moving_shapes(n_samples=8, seed=1, frames=12, latency=latency + 1)
    assert np.array_equal(longer.target[:, 1:], data.target[:, :-1])  # one more step of latency, same clip


def test_squares_stay_inside_and_move_like_the_triangle_wave():
    """Every frame, also those before the first input (latency 3: two), is one whole square inside the grid, moving by reflection."""
    height, width, size = 8, 10, 3
    data = moving_shapes(n_samples=30, seed=5, height=height, width=width, frames=25, shapes=1, size=size, speed=2, latency=3)
    frames = np.concatenate([data.target[:, :2], data.x], axis=1).reshape(30, 27, height, width)  # frames -2 .. 24
    t = np.arange(-2, 25)
    for clip in frames:
        rows = np.array([np.nonzero(f.any(axis=1))[0] for f in clip])
        cols = np.array([np.nonzero(f.any(axis=0))[0] for f in clip])
        assert rows.shape == cols.shape == (27, size) and (clip.sum(axis=(1, 2)) == size * size).all()
        r0, c0 = rows[:, 0], cols[:, 0]
        for corner, limit in ((r0, height - size), (c0, width - size)):
            # the free motion from frame 0 with one of the allowed velocities, folded
            assert any(np.array_equal(corner, triangle(corner[2], v, t, limit)) for v in range(-2, 3))
        assert not (np.all(r0 == r0[0]) and np.all(c0 == c0[0]))  # it moves


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 8}, r"do not fit"),
        ({"speed": 7}, r"speed 7 is larger than the room"),
        ({"frames": 1}, r"'frames' must be an integer >= 2"),
        ({"latency": -1}, r"'latency' must be an integer >= 0"),
        ({"shapes": 1.5}, r"'shapes' must be an integer"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        moving_shapes(n_samples=4, **kwargs)
