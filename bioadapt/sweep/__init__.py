"""Sweeps: many training runs from one base configuration, run as tasks on dask.distributed."""

from .config import Point, SweepConfig, load_sweep
from .run import SweepResult, run_point, run_sweep
from .summary import compare, describe

__all__ = ["Point", "SweepConfig", "SweepResult", "compare", "describe", "load_sweep", "run_point", "run_sweep"]
