"""Brian2's own examples without gradients: the twin against Brian2's numpy runtime.

    python benchmarks/ports.py [--reps 3 --ports gapjunctions,nonlinear,...]

The ports of Brian2's examples that ``tests/brian2_examples/test_ports.py``
checks (the same networks, sizes and durations, its inputs), each run whole by
`bioadapt.simulate` on the numpy runtime and on the twin (float64, Brian2's
synaptic order, numpy's functions, no gradients): building the network,
running it, reading spikes back. ``--reps`` interleaved repetitions after one
warm-up each, CPU time of this process with one torch thread, the fastest
kept. Before timing, the spike trains of the two runs are compared: they must
be identical.

The ratio is the numpy runtime's time over the twin's (above 1: the twin is
faster). The examples are small (1 to 1250 neurons, 0.1 to 1.2 s of
biological time), so fixed costs (building Brian2's objects, the twin's
set-up) weigh in most of them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import torch

from common import brian2_example_ports, fmt, machine, save, time_calls

from bioadapt import network_from_dict, simulate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ports", default=None, help="comma-separated names of test_ports.PORTS (default: all)")
    parser.add_argument("--name", default="ports")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    ports = brian2_example_ports()
    names = sorted(ports.PORTS) if args.ports is None else args.ports.split(",")
    unknown = sorted(set(names) - set(ports.PORTS))
    if unknown:
        raise SystemExit(f"--ports: unknown {', '.join(unknown)}; known: {', '.join(sorted(ports.PORTS))}")
    results, table = {}, []
    for name in names:
        net, _ = ports.PORTS[name]()
        spec = network_from_dict(net, folder=ports.MODELS)
        inputs = ports.INPUTS.get(name)
        runs = {
            "numpy runtime": lambda: simulate(spec, backend="numpy", inputs=inputs),
            "twin": lambda: simulate(spec, backend="torch", inputs=inputs),
        }
        first = {backend: run() for backend, run in runs.items()}
        spikes = {pop: first["numpy runtime"].spike_set(pop) for pop in first["numpy runtime"].spikes}
        if any(first["twin"].spike_set(pop) != found for pop, found in spikes.items()):
            raise SystemExit(f"{name}: the twin's spikes differ from the numpy runtime's")
        times = time_calls(runs, reps=args.reps, warmup=0)
        brian, twin = times["numpy runtime"]["cpu_min_s"], times["twin"]["cpu_min_s"]
        count = sum(len(found) for found in spikes.values())
        results[name] = {"neurons": sum(pop.size for pop in spec.populations.values()), "steps": spec.n_steps, "spikes": count, "times": times}
        table.append([name, results[name]["neurons"], spec.n_steps, count, fmt(brian), fmt(twin), f"{brian / twin:.2f}"])
        print(*table[-1], flush=True)
    header = ["port", "neurons", "steps", "spikes (identical)", "numpy runtime", "twin (no gradients)", "ratio"]
    notes = [f"whole `simulate` calls (build, run, read back), CPU time, fastest of {args.reps} interleaved; the twin in float64, "
             "synapses='exact', math='numpy', without gradients; spikes of every population identical (checked)"]
    save(args.name, info, {"args": vars(args)}, results, table, header, notes)


if __name__ == "__main__":
    main()
