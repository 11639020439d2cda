"""Cost per step of the exact-propagator scheme against exponential Euler (and
symplectic Euler, the SE-adLIF default), in Brian2 cpp_standalone and in the twin.

    python benchmarks/schemes.py [--steps 1000 --solo 8192 --batch 64 --schemes exponential_euler exact --threads 1]

Each scheme runs on one network: the benchmark network (140 inputs, 2 x 256
recurrent adLIF, readout; its two hidden layers use the scheme) plus a "solo"
population of ``--solo`` adLIF neurons without synapses (random initial
``u``), where the neuron update is all there is.

Brian2: one cpp_standalone project per scheme, run once with Brian2's
profiling; per step: the whole loop (Brian2's timing: CPU time), and the sums
of the code objects of the benchmark sub-network and of the solo population
(CPU time per code object; each timing adds ~1 us of clock overhead, which
matters for the small objects of the benchmark network, not for solo).

Twin: float32, ``synapses="dense"``, batch ``--batch``; the cost per step is
the difference between runs of ``--twin-steps`` steps and of 1 step, divided by
``--twin-steps - 1`` (so it excludes per-call costs such as the exact scheme's
propagators, reported separately); forward without gradients, and training
step (forward + backward of the summed readout) for the benchmark network.
"""

from __future__ import annotations

import os

# one core for numpy/scipy's BLAS too (scipy's expm in the exact scheme): its
# idle threads spin and would be counted in this process's CPU time
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import time

import torch

from common import adlif_network, fmt, machine, save

from bioadapt import network_from_dict
from bioadapt.backends.brian.build import build_network
from bioadapt.backends.brian.device import brian_device
from bioadapt.backends.torch import Twin


def scheme_network(scheme: str, steps: int, solo: int, hidden=(256, 256)) -> dict:
    net = adlif_network(hidden=hidden, steps=steps, scheme=scheme)
    if solo:
        values = dict(net["populations"]["h1"]["values"], u="uniform(0, 0.9)")
        net["populations"]["solo"] = {"model": "adlif", "size": solo, "scheme": scheme, "values": values}
    return net


def brian_costs(spec, steps: int) -> dict:
    """Per-step CPU time: the whole loop, and code objects grouped by population."""
    from brian2 import second

    start = time.perf_counter()
    with brian_device("cpp_standalone") as (device, folder):
        net = build_network(spec)
        net.network.run(steps * spec.dt * second, namespace={}, profile=True)
        device.build(directory=folder, compile=True, run=True, with_output=False)
        loop = device._last_run_time  # std::clock: CPU time of the loop
        profile = [(name, float(t)) for name, t in net.network.profiling_info]
    build = time.perf_counter() - start
    solo = sum(t for name, t in profile if name.startswith("solo_"))
    updater = sum(t for name, t in profile if name.startswith("solo_stateupdater"))
    return {"loop_per_step_s": loop / steps, "solo_per_step_s": solo / steps, "solo_stateupdater_per_step_s": updater / steps, "network_per_step_s": (sum(t for _, t in profile) - solo) / steps, "build_and_run_s": build, "profile": profile}


