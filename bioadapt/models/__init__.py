"""Model files: ``equations/*.toml`` -> `ModelSpec`."""

from .spec import ModelSpec, SLOTS
from .load import load_model, shipped_models

__all__ = ["ModelSpec", "SLOTS", "load_model", "shipped_models"]
