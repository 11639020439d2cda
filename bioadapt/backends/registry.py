"""The backends a network runs on, and what each of them offers (one `Registry`).

Every list of backends (`simulate`, `long_run`, ``bioadapt evaluate``, the
command line's choices, a sweep's ``[evaluate]``) is a selection of this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BackendError
from ..registry import Registry

__all__ = ["Backend", "BACKENDS", "DTYPES", "EXECUTIONS", "MATH_MODES", "SYNAPSE_MODES"]


@dataclass(frozen=True)
class Backend:
    """One backend: its name, the Brian2 device target it runs on (None for the
    twin), and what it offers."""

    name: str
    description: str
    brian_target: str | None
    long_run: bool  # `long_run` streams chunks of a long run to disk on it
    evaluates: bool  # trained networks are evaluated on it (`bioadapt.train.evaluate`)
    compares: bool  # `compare` runs the discretizations on it (no GPU needed)


BACKENDS = Registry("backend", {b.name: b for b in (
    Backend("numpy", "Brian2's numpy runtime", "numpy", long_run=True, evaluates=True, compares=True),
    Backend("cpp_standalone", "Brian2's generated C++ (a compiled project)", "cpp_standalone", long_run=True, evaluates=True, compares=True),
    Backend("cuda_standalone", "Brian2CUDA's generated CUDA (a compiled project, an NVIDIA GPU)", "cuda_standalone", long_run=False, evaluates=True, compares=False),
    Backend("torch", "the PyTorch twin", None, long_run=True, evaluates=False, compares=True),
)}, error=BackendError)


#: how the twin runs its steps (``Twin(execution=...)``, ``[runtime] execution``)
EXECUTIONS = Registry("execution", {
    "exact": "every operator eagerly, bit for bit as Brian2",
    "compiled": "code blocks through torch.compile (a training option)",
}, error=BackendError)
#: how the twin runs spike-triggered synapses (``Twin(synapses=...)``, ``[runtime] synapses``)
SYNAPSE_MODES = Registry("synapses", {
    "exact": "Brian2's spike-queue order, bit for bit",
    "dense": "one matrix product per delay (training)",
}, error=BackendError)
#: whose elementary functions the twin reproduces (``math=``)
MATH_MODES = Registry("math", {
    "numpy": "numpy's (Brian2's numpy runtime)",
    "libm": "the C library's (cpp_standalone)",
    "torch": "torch's own (compiled execution)",
}, error=BackendError)
#: the twin's floating-point types (``dtype=``, ``[runtime] dtype``)
DTYPES = Registry("dtype", {"float64": "double precision (agreement with Brian2)", "float32": "single precision"}, error=BackendError)