def twin_costs(spec, batch: int, reps: int, train: bool) -> dict:
    """Per-step and per-call CPU time of the twin, from runs of ``spec.n_steps``
    steps and of 1 step (interleaved, best of ``reps``)."""
    twin = Twin(spec, dtype=torch.float32, synapses="dense")
    n_in = spec.populations["inp"].size
    x = (torch.rand(spec.n_steps, batch, n_in, generator=torch.Generator().manual_seed(0)) < 0.02).float()
    pop, var = ("out", "y") if "out" in spec.populations else ("solo", "u")

    def run(steps, grad):
        twin.zero_grad(set_to_none=True)
        start = time.process_time()
        with torch.set_grad_enabled(grad):
            out = twin(inputs={"inp": x[:steps]}, record={pop: [var]})
            if grad:
                out.traces[pop][var].sum().backward()
        return time.process_time() - start

    result = {}
    for label, grad in (("forward", False), ("train", True)) if train else (("forward", False),):
        run(spec.n_steps, grad)  # warm-up
        long, one = [], []
        for _ in range(reps):
            long.append(run(spec.n_steps, grad))
            one.append(run(1, grad))
        per_step = (min(long) - min(one)) / (spec.n_steps - 1)
        result[f"{label}_per_step_s"] = per_step
        result[f"{label}_per_call_s"] = min(one) - per_step
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps of the Brian2 runs and of the long twin runs")
    parser.add_argument("--twin-steps", type=int, default=250, help="steps of the long twin runs (per step: against 1-step runs)")
    parser.add_argument("--solo", type=int, default=8192, help="size of the population without synapses")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--schemes", nargs="+", default=["exponential_euler", "exact", "symplectic_euler"])
    parser.add_argument("--no-brian", action="store_true")
    parser.add_argument("--name", default="schemes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    results = {}
    for scheme in args.schemes:
        entry = {}
        if not args.no_brian:
            entry["brian"] = brian_costs(network_from_dict(scheme_network(scheme, args.steps, args.solo)), args.steps)
        steps = args.twin_steps
        entry["twin_network"] = twin_costs(network_from_dict(scheme_network(scheme, steps, 0)), args.batch, args.reps, train=True)
        solo = {"dt": "1*ms", "duration": f"{steps}*ms", "seed": 0, "populations": {"inp": {"kind": "poisson", "size": 1, "rate": "1*Hz"}, "solo": scheme_network(scheme, steps, args.solo)["populations"]["solo"]}, "projections": []}
        entry["twin_solo"] = twin_costs(network_from_dict(solo), args.batch, args.reps, train=False)
        results[scheme] = entry
        print(scheme, {k: {m: (fmt(v) if isinstance(v, float) else "...") for m, v in e.items()} for k, e in entry.items()})
    base = "exponential_euler"
    rows = [
        ("Brian2: whole loop (benchmark network + solo)", "brian", "loop_per_step_s"),
        ("Brian2: benchmark network (sum of its code objects)", "brian", "network_per_step_s"),
        (f"Brian2: solo population, {args.solo} neurons", "brian", "solo_per_step_s"),
        ("Brian2: solo state updater", "brian", "solo_stateupdater_per_step_s"),
        (f"twin: benchmark network, forward, batch {args.batch}", "twin_network", "forward_per_step_s"),
        (f"twin: benchmark network, training step, batch {args.batch}", "twin_network", "train_per_step_s"),
        (f"twin: solo population, forward, batch {args.batch}", "twin_solo", "forward_per_step_s"),
    ]
    header = ["per step (CPU time)", *args.schemes]
    if base in args.schemes:
        header += [f"{s} / {base}" for s in args.schemes if s != base]
    table = []
    for label, where, key in rows:
        if any(where not in results[s] for s in args.schemes):
            continue
        values = {s: results[s][where][key] for s in args.schemes}
        row = [label, *(fmt(values[s]) for s in args.schemes)]
        if base in args.schemes:
            row += [f"{values[s] / values[base]:.2f}" for s in args.schemes if s != base]
        table.append(row)
    ratios = {}
    if base in args.schemes and "exact" in args.schemes:
        for label, where, key in rows:
            if where in results[base]:
                ratios[f"{where}.{key}"] = results["exact"][where][key] / results[base][where][key]
    results["exact_over_exponential_euler"] = ratios
    notes = [
        f"Brian2: {args.steps} steps, -O3 -fno-fast-math -ffp-contract=off, single-threaded, one compiled project per scheme (with Brian2's profiling on); twin: float32, dense synapses, {args.threads} torch thread(s), per step = (run of {args.twin_steps} steps - run of 1 step) / {args.twin_steps - 1}, best of {args.reps} interleaved",
    ]
    if "exact" in results and "twin_network" in results["exact"]:
        notes.append(f"twin, exact scheme, per-call cost (propagators from the parameters, scipy expm forward, matrix_exp backward): forward {fmt(results['exact']['twin_network']['forward_per_call_s'])}, training step {fmt(results['exact']['twin_network']['train_per_call_s'])} (exponential Euler: {fmt(results[base]['twin_network']['forward_per_call_s'])}, {fmt(results[base]['twin_network']['train_per_call_s'])})" if base in results else "")
    save(args.name, info, {"args": vars(args)}, results, table, header, [n for n in notes if n])


if __name__ == "__main__":
    main()
