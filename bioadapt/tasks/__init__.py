"""Tasks and datasets: generated locally from a seed, or read from the files they are distributed in."""

from .base import SpikeDataset, SequenceDataset, split_indices
from .bsd import burst_sequence_detection
from .oscillator import spring_chain
from .heidelberg import load_heidelberg

__all__ = ["SpikeDataset", "SequenceDataset", "split_indices", "burst_sequence_detection", "spring_chain", "load_heidelberg"]
