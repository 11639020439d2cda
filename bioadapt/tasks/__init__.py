"""Tasks and datasets for training and benchmarking."""

from .mackey_glass import LYAPUNOV_TIME, POINTS_PER_LYAPUNOV, lyapunov_split, mackey_glass, nrmse, prediction_pairs
