"""The PyTorch twin: executes the per-step program Brian2 runs."""

from .graphs import CudaGraphStep
from .spikes import Surrogate, spike, spike_where
from .twin import RelaxedDelays, Twin, TwinOutput, run_twin

__all__ = ["CudaGraphStep", "RelaxedDelays", "Surrogate", "Twin", "TwinOutput", "run_twin", "spike", "spike_where"]
