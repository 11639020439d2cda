"""Inference of the recurrent SE-adLIF network: Brian2 cpp_standalone (compiled
once, rerun per sample) against the twin's batched inference (no gradients).

    python benchmarks/inference.py [--samples 64 --steps 250 --hidden 256 256 --batch 64 --threads 1]

Brian2: `StandaloneNetwork` generates and compiles the C++ project once
(compile time reported), then runs the binary once per test sample with the
sample's input raster passed as run_args (one process per sample, one core:
no OpenMP), in ``--reps`` passes over the test set; each sample counts with
its fastest run (load from other processes only ever adds time). Reported per
sample: the CPU time of the simulation loop inside
the binary (Brian2's own timing, ``std::clock``; real-time factor = simulated
time / this time) and the CPU time of the whole call (the binary's process:
start, loading and saving arrays; plus reading the monitors back here). The
readout ``y`` and all spikes are recorded. CPU times, not wall times: on a
shared machine the wall time also counts waiting for a core.

The test set in one call: `StandaloneNetwork` compiled with
``samples=--samples`` runs all samples one after another in one process
(`StandaloneNetwork.run_samples`: the state is set back to the initial one at
the start of every sample); reported per sample: Brian2's timing of the whole
loop over all samples, and the CPU time of the whole call (binary process and
this process's side) over the number of samples. Every sample's spikes are
compared with the per-sample runs above.

Twin: float32, ``synapses="dense"``, no gradients, the test set in batches of
``--batch``, ``torch.set_num_threads(--threads)``. Its real-time factor is the
simulated time of all samples over the CPU time.

Before timing, one sample is run on both and compared (the twin in float64
with exact synapses and ``math="libm"``, the setting that is bitwise equal to
cpp_standalone).

``--train-steps N`` first trains the network (its synaptic weights, Adam, the
twin in float32 with dense synapses, batch 64, the trainer's firing-rate
regularization towards 10 Hz) for N steps on a synthetic
20-class task (`pattern_task`: each class raises the rate of its own fifth
of the input channels to 60 Hz over a 20 Hz background), and then times
inference of the trained network on test samples of that task; the accuracy
of Brian2's readout and of the twin's on them is reported. Without it the
network keeps its random weights and the inputs are 20 Hz Poisson.
"""

from __future__ import annotations

import os

# one core for numpy/scipy's BLAS too (scipy's expm in the exact scheme): its
# idle threads spin and would be counted in this process's CPU time
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import resource
import statistics
import time

import numpy as np
import torch

from common import adlif_network, fmt, machine, poisson_inputs, save

from bioadapt import network_from_dict
from bioadapt.backends.brian.standalone import StandaloneNetwork
from bioadapt.train.params import apply_params
from bioadapt.backends.torch import Twin
from bioadapt.result import sort_spikes


def same_spikes(brian_result, twin_out, populations) -> bool:
    for pop in populations:
        steps, idx = torch.nonzero(twin_out.spikes[pop][:, 0, :] > 0, as_tuple=True)
        i, k = sort_spikes(idx.numpy(), steps.numpy())
        bi, bk = brian_result.spikes[pop]
        if not (np.array_equal(i, bi) and np.array_equal(k, bk)):
            return False
    return True


def brian_inference(spec, rasters, compile_dir=None, fast_math=False, reps: int = 1) -> dict:
    """Compile once, run every sample ``reps`` times (passes over the set);
    times per sample: the minimum over its runs (load only ever adds time)."""
    start = time.perf_counter()
    net = StandaloneNetwork(spec, record={"out": ["y"]}, directory=compile_dir, fast_math=fast_math)
    compile_time = time.perf_counter() - start
    loop, call, call_cpu = ([[] for _ in rasters] for _ in range(3))
    results = []
    try:
        for rep in range(reps):
            for n, raster in enumerate(rasters):
                start, own = time.perf_counter(), time.process_time()
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                result = net.run(inputs={"inp": raster})
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                call[n].append(time.perf_counter() - start)
                call_cpu[n].append(time.process_time() - own + (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime))
                # Brian2's timing of the simulation loop inside the binary: std::clock()
                # without OpenMP, i.e. CPU time of the (single-threaded) loop
                loop[n].append(net.loop_time)
                if rep == 0:
                    results.append(result)
    finally:
        net.close()
    return {"compile_s": compile_time, "loop_cpu_s": [min(v) for v in loop], "call_s": [min(v) for v in call], "call_cpu_s": [min(v) for v in call_cpu], "all_loop_cpu_s": loop, "results": results}


