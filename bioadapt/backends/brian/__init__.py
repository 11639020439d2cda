"""Brian2 backend: `NetworkSpec` -> Brian2 objects, run on numpy, cpp_standalone or cuda_standalone."""

from .build import BrianNetwork, build_network
from .run import run_brian

__all__ = ["BrianNetwork", "build_network", "run_brian"]
