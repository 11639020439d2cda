"""Network configuration files -> `NetworkSpec` with every random draw made."""

from .spec import NetworkSpec, PopulationSpec, ProjectionSpec
from .load import load_network, network_from_dict
from .retime import at_dt, steps_of, with_duration

__all__ = ["NetworkSpec", "PopulationSpec", "ProjectionSpec", "at_dt", "load_network", "network_from_dict", "steps_of", "with_duration"]