def brian_batch_inference(spec, rasters, reps: int = 1) -> dict:
    """The whole test set in one binary call (``samples=len(rasters)``),
    ``reps`` calls; the fastest counts."""
    start = time.perf_counter()
    net = StandaloneNetwork(spec, record={"out": ["y"]}, samples=len(rasters))
    compile_time = time.perf_counter() - start
    loop, call_cpu, results = [], [], None
    try:
        for rep in range(reps):
            own = time.process_time()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            found = net.run_samples(inputs={"inp": np.stack(rasters)})
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            call_cpu.append(time.process_time() - own + (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime))
            loop.append(net.loop_time)  # the one run over all samples
            results = results or found
    finally:
        net.close()
    return {"compile_s": compile_time, "loop_cpu_s": loop, "call_cpu_s": call_cpu, "results": results}


def pattern_task(steps: int, samples: int, n_in: int, n_classes: int = 20, seed: int = 0, pattern_seed: int = 7):
    """Rasters ``(steps, samples, n_in)`` and labels: class c raises its own
    random fifth of the channels from 20 Hz to 60 Hz (dt = 1 ms)."""
    patterns = torch.rand(n_classes, n_in, generator=torch.Generator().manual_seed(pattern_seed)).argsort(1)[:, : n_in // 5]
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (samples,), generator=g)
    rates = torch.full((samples, n_in), 0.02)
    rates[torch.arange(samples)[:, None], patterns[labels]] = 0.06
    x = (torch.rand(steps, samples, n_in, generator=g) < rates).float()
    return x, labels


