"""Network configuration files -> `NetworkSpec` with every random draw made."""

from .spec import NetworkSpec, PopulationSpec, ProjectionSpec
from .load import load_network, network_from_dict

__all__ = ["NetworkSpec", "PopulationSpec", "ProjectionSpec", "load_network", "network_from_dict"]
