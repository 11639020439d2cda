"""Where a CPU training step of the recurrent SE-adLIF network spends its
time: the twin (exact and compiled execution), the hand-written loops and
snnTorch, by kind of work.

    python benchmarks/step_profile.py [--batch 64 --steps 250 --reps 9 --profile-reps 3]

The models and the step are those of ``training_step.py`` (float32, one
torch thread, forward over all steps, cross-entropy of the time-averaged
readout, backward). Each model's step is timed without the profiler (CPU
time, fastest of ``--reps`` interleaved repetitions), then run
``--profile-reps`` times under ``torch.profiler`` (the run with the smallest
total counts), and its operators' own CPU time is summed by kind:

- matrix products: ``aten::mm``, ``addmm``, ``bmm`` (forward products, the
  spikes' gradients ``grad @ W.T`` and dense weight gradients);
- event products: finding the spikes' events and summing rows from them
  (``nonzero``, ``embedding_bag``, ``sort``, ``searchsorted``; see
  ``bioadapt/backends/torch/events.py``);
- other operators: the elementwise work of the neuron updates, the
  surrogate, the selects of the resets and their backward formulas, copies,
  sums, stacking;
- compiled kernels: the C++ kernels torch.compile generated for the
  compiled twin (``## Call CompiledFxGraph ...``, forward and backward);
- autograd and Python: the autograd engine's own time per node, the Python
  of custom autograd functions and, for the compiled twin, the wrappers of
  each compiled call (``CompiledFunction``, ``CompiledFunctionBackward``,
  Dynamo's cache lookup, AOTAutograd's runtime wrappers).

Shares are of the profiled total; the ``ms`` column applies each share to the
time measured without the profiler (the profiler adds a cost per operator, so
the split is an estimate). The last note gives the time the twin would need
to be twice as fast as snnTorch against the twin's matrix products.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from baselines import benchmark_models
from common import adlif_network, fmt, machine, poisson_inputs, save, time_calls

from bioadapt import network_from_dict

KINDS = ("matrix products", "event products", "other operators", "compiled kernels", "autograd and Python")
MATRIX = {"aten::mm", "aten::addmm", "aten::bmm"}
EVENTS = {"aten::nonzero", "aten::embedding_bag", "aten::_embedding_bag", "aten::_embedding_bag_forward_only", "aten::_embedding_bag_backward", "aten::sort", "aten::argsort", "aten::searchsorted"}


#: the wrappers of calls of compiled graphs (Dynamo, AOTAutograd), forward and backward
COMPILED_WRAPPERS = {"CompiledFunction", "CompiledFunctionBackward", "TorchDynamo Cache Lookup", "AOTDispatcher Runtime Wrapper Prologue", "Pregraph bytecode"}


def kind(name: str) -> str:
    if name in MATRIX:
        return "matrix products"
    if name in EVENTS:
        return "event products"
    if name.startswith("aten::"):
        return "other operators"
    if name.startswith("## Call CompiledFxGraph"):
        return "compiled kernels"
    return "autograd and Python"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--profile-reps", type=int, default=3, help="profiled runs per model (the fastest counts)")
    parser.add_argument("--name", default="step_profile")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    spec = network_from_dict(adlif_network(steps=args.steps))
    models, _ = benchmark_models(spec, 140, (256, 256))
    x = poisson_inputs(args.steps, args.batch, 140)
    labels = torch.randint(0, 20, (args.batch,), generator=torch.Generator().manual_seed(2))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(name):
        def run():
            model = models[name]
            model.zero_grad(set_to_none=True)
            y = model(inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"] if name.startswith("twin") else model(x)[0]
            loss_fn(y.mean(0), labels).backward()

        return run

    steps = {name: step(name) for name in models}
    steps["twin, compiled"]()  # its first calls compile (training_step.py and compile_cache.py time them)
    timed = time_calls(steps, args.reps)
    # profiled runs interleaved as well; per model the one with the smallest
    # profiled total counts (load from other processes only adds time)
    profiled = {name: None for name in steps}
    for _ in range(args.profile_reps):
        for name, run in steps.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                run()
            averages = [(e.key, e.self_cpu_time_total * 1e-6, e.count) for e in prof.key_averages()]
            if profiled[name] is None or sum(t for _, t, _ in averages) < sum(t for _, t, _ in profiled[name]):
                profiled[name] = averages
    results = {}
    for name in steps:
        by_kind = dict.fromkeys(KINDS, 0.0)
        calls = dict.fromkeys(KINDS, 0)
        for key, seconds, count in profiled[name]:
            by_kind[kind(key)] += seconds
            calls[kind(key)] += count
        top = [(t, n, c) for n, t, c in profiled[name]]
        total = sum(by_kind.values())
        step_s = timed[name]["cpu_min_s"]
        results[name] = {
            "step_cpu_min_s": step_s,
            "profiled_total_s": total,
            "by_kind_profiled_s": by_kind,
            "share": {k: v / total for k, v in by_kind.items()},
            "estimate_s": {k: step_s * v / total for k, v in by_kind.items()},
            "calls": calls,
            "top_operators": [{"name": n, "self_s": t, "calls": c} for t, n, c in sorted(top, reverse=True)[:15]],
        }
        print(name, fmt(step_s), {k: f"{100 * v / total:.1f} %" for k, v in by_kind.items()})
    table = [
        [name, fmt(r["step_cpu_min_s"])] + [f"{fmt(r['estimate_s'][k])} ({100 * r['share'][k]:.0f} %, {r['calls'][k]} calls)" for k in KINDS]
        for name, r in results.items()
    ]
    notes = [
        f"network: 140 Poisson inputs, 256 x 256 recurrent SE-adLIF, 20 leaky-integrator outputs; {args.steps} steps, batch {args.batch}, float32, CPU, 1 torch thread; step: CPU time, fastest of {args.reps} interleaved repetitions without the profiler; kinds: shares of the profiled step with the smallest total ({args.profile_reps} interleaved) applied to it",
        "models as in training_step.py (baselines.benchmark_models): the twin with synapses='dense' (event products on the CPU), in its exact and its compiled execution (compiled before timing), the hand-written loop with matrix products, in the program's form and with the twin's event products, snnTorch RLeaky layers (no adaptation variable)",
    ]
    if "snntorch" in results:
        half = results["snntorch"]["step_cpu_min_s"] / 2
        mm = results["twin"]["estimate_s"]["matrix products"]
        results["twin_at_2x_snntorch_s"] = half
        notes.append(
            f"twice as fast as snnTorch means a step of at most {fmt(half)}; the twin's step is {fmt(results['twin']['step_cpu_min_s'])}, "
            f"of which {fmt(mm)} are matrix products (mostly the spikes' gradients grad @ W.T: three {args.batch} x 256 x 256 products per time step, which every "
            f"backpropagation through this network computes) and {fmt(results['twin']['step_cpu_min_s'] - mm)} all the rest; "
            f"the hand-written loop with the same event products: {fmt(results['hand-written, event products']['step_cpu_min_s'])} (snnTorch / it: {results['snntorch']['step_cpu_min_s'] / results['hand-written, event products']['step_cpu_min_s']:.2f}; snnTorch / twin: {results['snntorch']['step_cpu_min_s'] / results['twin']['step_cpu_min_s']:.2f})"
        )
    if "hand-written, event products" in results:
        twin_r, events_r = results["twin"], results["hand-written, event products"]
        notes.append(
            "twin minus the hand-written loop with the same event products, by kind: "
            + ", ".join(f"{k} {(twin_r['estimate_s'][k] - events_r['estimate_s'][k]) * 1e3:+.1f} ms ({twin_r['calls'][k] - events_r['calls'][k]:+d} calls)" for k in KINDS)
        )
    compiled = results["twin, compiled"]
    calls = compiled["calls"]["compiled kernels"]
    wrappers = sum(seconds for key, seconds, _ in profiled["twin, compiled"] if key in COMPILED_WRAPPERS or key.startswith("Torch-Compiled Region"))
    notes.append(
        f"the compiled twin: {calls} calls of compiled kernels in the profiled step ({calls / args.steps:.2g} per time step, forward and backward), "
        f"{fmt(compiled['estimate_s']['compiled kernels'] / max(calls, 1))} per call; the wrappers of those calls "
        f"({', '.join(sorted(COMPILED_WRAPPERS))}, Torch-Compiled Region) {fmt(compiled['step_cpu_min_s'] * wrappers / compiled['profiled_total_s'])} of its step"
    )
    header = ["model", "step, CPU, min"] + list(KINDS)
    save(args.name, info, vars(args), results, table, header, notes)


if __name__ == "__main__":
    main()