def train_weights(spec, steps: int, batch: int = 64, lr: float = 2e-3, seed: int = 1, rate_hz: float = 10.0, strength: float = 100.0):
    """Train every projection's weights of ``spec`` on `pattern_task`; the spec
    with the trained weights, and the loss and accuracy of the last steps.

    The loss is the readout's cross-entropy plus the trainer's firing-rate
    regularization (``rate_regularization``: strength times the mean squared
    difference of each hidden neuron's spikes per step from ``rate_hz * dt``)."""
    twin = Twin(spec, dtype=torch.float32, synapses="dense")
    weights = [twin.params[p.name]["weight"] for p in spec.projections]
    for table in twin.params.values():
        for value in table.values():
            value.requires_grad_(any(value is w for w in weights))
    optimizer = torch.optim.Adam(weights, lr=lr)
    history = []
    for step in range(steps):
        x, labels = pattern_task(spec.n_steps, batch, spec.populations["inp"].size, seed=seed + 1000 * step)
        out = twin(inputs={"inp": x}, record={"out": ["y"]})
        y = out.traces["out"]["y"].mean(0)
        loss = torch.nn.functional.cross_entropy(y, labels)
        for pop in spec.populations:
            if pop.startswith("h"):
                loss = loss + strength * ((out.spikes[pop].mean(0) - rate_hz * spec.dt) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((float(loss), float((y.argmax(1) == labels).float().mean())))
    trained = {p.name: {"weight": (p.weight_unit, twin.params[p.name]["weight"].detach().double().numpy())} for p in spec.projections}
    return apply_params(spec, {"dt": spec.dt, "groups": trained}), history


def twin_inference(twin, x: torch.Tensor, batch: int, reps: int) -> dict:
    """Whole test set in batches; best of ``reps`` (wall and CPU time)."""
    wall, cpu = [], []
    with torch.no_grad():
        twin(inputs={"inp": x[:, :batch]})  # warm-up
        for _ in range(reps):
            start, start_cpu = time.perf_counter(), time.process_time()
            for b in range(0, x.shape[1], batch):
                twin(inputs={"inp": x[:, b : b + batch]}, record={"out": ["y"]})
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"wall_s": wall, "cpu_s": cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=64, help="test set size")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--inputs", type=int, default=140)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch", type=int, default=64, help="twin batch size")
    parser.add_argument("--reps", type=int, default=3, help="passes over the test set (Brian2 and twin); per sample the fastest counts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fast-math", action="store_true", help="also compile with Brian2's fast-math flags")
    parser.add_argument("--train-steps", type=int, default=0, help="train the weights this many steps on a 20-class task first (0: random weights, 20 Hz inputs)")
    parser.add_argument("--name", default="inference")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    config = adlif_network(n_in=args.inputs, hidden=tuple(args.hidden), steps=args.steps)
    spec = network_from_dict(config)
    x = poisson_inputs(args.steps, args.samples, args.inputs, seed=3)  # (T, samples, n_in)
    labels, training = None, None
    if args.train_steps:
        start = time.process_time()
        spec, history = train_weights(spec, args.train_steps)
        training = {"steps": args.train_steps, "cpu_s": time.process_time() - start, "last_10_loss": float(np.mean([h[0] for h in history[-10:]])), "last_10_accuracy": float(np.mean([h[1] for h in history[-10:]])), "history": history}
        print(f"trained {args.train_steps} steps: loss {training['last_10_loss']:.3f}, accuracy {training['last_10_accuracy']:.3f} (last 10 batches)")
        x, labels = pattern_task(args.steps, args.samples, args.inputs, seed=10**6)
    rasters = [x[:, n].double().numpy() for n in range(args.samples)]
    simulated = args.steps * spec.dt

    variants = {"faithful": brian_inference(spec, rasters, reps=args.reps)}
    if args.fast_math:
        variants["fast_math"] = brian_inference(spec, rasters, fast_math=True, reps=args.reps)
    brian = variants["faithful"]
    batch = brian_batch_inference(spec, rasters, reps=args.reps)
    batch_same = all(b.spikes[p][0].tolist() == a.spikes[p][0].tolist() and b.spikes[p][1].tolist() == a.spikes[p][1].tolist() for a, b in zip(brian["results"], batch["results"]) for p in a.spikes)
    exact = Twin(spec, dtype=torch.float64, math="libm")
    with torch.no_grad():
        check = same_spikes(brian["results"][0], exact(inputs={"inp": x[:, :1].double()}), [p for p in spec.populations if p != "out"])
    fast = Twin(spec, dtype=torch.float32, synapses="dense")
    twin = twin_inference(fast, x, args.batch, args.reps)
    rates = {pop: float(np.mean([len(r.spikes[pop][0]) for r in brian["results"]])) / spec.populations[pop].size / simulated for pop in ("inp", "h1", "h2")}

    results = {}
    table = []
    for label, run in variants.items():
        loop = statistics.median(run["loop_cpu_s"])
        call, call_cpu = statistics.median(run["call_s"]), statistics.median(run["call_cpu_s"])
        results[f"brian_cpp_standalone_{label}"] = {
            "compile_s": run["compile_s"],
            "loop_cpu_per_sample_s": loop,
            "loop_cpu_per_step_s": loop / args.steps,
            "call_per_sample_s": call,
            "call_cpu_per_sample_s": call_cpu,
            "real_time_factor_loop": simulated / loop,
            "real_time_factor_call_cpu": simulated / call_cpu,
            "samples_per_s_wall": args.samples / sum(run["call_s"]),
            "samples_per_s_cpu": args.samples / sum(run["call_cpu_s"]),
            **{k: run[k] for k in ("loop_cpu_s", "call_s", "call_cpu_s", "all_loop_cpu_s")},
        }
        flags = "-O3 -fno-fast-math -ffp-contract=off" if label == "faithful" else "-O3 -ffast-math -march=native"
        table.append([f"Brian2 cpp_standalone ({flags}), simulation loop", fmt(loop), f"{simulated / loop:.0f}x", f"{1 / loop:.0f}", f"{run['compile_s']:.1f} s"])
        table.append(["  same, whole run() call (new process, load/save arrays)", fmt(call_cpu), f"{simulated / call_cpu:.1f}x", f"{args.samples / sum(run['call_cpu_s']):.1f}", ""])
    loop, call_cpu = min(batch["loop_cpu_s"]) / args.samples, min(batch["call_cpu_s"]) / args.samples
    results["brian_cpp_standalone_test_set_in_one_call"] = {
        "compile_s": batch["compile_s"],
        "loop_cpu_per_sample_s": loop,
        "loop_cpu_per_step_s": loop / args.steps,
        "call_cpu_per_sample_s": call_cpu,
        "real_time_factor_loop": simulated / loop,
        "real_time_factor_call_cpu": simulated / call_cpu,
        "samples_per_s_cpu": 1 / call_cpu,
        "same_spikes_as_one_call_per_sample": batch_same,
        **{k: batch[k] for k in ("loop_cpu_s", "call_cpu_s")},
    }
    table.append([f"Brian2 cpp_standalone (-O3 -fno-fast-math -ffp-contract=off), test set in one call (samples={args.samples}), simulation loop", fmt(loop), f"{simulated / loop:.0f}x", f"{1 / loop:.0f}", f"{batch['compile_s']:.1f} s"])
    table.append(["  same, whole call (one process, load/save arrays)", fmt(call_cpu), f"{simulated / call_cpu:.0f}x", f"{1 / call_cpu:.0f}", ""])
    twin_cpu, twin_wall = min(twin["cpu_s"]), min(twin["wall_s"])
    results["twin_float32_dense_no_grad"] = {
        "batch": args.batch,
        "cpu_per_sample_s": twin_cpu / args.samples,
        "wall_per_sample_s": twin_wall / args.samples,
        "real_time_factor_cpu": args.samples * simulated / twin_cpu,
        "samples_per_s_cpu": args.samples / twin_cpu,
        "samples_per_s_wall": args.samples / twin_wall,
        "wall_s": twin["wall_s"],
        "cpu_s": twin["cpu_s"],
    }
    table.append([f"twin float32 dense, batch {args.batch}, no grad", fmt(twin_cpu / args.samples), f"{args.samples * simulated / twin_cpu:.0f}x", f"{args.samples / twin_cpu:.1f}", "-"])
    results["firing_rates_hz"] = rates
    if training is not None:
        brian_y = np.stack([r.traces["out"]["y"] for r in brian["results"]])  # (samples, steps, n_out)
        with torch.no_grad():
            twin_y = fast(inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"].mean(0)
        training["test_accuracy_brian"] = float(np.mean(brian_y.mean(1).argmax(1) == labels.numpy()))
        training["test_accuracy_twin_float32"] = float((twin_y.argmax(1) == labels).float().mean())
        results["training"] = training
    results["first_sample_identical_spikes_cpp_vs_twin_float64_libm"] = check
    task = "Poisson inputs (20 Hz)" if training is None else f"inputs of the 20-class pattern task (20 Hz, a fifth of the channels at 60 Hz), weights trained {args.train_steps} steps (last 10 batches: loss {training['last_10_loss']:.3f}, accuracy {training['last_10_accuracy']:.3f}; test accuracy of the readout: Brian2 {training['test_accuracy_brian']:.3f}, twin float32 {training['test_accuracy_twin_float32']:.3f})"
    notes = [
        f"network: {args.inputs} {task}, {' x '.join(map(str, args.hidden))} recurrent SE-adLIF, 20 leaky-integrator outputs, dt = 1 ms, {args.steps} steps ({simulated * 1e3:.0f} ms) per sample, {args.samples} samples; mean rates inp {rates['inp']:.1f} Hz, h1 {rates['h1']:.1f} Hz, h2 {rates['h2']:.1f} Hz",
        f"cpp_standalone: compiled once (time: code generation + g++), then one binary run per sample with the sample's inputs as run_args; single-threaded (no OpenMP). 'simulation loop': Brian2's own timing of the loop in the binary (std::clock, CPU time); 'whole run() call': CPU time of the binary process plus this process's Python side; each the median over samples of the fastest of {args.reps} runs per sample",
        f"test set in one call: StandaloneNetwork(samples={args.samples}).run_samples, all samples in one run of the binary (state set back at every sample's start); per sample: Brian2's timing of that run's loop, and the CPU time of the call (binary process and this process), over {args.samples}; fastest of {args.reps} calls; every sample's spikes identical to the one-call-per-sample runs: {batch_same}",
        f"twin: {args.threads} torch thread(s), CPU time of the best of {args.reps} passes over the test set",
        f"first sample, cpp_standalone vs twin (float64, exact synapses, libm math): identical spikes: {check}",
    ]
    save(args.name, info, {"args": vars(args), "network": config}, results, table, ["", "CPU per sample", "real-time factor", "samples / s", "compile"], notes)


if __name__ == "__main__":
    main()
