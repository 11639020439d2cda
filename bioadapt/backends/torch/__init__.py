"""The PyTorch twin: executes the per-step program Brian2 runs."""

from .spikes import Surrogate, spike, spike_where
from .twin import Twin, TwinOutput, run_twin

__all__ = ["Surrogate", "Twin", "TwinOutput", "run_twin", "spike", "spike_where"]
