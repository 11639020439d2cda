"""How many steps one compiled function of the twin's compiled execution should hold.

    python benchmarks/compiled_steps.py [--batch 64 --steps 250 --hidden 256 256 --per-graph 1 2 5 10 25 --reps 5]

``Twin(execution="compiled")`` compiles whole steps of the program, several
at a time (`bioadapt.backends.torch.compiled.Chunks`, ``STEPS_PER_GRAPH``):
one graph holds that many steps' blocks, so the compiler fuses across them
and its per-call costs (guards, autograd wrappers) are paid once per stretch.
This script times a training step of the benchmark network
(`common.adlif_network`, float32, dense synapses, one CPU thread; forward over
all steps, cross-entropy of the time-averaged readout, backward) for several
steps per graph, against the earlier design (compiled segments of one step,
pathways eager), the same steps per graph with booleans stored as booleans
between kernels (`bioadapt.backends.torch.masks` left out), the exact
execution, the hand-written loop and snnTorch (`baselines.benchmark_models`). The first training step of each compiles its
graphs (wall time, with torch's on-disk cache in a new empty folder); the
steps after it are timed interleaved (CPU time, minimum of the repetitions).
"""

from __future__ import annotations

import os
import tempfile

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# a new, empty compile cache: first calls compile from scratch
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="compiled_steps_")

import argparse
import time

import torch

from baselines import benchmark_models
from common import adlif_network, fmt, machine, network_arguments, poisson_inputs, save, time_calls

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin
from bioadapt.backends.torch.compiled import STEPS_PER_GRAPH


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    network_arguments(parser)
    parser.add_argument("--per-graph", type=int, nargs="+", default=[1, 2, 5, 10, 25])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--name", default="compiled_steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    spec = network_from_dict(adlif_network(n_in=args.inputs, hidden=tuple(args.hidden), steps=args.steps))
    models, frozen = benchmark_models(spec, args.inputs, tuple(args.hidden))
    twin = models["twin"]
    references = {name: models[name] for name in ("twin", "hand-written", "snntorch") if name in models}
    variants = {"segments of one step": (None, True), **{f"{n} steps per graph": (n, True) for n in args.per_graph},
                f"{STEPS_PER_GRAPH} steps per graph, masks as booleans": (STEPS_PER_GRAPH, False)}
    for name, (per_graph, float_masks) in variants.items():
        model = Twin(spec, dtype=torch.float32, synapses="dense", execution="compiled")
        model.load_state_dict(twin.state_dict())
        for key in frozen:
            pop, var = key.split(".")
            model.params[pop][var].requires_grad_(False)
        model._compile_steps(per_graph, float_masks)
        references[f"compiled, {name}"] = model
    x = poisson_inputs(args.steps, args.batch, args.inputs)
    labels = torch.randint(0, 20, (args.batch,), generator=torch.Generator().manual_seed(2))

    def step(model):
        def run():
            model.zero_grad(set_to_none=True)
            y = model(inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"] if isinstance(model, Twin) else model(x)[0]
            torch.nn.functional.cross_entropy(y.mean(0), labels).backward()
        return run

    steps = {name: step(model) for name, model in references.items()}
    compile_s = {}
    with torch.no_grad():
        reference = twin(inputs={"inp": x}, record={"out": ["y"]})
    agreement = {}
    for name, model in references.items():
        if isinstance(model, Twin) and model.execution == "compiled":
            start = time.perf_counter()
            steps[name]()
            compile_s[name] = time.perf_counter() - start
            with torch.no_grad():
                out = model(inputs={"inp": x}, record={"out": ["y"]})
            agreement[name] = {
                "spike_mismatches": sum(int((reference.spikes[g] != out.spikes[g]).sum()) for g in reference.spikes),
                "max_abs_readout_difference": float((reference.traces["out"]["y"] - out.traces["out"]["y"]).abs().max()),
            }
            print(f"{name}: first training step {compile_s[name]:.1f} s, {agreement[name]}", flush=True)
    timings = time_calls(steps, args.reps)
    best = min(timings[name]["cpu_min_s"] for name in references if name.startswith("compiled, ") and name.endswith("steps per graph"))
    table = []
    for name in references:
        t = timings[name]["cpu_min_s"]
        table.append([name, fmt(t), f"{t / best:.2f}", f"{compile_s[name]:.1f} s" if name in compile_s else "–", fmt(timings[name]["cpu_median_s"])])
    snn = timings.get("snntorch", {}).get("cpu_min_s")
    notes = [
        f"network: {args.inputs} Poisson inputs, {' x '.join(map(str, args.hidden))} recurrent SE-adLIF, 20 leaky-integrator outputs (common.adlif_network); "
        f"{args.steps} steps, batch {args.batch}, float32, CPU, 1 torch thread; step: CPU time, fastest of {args.reps} interleaved repetitions (median in the last column)",
        "compiled, N steps per graph: Twin(execution='compiled') with N whole steps per compiled function (compiled.Chunks; dense products as matrix products in the graph); "
        "segments of one step: the schedule of compiled segments (code blocks compiled, pathways eager with their event products), the design before; "
        "masks as booleans: without the graph passes that keep booleans between CPU kernels as floats (bioadapt.backends.torch.masks)",
        "first training step: wall time of the first call with gradients (traces and compiles its graphs; a shorter last stretch compiles its own), torch's on-disk cache empty",
        "float32, no gradients, against the exact twin: " + "; ".join(f"{name}: {a['spike_mismatches']} spikes differ, readout within {a['max_abs_readout_difference']:.2g}" for name, a in agreement.items()),
    ]
    if snn:
        notes.append(f"snnTorch / fastest compiled twin: {snn / best:.2f} ({fmt(snn)} / {fmt(best)}); twice as fast as snnTorch is a step of {fmt(snn / 2)}")
    save(args.name, info, {"args": vars(args)}, {"timings": timings, "first_step_s": compile_s, "agreement": agreement}, table,
         ["model", "step, CPU, min", "/ fastest compiled", "first training step", "step, CPU, median"], notes)


if __name__ == "__main__":
    main()
