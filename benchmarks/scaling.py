"""Scaling of the twin's training step: time and memory as neurons, steps,
batch and maximum delay grow; BPTT memory of long sequences with and without
gradient checkpointing (``Twin.forward(..., checkpoint_every=K)``).

    python benchmarks/scaling.py [--neurons 64 128 256 512 --steps 100 250 500 1000 --batch 16 64 256 --delays 0 4 16 --long-steps 10000 --threads 1]

Network: the benchmark network (``common.adlif_network``): 140 inputs, two
recurrent SE-adLIF layers of N neurons each, 20 readouts, all-to-all; with
``max delay`` D every synaptic delay is drawn from 0 .. D steps (the dense
twin then multiplies with one weight matrix per distinct delay). Each sweep
varies one size from the base N = 256, T = 250, B = 64, D = 0.

Per configuration, one training step (forward, cross-entropy of the
time-averaged readout, backward) in float32 with ``synapses="dense"``:
CPU time; peak memory, measured as the rise of the process's peak resident
set (Linux VmHWM, reset before the step) over the resident set before it;
and the bytes of the tensors autograd saves for the backward pass (a separate
forward pass with saved-tensor hooks, unique storages, parameters excluded).

Long sequences: N = ``--long-neurons`` per layer, B = ``--long-batch``. Plain
BPTT at a few lengths (memory is linear in T: fitted and extrapolated to
``--long-steps``), then ``--long-steps`` steps with checkpointing every
K = ``--checkpoint-every`` steps (default sqrt(T)).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import math
import re
import time

import numpy as np
import torch

from common import adlif_network, fmt, machine, poisson_inputs, save

from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin

MB = 2.0**20


def _memory() -> tuple[float, float]:
    """(current, peak) resident set of this process in bytes (Linux)."""
    status = open("/proc/self/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
    hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024
    return rss, hwm


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _reset_peak():
    gc.collect()
    # hand freed heap memory back to the system, so that the next allocations
    # show in the resident set instead of reusing pages already counted
    _LIBC.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set


def saved_bytes(twin, x) -> int:
    """Bytes of the distinct storages autograd saves during one forward pass."""
    params = {p.untyped_storage().data_ptr() for p in twin.parameters()}
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        twin(inputs={"inp": x}, record={"out": ["y"]})
    return sum(storages.values())


def training_step(hidden: int, steps: int, batch: int, max_delay: int = 0, checkpoint_every: int | None = None, with_saved: bool = True) -> dict:
    spec = network_from_dict(adlif_network(hidden=(hidden, hidden), steps=steps, max_delay=max_delay))
    twin = Twin(spec, dtype=torch.float32, synapses="dense")
    x = poisson_inputs(steps, batch, spec.populations["inp"].size)
    labels = torch.randint(0, 20, (batch,), generator=torch.Generator().manual_seed(0))
    # warm-up on a few steps (allocator, first-call costs, the checkpoint machinery)
    twin(inputs={"inp": x[:5]}, record={"out": ["y"]}, checkpoint_every=2 if checkpoint_every else None).traces["out"]["y"].sum().backward()
    twin.zero_grad(set_to_none=True)
    _reset_peak()
    rss_before, _ = _memory()
    start, start_cpu = time.perf_counter(), time.process_time()
    out = twin(inputs={"inp": x}, record={"out": ["y"]}, checkpoint_every=checkpoint_every)
    loss = torch.nn.functional.cross_entropy(out.traces["out"]["y"].mean(0), labels)
    loss.backward()
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    _, peak = _memory()
    del out, loss
    result = {"hidden": hidden, "steps": steps, "batch": batch, "max_delay": max_delay, "checkpoint_every": checkpoint_every, "cpu_s": cpu, "wall_s": wall, "peak_rise_bytes": peak - rss_before}
    if with_saved and checkpoint_every is None:
        twin.zero_grad(set_to_none=True)
        result["saved_bytes"] = saved_bytes(twin, x)
    del twin
    gc.collect()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, nargs="*", default=[64, 128, 256, 512], help="N per hidden layer (T 250, B 64)")
    parser.add_argument("--steps", type=int, nargs="*", default=[100, 250, 500, 1000], help="T (N 256, B 64)")
    parser.add_argument("--batch", type=int, nargs="*", default=[16, 64, 256], help="B (N 256, T 250)")
    parser.add_argument("--delays", type=int, nargs="*", default=[0, 4, 16], help="maximum delay D in steps (N 256, T 250, B 64)")
    parser.add_argument("--long-neurons", type=int, default=512)
    parser.add_argument("--long-batch", type=int, default=32)
    parser.add_argument("--long-plain", type=int, nargs="*", default=[250, 500, 1000], help="lengths of plain BPTT runs for the memory fit")
    parser.add_argument("--long-steps", type=int, default=10000)
    parser.add_argument("--checkpoint-every", type=int, default=None, help="K (default: sqrt of --long-steps)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="scaling")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    base = {"hidden": 256, "steps": 250, "batch": 64, "max_delay": 0}
    sweeps = {"hidden": args.neurons, "steps": args.steps, "batch": args.batch, "max_delay": args.delays}
    results = {"sweeps": {}, "long": {}}
    table = []
    for key, values in sweeps.items():
        results["sweeps"][key] = []
        for value in values:
            r = training_step(**dict(base, **{key: value}))
            results["sweeps"][key].append(r)
            table.append([f"{key} = {value}", f"N {r['hidden']}, T {r['steps']}, B {r['batch']}, D {r['max_delay']}", fmt(r["cpu_s"]), fmt(r["cpu_s"] / r["steps"]), f"{r['peak_rise_bytes'] / MB:.0f}", f"{r['saved_bytes'] / MB:.0f}"])
            print(table[-1])
    # long sequences: plain BPTT memory is linear in T; checkpointing keeps one chunk
    n, b = args.long_neurons, args.long_batch
    plain = [training_step(n, t, b) for t in args.long_plain]
    for r in plain:
        table.append(["plain BPTT", f"N {n}, T {r['steps']}, B {b}", fmt(r["cpu_s"]), fmt(r["cpu_s"] / r["steps"]), f"{r['peak_rise_bytes'] / MB:.0f}", f"{r['saved_bytes'] / MB:.0f}"])
        print(table[-1])
    results["long"]["plain"] = plain
    if len(plain) >= 2:
        slope, intercept = np.polyfit([r["steps"] for r in plain], [r["peak_rise_bytes"] for r in plain], 1)
        results["long"]["plain_fit_bytes_per_step"] = slope
        results["long"]["plain_extrapolated_peak_rise_bytes"] = slope * args.long_steps + intercept
        table.append(["plain BPTT (linear fit, extrapolated)", f"N {n}, T {args.long_steps}, B {b}", "", "", f"{(slope * args.long_steps + intercept) / MB:.0f}", ""])
    k = args.checkpoint_every or int(round(math.sqrt(args.long_steps)))
    if args.long_plain:
        same = training_step(n, args.long_plain[-1], b, checkpoint_every=k)
        results["long"]["checkpointed_same_length"] = same
        table.append([f"checkpointed, K = {k}", f"N {n}, T {same['steps']}, B {b}", fmt(same["cpu_s"]), fmt(same["cpu_s"] / same["steps"]), f"{same['peak_rise_bytes'] / MB:.0f}", ""])
        print(table[-1])
    if args.long_steps:
        long = training_step(n, args.long_steps, b, checkpoint_every=k)
        results["long"]["checkpointed"] = long
        table.append([f"checkpointed, K = {k}", f"N {n}, T {args.long_steps}, B {b}", fmt(long["cpu_s"]), fmt(long["cpu_s"] / long["steps"]), f"{long['peak_rise_bytes'] / MB:.0f}", ""])
        print(table[-1])
    notes = [
        "one training step (forward + backward), float32, synapses='dense', CPU, "
        f"{args.threads} torch thread(s); N = neurons per hidden layer (2 recurrent SE-adLIF layers), T = steps, B = batch, D = maximum synaptic delay in steps",
        "peak rise: rise of the process's peak resident set during the step over the resident set before it (includes inputs, outputs, gradients, allocator slack); saved: bytes autograd keeps for the backward pass",
    ]
    if "checkpointed" in results["long"] and "plain_extrapolated_peak_rise_bytes" in results["long"]:
        notes.append(
            f"{args.long_steps} steps at N = {n}, B = {b}: plain BPTT would need about {results['long']['plain_extrapolated_peak_rise_bytes'] / 2**30:.1f} GiB (linear fit of the plain runs); "
            f"with checkpoint_every={k} the step used {results['long']['checkpointed']['peak_rise_bytes'] / 2**30:.2f} GiB and took {results['long']['checkpointed']['cpu_s']:.0f} s of CPU time"
        )
    if "checkpointed_same_length" in results["long"]:
        same, ref = results["long"]["checkpointed_same_length"], plain[-1]
        notes.append(f"checkpointing at T = {same['steps']}: {same['cpu_s'] / ref['cpu_s']:.2f}x the time, {same['peak_rise_bytes'] / max(ref['peak_rise_bytes'], 1):.2f}x the peak memory of plain BPTT")
    save(args.name, info, {"args": vars(args), "base": base}, results, table, ["sweep", "size", "train step (CPU)", "per time step", "peak rise (MiB)", "saved for backward (MiB)"], notes)


if __name__ == "__main__":
    main()
