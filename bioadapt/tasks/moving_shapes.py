"""Moving shapes: next-frame prediction on a small video of bouncing squares.

A small, locally generated stand-in for Moving MNIST (the STC paper's task):
``shapes`` squares of side ``size`` move on a ``height`` x ``width`` grid with
integer velocities in ``{-speed, ..., speed}`` per axis (never both 0) and
bounce off the borders by reflection, so each coordinate follows a triangle
wave of period ``2*(extent - size)``. A frame is 1 where a square covers the
pixel, else 0 (overlapping squares stay 1). Frames are flattened row-major:
pixel ``(r, c)`` is channel ``r*width + c``, the index a network's grid
condition uses (``i // width``, ``i % width``).

Latency
-------
A spiking network needs steps to pass a frame to its readout: frame ``t``
written into a relay at step ``t`` reaches a hidden layer at ``t + 1`` and a
leaky-integrator readout at ``t + 2`` (``latency = 2``). The readout at step
``t`` has then seen frames up to ``t - latency``, and its target is the frame
after those, ``frame[t - latency + 1]``. ``latency = 0`` is the usual
labelling (target ``frame[t + 1]`` at input ``frame[t]``). The clip extends
before the first input frame where needed, so every target is a real frame
(the first steps are meant to be left out with ``ignore_first``).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import SequenceDataset, split_indices

__all__ = ["moving_shapes", "bounce", "render_squares"]


def bounce(start: np.ndarray, velocity: np.ndarray, n_frames: int, limit: int) -> np.ndarray:
    """Integer positions in ``[0, limit]`` of points moving with ``velocity`` and reflected at 0 and ``limit``.

    Stepped frame by frame: a step that would leave the range is mirrored at
    the border it crosses and the velocity flips. Needs ``|velocity| <= limit``.
    Returns ``(n_frames, *start.shape)``.
    """
    p = np.array(start, dtype=np.int64)
    v = np.array(velocity, dtype=np.int64)
    out = np.empty((n_frames,) + p.shape, dtype=np.int64)
    for t in range(n_frames):
        out[t] = p
        p = p + v
        low, high = p < 0, p > limit
        p = np.where(low, -p, np.where(high, 2 * limit - p, p))
        v = np.where(low | high, -v, v)
    return out


def render_squares(corners: np.ndarray, size: int, height: int, width: int) -> np.ndarray:
    """Frames ``(..., height, width)`` of float64 0/1 from top-left corners ``(..., shapes, 2)`` (row, column)."""
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    r = corners[..., 0, None, None]
    c = corners[..., 1, None, None]
    inside = (rows >= r) & (rows < r + size) & (cols >= c) & (cols < c + size)
    return inside.any(axis=-3).astype(np.float64)


def moving_shapes(n_samples: int = 512, seed: int = 0, height: int = 8, width: int = 8, frames: int = 16, shapes: int = 2, size: int = 2, speed: int = 1, latency: int = 2, split=(0.8, 0.1, 0.1)) -> SequenceDataset:
    """Bouncing-squares clips: input ``x[t] = frame[t]``, target ``frame[t - latency + 1]`` (see the module docstring).

    ``x`` and ``target`` are float64 ``(n_samples, frames, height*width)``.
    """
    for name, value, minimum in (("n_samples", n_samples, 1), ("height", height, 1), ("width", width, 1), ("frames", frames, 2), ("shapes", shapes, 1), ("size", size, 1), ("speed", speed, 1), ("latency", latency, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"moving_shapes: '{name}' must be an integer >= {minimum}, got {value!r}.")
    room = min(height, width) - size  # the largest corner coordinate on the shorter axis
    if room < 1:
        raise ConfigError(f"moving_shapes: squares of size {size} do not fit and move on a {height} x {width} grid.")
    if speed > room:
        raise ConfigError(f"moving_shapes: speed {speed} is larger than the room to move ({room} pixels); a bounce would leave the frame.")
    rng = np.random.default_rng([int(seed), 11])
    limits = np.array([height - size, width - size])
    start = np.stack([rng.integers(0, limits[a] + 1, size=(n_samples, shapes)) for a in range(2)], axis=-1)
    velocity = rng.integers(-speed, speed + 1, size=(n_samples, shapes, 2))
    still = np.all(velocity == 0, axis=-1)
    while still.any():  # every square moves
        velocity[still] = rng.integers(-speed, speed + 1, size=(int(still.sum()), 2))
        still = np.all(velocity == 0, axis=-1)
    first, last = min(0, 1 - latency), max(frames - 1, frames - latency)  # frame numbers the clip needs
    n_clip = last - first + 1
    # ``start`` is the state at frame 0, so the video does not depend on the latency; frames
    # before 0 are the motion run backwards (reflection is reversible: negate the velocity)
    forward = [bounce(start[..., a], velocity[..., a], last + 1, int(limits[a])) for a in range(2)]
    backward = [bounce(start[..., a], -velocity[..., a], 1 - first, int(limits[a]))[:0:-1] for a in range(2)]
    corners = np.stack([np.concatenate([b, f]) for b, f in zip(backward, forward)], axis=-1)  # (clip, samples, shapes, 2)
    clip = render_squares(corners.transpose(1, 0, 2, 3), size, height, width).reshape(n_samples, n_clip, height * width)
    x = clip[:, -first:frames - first]
    target = clip[:, 1 - latency - first:1 - latency - first + frames]
    return SequenceDataset(x=np.ascontiguousarray(x), target=np.ascontiguousarray(target), splits=split_indices(n_samples, split, seed), name="moving_shapes")
