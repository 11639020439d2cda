"""Analysis tools: stability of the discrete maps the schemes generate."""

from .stability import DiscreteMap, discrete_map, stability_grid

__all__ = ["DiscreteMap", "discrete_map", "stability_grid"]
