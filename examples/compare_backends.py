"""One network on every backend: how they agree
==============================================

Run it::

    python examples/compare_backends.py [examples/adlif_network.toml]

Prints spike counts, whether the spike trains are identical, and the largest
difference of the recorded membrane traces between each pair of backends. The
network (``examples/adlif_network.toml``): 40 adaptive neurons with recurrent
delays and autapses, 5000 steps; times include cpp_standalone's code generation
and compilation.

Brian2's numpy runtime and the twin with ``math="numpy"`` agree bit for bit, as do
cpp_standalone and the twin with ``math="libm"``. This network's per-step code
evaluates no ``exp`` (its decay factors are constants computed once per network),
so all four agree bit for bit. In a model that evaluates ``exp``, ``tanh`` ... in
every step, numpy's vectorised functions and the C library's differ in the last
bit for a few percent of inputs, the two Brian2 targets then differ by rounding,
and the twin follows the one its ``math`` setting names: see :doc:`/concepts`.
"""

import sys

import numpy as np

from bioadapt import load_network, simulate


def main(path: str = "examples/adlif_network.toml") -> None:
    spec = load_network(path)
    pops = [p for p in spec.populations.values() if not p.is_input]
    record = {p.name: [p.model.variables[0] if "u" not in p.model.variables else "u"] for p in pops}
    runs = {
        "numpy": simulate(spec, backend="numpy", record=record),
        "cpp_standalone": simulate(spec, backend="cpp_standalone", record=record),
        "torch (numpy math)": simulate(spec, backend="torch", record=record, math="numpy"),
        "torch (libm math)": simulate(spec, backend="torch", record=record, math="libm"),
    }
    for name, result in runs.items():
        print(f"{name:20s} {result.spike_count():7d} spikes  {result.wall_time:6.2f} s")
    names = list(runs)
    for k, a in enumerate(names):
        for b in names[k + 1 :]:
            same = all(runs[a].spike_set(p) == runs[b].spike_set(p) for p in spec.populations)
            diff = max(np.abs(runs[a].traces[p][v] - runs[b].traces[p][v]).max() for p in record for v in record[p])
            print(f"{a:20s} vs {b:20s} identical spikes: {same}   max |trace difference|: {diff:.3g}")


if __name__ == "__main__":
    main(*sys.argv[1:])
