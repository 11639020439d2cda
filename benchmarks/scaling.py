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
``--long-steps``); then, each in a fresh process, checkpointing every
K = ``--checkpoint-every`` steps (default sqrt(T)) at the longest plain length
with glibc's default allocator, plain and checkpointed at that length with
glibc's mmap threshold at ``--mmap-threshold`` bytes (MALLOC_MMAP_THRESHOLD_;
without it glibc does not reuse the memory a checkpointed step frees), and
checkpointed at ``--long-steps`` steps.
"""

from __future__ import annotations

import os

# one core for numpy/scipy's BLAS too (scipy's expm in the exact scheme): its
# idle threads spin and would be counted in this process's CPU time
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import ctypes
import ctypes.util
import gc
import json
import math
import re
import subprocess
import sys
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


def _in_fresh_process(hidden, steps, batch, checkpoint_every, env) -> dict:
    """`training_step` in a new Python process (with extra environment variables)."""
    command = [sys.executable, __file__, "--worker", json.dumps({"hidden": hidden, "steps": steps, "batch": batch, "checkpoint_every": checkpoint_every})]
    done = subprocess.run(command, env=dict(os.environ, **(env or {})), capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["environment"] = env or {}
    return result


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        torch.set_num_threads(1)
        print(json.dumps(training_step(**json.loads(sys.argv[2]))))
        return
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
    parser.add_argument("--mmap-threshold", type=int, default=65536, help="glibc M_MMAP_THRESHOLD in bytes for the checkpointed long runs (0: keep glibc's dynamic default)")
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
    k = args.checkpoint_every or int(round(math.sqrt(args.long_steps)))

    def row(label, r):
        table.append([label, f"N {n}, T {r['steps']}, B {b}", fmt(r["cpu_s"]), fmt(r["cpu_s"] / r["steps"]), f"{r['peak_rise_bytes'] / MB:.0f}", f"{r['saved_bytes'] / MB:.0f}" if "saved_bytes" in r else ""])
        print(table[-1])

    plain = [training_step(n, t, b) for t in args.long_plain]
    for r in plain:
        row("plain BPTT", r)
    results["long"]["plain"] = plain
    if len(plain) >= 2:
        steps = [r["steps"] for r in plain]
        for key in ("peak_rise_bytes", "saved_bytes"):
            slope, intercept = np.polyfit(steps, [r[key] for r in plain], 1)
            results["long"][f"plain_{key}_per_step"] = slope
            results["long"][f"plain_{key}_extrapolated"] = slope * args.long_steps + intercept
        table.append(["plain BPTT (linear fit, extrapolated)", f"N {n}, T {args.long_steps}, B {b}", "", "", f"{results['long']['plain_peak_rise_bytes_extrapolated'] / MB:.0f}", f"{results['long']['plain_saved_bytes_extrapolated'] / MB:.0f}"])
    # checkpointed runs, each in a fresh process (the allocator's state carries
    # over from one run to the next), with glibc's default allocator and with
    # its mmap threshold set from the start
    mmap = {"MALLOC_MMAP_THRESHOLD_": str(args.mmap_threshold)} if args.mmap_threshold else None
    runs = []
    if args.long_plain:
        t = args.long_plain[-1]
        runs += [("checkpointed_same_length_glibc_default", f"checkpointed, K = {k}", t, k, None)]
        if mmap:
            runs += [("plain_same_length_mmap", f"plain BPTT, mmap threshold {args.mmap_threshold // 1024} KiB", t, None, mmap), ("checkpointed_same_length", f"checkpointed, K = {k}, mmap threshold {args.mmap_threshold // 1024} KiB", t, k, mmap)]
    if args.long_steps:
        runs += [("checkpointed", f"checkpointed, K = {k}" + (f", mmap threshold {args.mmap_threshold // 1024} KiB" if mmap else ""), args.long_steps, k, mmap)]
    for key, label, t, every, env in runs:
        r = _in_fresh_process(n, t, b, every, env)
        results["long"][key] = r
        row(label, r)
    notes = [
        "one training step (forward + backward), float32, synapses='dense', CPU, "
        f"{args.threads} torch thread(s); N = neurons per hidden layer (2 recurrent SE-adLIF layers), T = steps, B = batch, D = maximum synaptic delay in steps",
        "peak rise: rise of the process's peak resident set during the step over the resident set before it (includes inputs, outputs, gradients, allocator slack); saved: bytes autograd keeps for the backward pass",
        "allocator: the sweeps and plain BPTT runs run in this process with glibc's default allocator; the rows below them each in a fresh process, with glibc's default or with M_MMAP_THRESHOLD set from the start (MALLOC_MMAP_THRESHOLD_). With glibc's default, the memory a checkpointed step frees is not reused and the resident set grows almost as without checkpointing; with the threshold at 64 KiB it follows the live memory, at the price of more page faults",
    ]
    long = results["long"]
    if "checkpointed" in long and "plain_saved_bytes_extrapolated" in long:
        notes.append(
            f"{args.long_steps} steps at N = {n}, B = {b}: plain BPTT would keep about {long['plain_saved_bytes_extrapolated'] / 2**30:.1f} GiB for the backward pass alone "
            f"(peak rise about {long['plain_peak_rise_bytes_extrapolated'] / 2**30:.1f} GiB, linear fits of the plain runs); with checkpoint_every={k} the peak rise was "
            f"{long['checkpointed']['peak_rise_bytes'] / 2**30:.2f} GiB, in {long['checkpointed']['cpu_s']:.0f} s of CPU time"
        )
    if "checkpointed_same_length" in long and "plain_same_length_mmap" in long:
        same, ref = long["checkpointed_same_length"], long["plain_same_length_mmap"]
        notes.append(f"checkpointing at T = {same['steps']}: {same['cpu_s'] / ref['cpu_s']:.2f}x the time, {same['peak_rise_bytes'] / max(ref['peak_rise_bytes'], 1):.2f}x the peak rise of plain BPTT")
    save(args.name, info, {"args": vars(args), "base": base}, results, table, ["sweep", "size", "train step (CPU)", "per time step", "peak rise (MiB)", "saved for backward (MiB)"], notes)


if __name__ == "__main__":
    main()
