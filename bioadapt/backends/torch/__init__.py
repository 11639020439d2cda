"""The PyTorch twin: executes the per-step program Brian2 runs."""

from .graphs import CudaGraphStep
from .spikes import Surrogate, spike, spike_where
from .simulation import run_twin
from .twin import RelaxedDelays, Twin, TwinOutput

__all__ = ["CudaGraphStep", "RelaxedDelays", "Surrogate", "Twin", "TwinOutput", "run_twin", "spike", "spike_where"]
