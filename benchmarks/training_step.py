"""Training step (forward + backward) of the recurrent SE-adLIF network:
the twin against a hand-written eager PyTorch loop and against snnTorch.

    python benchmarks/training_step.py [--batch 64 --steps 250 --hidden 256 256 --reps 5 --threads 1 --device cpu]
    python benchmarks/training_step.py --device cuda --cuda-graphs --name training_step_gpu

One training step is: forward over ``steps`` steps, cross-entropy of the
time-averaged readout against random labels, backward. All three run in
float32 on the CPU with ``torch.set_num_threads(--threads)`` (1 by default:
a one-core comparison), or on a GPU with ``--device cuda`` (wall time of
synchronized steps). The twin runs with ``synapses="dense"``, in its exact
execution and in its compiled one (``execution="compiled"``: torch.compile of
whole steps, ten to a graph; its first calls, which compile, are timed apart). Calls are
interleaved so that load from other processes hits all three alike; the table
gives the minimum CPU time of the repetitions (on a shared machine load only
ever adds time, so the minimum is the closest to the unloaded cost; medians
and every repetition are in the JSON). Before timing, the script checks in float64 that the twin and
the hand-written loop compute the same network (same spikes, readout equal to
rounding). With ``--cuda-graphs`` (GPU) every model's step is also captured
once as a CUDA graph (`bioadapt.backends.torch.CudaGraphStep`) and timed
replaying it; a model that cannot be captured is listed with the reason.
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

from baselines import HandWritten, benchmark_models
from common import adlif_network, fmt, machine, network_arguments, poisson_inputs, save, time_calls

from bioadapt import BackendError, network_from_dict
from bioadapt.backends.torch import CudaGraphStep, Twin


def check_same_network(config: dict, batch: int = 4) -> dict:
    """Twin (float64, exact synapses) against the hand-written loops built from it."""
    spec = network_from_dict(config)
    twin = Twin(spec, dtype=torch.float64)
    x = poisson_inputs(spec.n_steps, batch, spec.populations["inp"].size, dtype=torch.float64, seed=1)
    with torch.no_grad():
        out = twin(inputs={"inp": x}, record={"out": ["y"]})
    check = {}
    compiled = Twin(spec, dtype=torch.float64, execution="compiled")
    with torch.no_grad():
        other = compiled(inputs={"inp": x}, record={"out": ["y"]})
    check["compiled"] = {
        "spikes_twin": sum(int(out.spikes[g].sum()) for g in out.spikes),
        "spike_mismatches": sum(int((out.spikes[g] != other.spikes[g]).sum()) for g in out.spikes),
        "max_abs_readout_difference": float((out.traces["out"]["y"] - other.traces["out"]["y"]).abs().max()),
    }
    for form in ("natural", "program", "events"):
        hand = HandWritten(twin, events=True) if form == "events" else HandWritten(twin, form=form)
        with torch.no_grad():
            y, spikes = hand(x)
        check[form] = {
            "spikes_twin": sum(int(out.spikes[g].sum()) for g in hand.layers),
            "spike_mismatches": sum(int((out.spikes[g] != s).sum()) for g, s in zip(hand.layers, spikes)),
            "max_abs_readout_difference": float((out.traces["out"]["y"] - y).abs().max()),
        }
    return check


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    network_arguments(parser)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device of the timed runs (cpu, cuda); the float64 check runs on the CPU")
    parser.add_argument("--no-snntorch", action="store_true", help="skip snnTorch (if it is not installed)")
    parser.add_argument("--cuda-graphs", action="store_true", help="also time each model's step captured as a CUDA graph (GPU only)")
    parser.add_argument("--name", default="training_step", help="result file name (in benchmarks/results)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    config = adlif_network(n_in=args.inputs, hidden=tuple(args.hidden), steps=args.steps)
    check = check_same_network(config)
    print("twin vs hand-written (float64):", check)

    spec = network_from_dict(config)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    models, frozen = benchmark_models(spec, args.inputs, tuple(args.hidden), snntorch=not args.no_snntorch)
    for model in models.values():
        model.to(device)
    x = poisson_inputs(args.steps, args.batch, args.inputs).to(device)
    labels = torch.randint(0, 20, (args.batch,), generator=torch.Generator().manual_seed(2)).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def readout(name, x=x):
        if name.startswith("twin"):
            return models[name](inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"]
        return models[name](x)[0]

    def step(name):
        def run():
            model = models[name]
            model.zero_grad(set_to_none=True)
            loss = loss_fn(readout(name).mean(0), labels)
            loss.backward()
            if gpu:  # the step ends when the GPU is done
                torch.cuda.synchronize(device)

        return run

    steps = {name: step(name) for name in models}
    # the compiled twin's first calls compile its graphs (with gradients, then without): timed apart
    compile_s = {}
    start = time.perf_counter()
    steps["twin, compiled"]()
    compile_s["train_step"] = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        readout("twin, compiled")
    compile_s["forward_no_grad"] = time.perf_counter() - start
    not_captured, graph_check = {}, {}
    if args.cuda_graphs:
        if not gpu:
            parser.error("--cuda-graphs needs --device cuda")
        for name in list(models):
            try:
                graphed = CudaGraphStep(lambda x, labels, name=name: loss_fn(readout(name, x).mean(0), labels), models[name].parameters(), x, labels)
            except BackendError as exc:
                not_captured[name] = str(exc)
                continue
            # the replayed step against an eager one: the same loss and gradients
            model = models[name]
            model.zero_grad(set_to_none=True)
            eager = loss_fn(readout(name).mean(0), labels)
            eager.backward()
            expected = [eager.detach()] + [p.grad.clone() for p in graphed.parameters]
            got = [graphed(x, labels).clone()] + [p.grad.clone() for p in graphed.parameters]
            graph_check[name] = {"bitwise_equal": all(torch.equal(a, b) for a, b in zip(expected, got)), "finite": all(bool(torch.isfinite(a).all()) for a in expected)}

            def run(graphed=graphed):
                graphed(x, labels)
                torch.cuda.synchronize(device)

            steps[f"{name}, CUDA graph"] = run

    def forward_only(name):
        def run():
            with torch.no_grad():
                readout(name)
            if gpu:
                torch.cuda.synchronize(device)

        return run

    train = time_calls(steps, args.reps)
    infer = time_calls({name: forward_only(name) for name in models}, args.reps)
    # on the CPU, ratios from CPU time (one thread: the core's work, robust to
    # load from other processes); on a GPU from wall time (synchronized);
    # both are in the JSON
    key = "min_s" if gpu else "cpu_min_s"
    median = "median_s" if gpu else "cpu_median_s"
    clock = "wall" if gpu else "CPU"
    base = train["hand-written"][key]
    results = {name: {"train_step": train[name], "forward_no_grad": infer.get(name), "ratio_to_hand_written": train[name][key] / base} for name in steps}
    if "snntorch" in models:
        results["twin"]["speedup_over_snntorch"] = train["snntorch"][key] / train["twin"][key]
    results["twin"]["ratio_to_program_form"] = train["twin"][key] / train["hand-written, program form"][key]
    results["twin"]["ratio_to_event_products"] = train["twin"][key] / train["hand-written, event products"][key]
    compiled = results["twin, compiled"]
    compiled["first_call_wall_s"] = compile_s
    compiled["ratio_to_exact_twin"] = train["twin, compiled"][key] / train["twin"][key]
    compiled["ratio_to_event_products"] = train["twin, compiled"][key] / train["hand-written, event products"][key]
    if "snntorch" in models:
        compiled["speedup_over_snntorch"] = train["snntorch"][key] / train["twin, compiled"][key]
    results["check_float64"] = check
    table = [
        [name, fmt(train[name][key]), fmt(train[name][median]), fmt(train[name][key] / args.steps), f"{train[name][key] / base:.2f}", fmt(infer[name][key]) if name in infer else "-"]
        for name in steps
    ]
    where = f"GPU ({torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda})" if gpu else "CPU"
    notes = [
        f"network: {args.inputs} Poisson inputs, {' x '.join(map(str, args.hidden))} recurrent SE-adLIF, 20 leaky-integrator outputs; {args.steps} steps, batch {args.batch}, float32, {where}, {args.threads} torch thread(s); minimum {clock} time of {args.reps} interleaved repetitions (ratios from it)",
        f"twin: synapses='dense' (on the CPU, spike products from the spikes' events, bioadapt/backends/torch/events.py; on a GPU, matrix products), the parameters of the hand-written loops trained ({', '.join(frozen)} frozen: the loops reset to a constant); snnTorch: RLeaky layers of the same sizes (no adaptation variable)",
        "hand-written: the SE-adLIF step as one writes it by hand (u = alpha*u + (1 - alpha)*(I - w), reset by multiplication, gains of w multiplied once); 'program form': the same loop with the expressions of the program Brian2 generates, which the twin executes (reset as a select, w = beta*w + (1 - beta)*(a*u + b*z)); 'event products': the natural loop with the twin's event-driven spike products (the same algorithm as the twin)",
        *(
            f"float64 check, twin vs hand-written ({form}): {c['spike_mismatches']} spike mismatches of {c['spikes_twin']} spikes, max readout difference {c['max_abs_readout_difference']:.2g}"
            for form, c in check.items() if form != "compiled"
        ),
    ]
    notes.append(f"twin / hand-written, program form: {results['twin']['ratio_to_program_form']:.2f}")
    notes.append(f"twin / hand-written, event products: {results['twin']['ratio_to_event_products']:.2f} (the cost of the twin's generality at the same algorithm)")
    if "snntorch" in models:
        notes.append(f"snnTorch / twin: {results['twin']['speedup_over_snntorch']:.2f} (the twin is that many times faster)")
    notes.append(
        f"twin, compiled: execution='compiled' (torch.compile of whole steps, ten to a graph, where every pathway is a matrix product: compiled.Chunks; math='torch'); "
        f"compiled / exact twin: {compiled['ratio_to_exact_twin']:.2f}; compiled / hand-written with event products: {compiled['ratio_to_event_products']:.2f}"
        + (f"; snnTorch / twin, compiled: {compiled['speedup_over_snntorch']:.2f}" if "snntorch" in models else "")
        + f"; first calls (compiling, wall time): train step {compile_s['train_step']:.1f} s, forward without gradients {compile_s['forward_no_grad']:.1f} s"
    )
    notes.append(f"float64 check, compiled twin vs exact twin: {check['compiled']['spike_mismatches']} spike mismatches of {check['compiled']['spikes_twin']} spikes, max readout difference {check['compiled']['max_abs_readout_difference']:.2g}")
    if args.cuda_graphs:
        graphs = {name: train[f"{name}, CUDA graph"][key] for name in models if f"{name}, CUDA graph" in train}
        results["cuda_graphs"] = {"same_as_eager_step": graph_check, "not_captured": not_captured}
        notes.append("CUDA graph: the model's whole step (forward over all time steps, loss, backward) captured once with bioadapt.backends.torch.CudaGraphStep and replayed; loss and gradients bit for bit those of an eager step: " + ", ".join(f"{n} {'yes' if d['bitwise_equal'] and d['finite'] else 'NO'}" for n, d in graph_check.items()))
        for name, why in not_captured.items():
            notes.append(f"{name}: not captured ({why})")
        if "twin" in graphs:
            notes.append("CUDA graph speed-up over the eager step: " + ", ".join(f"{n} {train[n][key] / t:.2f}x" for n, t in graphs.items()))
            if "hand-written" in graphs:
                results["twin"]["graph_ratio_to_hand-written_graph"] = graphs["twin"] / graphs["hand-written"]
                notes.append(f"twin / hand-written, both as CUDA graphs: {graphs['twin'] / graphs['hand-written']:.2f}")
            if "snntorch" in graphs:
                results["twin"]["graph_speedup_over_snntorch_graph"] = graphs["snntorch"] / graphs["twin"]
                notes.append(f"snnTorch / twin, both as CUDA graphs: {graphs['snntorch'] / graphs['twin']:.2f} (the twin is that many times faster)")
            if "snntorch" in models:
                results["twin"]["graph_speedup_over_snntorch_eager"] = train["snntorch"][key] / graphs["twin"]
                notes.append(f"snnTorch eager / twin as a CUDA graph: {train['snntorch'][key] / graphs['twin']:.2f}")
    header = ["model", f"train step (fwd+bwd), {clock}, min", f"{clock}, median", "per time step", "x hand-written", f"forward, no grad, {clock}, min"]
    save(args.name, info, {"args": vars(args), "network": config}, results, table, header, notes)


if __name__ == "__main__":
    main()
