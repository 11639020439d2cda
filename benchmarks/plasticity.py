"""Plastic synapses: Brian2's STDP example in the numpy runtime, the twin and cpp_standalone.

    python benchmarks/plasticity.py [--inputs 1000 --steps 10000 --reps 3]

Brian2's ``examples/synapses/STDP.py`` (Song, Miller and Abbott 2000) as ported
in ``tests/brian2_examples/test_ports.py``: ``--inputs`` Poisson neurons at 15 Hz
onto one neuron through STDP synapses (event-driven traces, on_pre and on_post
updating ``w``), ``--steps`` steps of 0.1 ms, all synapses' ``w`` read at the end
of the run. Timed: `bioadapt.simulate` on the numpy runtime, the twin (float64,
one torch thread, no gradients: only the synapses a spike reaches run, as in
Brian2), the twin with gradients (one forward and backward pass of the sum of
the final weights), and cpp_standalone (build, compile and run; the compile
dominates). Spikes and final weights of the twin are the numpy runtime's (checked).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import numpy as np
import torch

from common import brian2_example_ports, fmt, machine, save, time_calls

from bioadapt import network_from_dict, simulate
from bioadapt.backends.torch import Twin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--name", default="plasticity")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    ports = brian2_example_ports()
    net, _ = ports.stdp(steps=args.steps, n=args.inputs, gmax=0.01 * 1000 / args.inputs)
    spec = network_from_dict(net, folder=ports.MODELS)
    last = args.steps - 1

    def final_w(result):
        return result.traces["S"]["w"][last]

    record = {"S": ["w"]}

    def twin_grad():
        twin = Twin(spec)
        out = twin(record=record)
        out.traces["S"]["w"][-1].sum().backward()
        return twin.params["S"]["dApre"].grad

    runs = {
        "numpy runtime": lambda: simulate(spec, backend="numpy", record=record),
        "twin (no gradients)": lambda: simulate(spec, backend="torch", record=record),
        "twin (forward + backward)": twin_grad,
        "cpp_standalone (compile + run)": lambda: simulate(spec, backend="cpp_standalone", record=record),
    }
    first = {name: fn() for name, fn in runs.items()}
    numpy_run, twin_run = first["numpy runtime"], first["twin (no gradients)"]
    if numpy_run.spike_set("neurons") != twin_run.spike_set("neurons") or not np.array_equal(final_w(numpy_run), final_w(twin_run)):
        raise SystemExit("the twin's spikes or final weights differ from the numpy runtime's")
    times = time_calls(runs, reps=args.reps, warmup=0)
    spikes = numpy_run.spike_count("neurons")
    results = {"steps": args.steps, "inputs": args.inputs, "synapses": spec.projections[0].size, "spikes": spikes,
               "mean_final_w_over_gmax": float(final_w(numpy_run).mean() / (0.01 * 1000 / args.inputs)), "times": times}
    table = [[name, fmt(times[name]["cpu_min_s"]), fmt(times[name]["min_s"]), fmt(times[name]["min_s"] / args.steps)] for name in runs]
    header = ["run", "CPU time (this process)", "wall time", "wall per step"]
    notes = [
        f"{args.inputs} Poisson inputs (15 Hz) onto 1 neuron through STDP synapses, {args.steps} steps of 0.1 ms, {spikes} postsynaptic spikes; "
        f"whole build + run + read back of w at every step, fastest of {args.reps}; spikes and final weights of the twin equal the numpy runtime's (checked)",
    ]
    save(args.name, info, {"args": vars(args)}, results, table, header, notes)


if __name__ == "__main__":
    main()
