"""Tasks and datasets: generated locally from a seed, or read from the files they are distributed in."""

from .base import SpikeDataset, SequenceDataset, split_indices
from .bsd import burst_sequence_detection
from .heidelberg import load_heidelberg
from .mackey_glass import LYAPUNOV_TIME, POINTS_PER_LYAPUNOV, lyapunov_split, mackey_glass, mackey_glass_task, nrmse, prediction_pairs
from .moving_shapes import moving_shapes
from .oscillator import spring_chain

__all__ = [
    "LYAPUNOV_TIME",
    "POINTS_PER_LYAPUNOV",
    "SequenceDataset",
    "SpikeDataset",
    "burst_sequence_detection",
    "load_heidelberg",
    "lyapunov_split",
    "mackey_glass",
    "mackey_glass_task",
    "moving_shapes",
    "nrmse",
    "prediction_pairs",
    "split_indices",
    "spring_chain",
]
