"""What two build options cost Brian2 cpp_standalone's simulation loop on the
benchmark network, measured side by side.

    python benchmarks/brian_options.py [--samples 8 --rounds 2 --reps 4]

Variants, each compiled once in its own process (Brian2 keeps one standalone
device per process) and run on the same input rasters:

- ``as built``: the network as bioadapt builds it (the readout's program
  ``exp(-dt/tau)`` a derived constant, `bioadapt.schemes.hoisting`; every
  spike recorded);
- ``program exp per step``: the readout's ``exp(-dt/tau)`` evaluated per
  neuron and step, as the program is written (hoisting switched off);
- ``no spike monitors``: ``StandaloneNetwork(record_spikes=False)``, only the
  readout ``y`` recorded (what a test set's accuracy needs);
- ``fixed delays``: ``StandaloneNetwork(settable_delays=False)``, the delays
  compiled in (every projection's synapses share the delay 0: Brian2's
  scalar pathway delay), instead of a ``delay_value`` per synapse that
  `run` could change;
- ``fixed delays, no spike monitors``: both.

The variants' processes alternate for ``--rounds`` rounds (load from other
processes hits all alike); each runs every sample ``--reps`` times and
reports Brian2's own timing of the loop (``std::clock``, CPU time). The table
gives the fastest and the median run of each variant over all rounds, and
checks that the readout is the same in every variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from common import adlif_network, fmt, machine, save

VARIANTS = ("as built", "program exp per step", "no spike monitors", "fixed delays", "fixed delays, no spike monitors")


def measure(variant: str, samples: int, reps: int, out: str) -> None:
    """One variant in this process: loop times and the first sample's readout."""
    from bioadapt import network_from_dict
    from bioadapt.backends.brian import build
    from bioadapt.backends.brian.standalone import StandaloneNetwork

    spec = network_from_dict(adlif_network())
    rng = np.random.default_rng(0)
    rasters = [(rng.random((spec.n_steps, spec.populations["inp"].size)) < 0.02).astype(float) for _ in range(samples)]
    if variant == "program exp per step":
        build.program_exponentials = lambda *args, **kwargs: None
    net = StandaloneNetwork(spec, record={"out": ["y"]}, record_spikes="no spike monitors" not in variant, settable_delays="fixed delays" not in variant)
    times, first = [], None
    try:
        for _ in range(reps):
            for raster in rasters:
                result = net.run(inputs={"inp": raster})
                times.append(net.loop_time)
                if first is None:
                    first = result.traces["out"]["y"]
    finally:
        net.close()
    np.save(out + ".npy", first)
    with open(out + ".json", "w") as f:
        json.dump({"variant": variant, "loop_s": times}, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="brian_options")
    args = parser.parse_args()
    if args.variant:  # a child process
        measure(args.variant, args.samples, args.reps, args.out)
        return
    info = machine()
    loops = {v: [] for v in VARIANTS}
    readouts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for k, variant in enumerate(VARIANTS):
                out = f"{tmp}/{k}_{round_}"
                subprocess.run([sys.executable, __file__, "--variant", variant, "--samples", str(args.samples), "--reps", str(args.reps), "--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(out + ".json") as f:
                    loops[variant] += json.load(f)["loop_s"]
                readouts[variant] = np.load(out + ".npy")
    same = {v: bool(np.array_equal(readouts[v], readouts["as built"])) for v in VARIANTS}
    sample_s = 250e-3
    results = {v: {"loop_min_s": min(t), "loop_median_s": statistics.median(t), "real_time_factor": sample_s / min(t), "readout_as_built": same[v], "all_loop_s": t} for v, t in loops.items()}
    base = results["as built"]["loop_min_s"]
    table = [[v, fmt(r["loop_min_s"]), fmt(r["loop_median_s"]), f"{r['real_time_factor']:.0f}x", f"{r['loop_min_s'] / base:.2f}", "yes" if r["readout_as_built"] else "NO"] for v, r in results.items()]
    notes = [
        f"network: 140 Poisson inputs (2 % per step), 256 x 256 recurrent SE-adLIF, 20 leaky-integrator outputs, dt = 1 ms, 250 steps per sample; {args.samples} samples x {args.reps} runs per process, {args.rounds} rounds of alternating processes ({len(loops['as built'])} runs per variant)",
        "loop: Brian2's timing of the simulation loop in the binary (std::clock, CPU time; no OpenMP)",
    ]
    header = ["variant", "loop per sample, min", "median", "real-time factor", "x as built", "readout as built"]
    save(args.name, info, vars(args), results, table, header, notes)


if __name__ == "__main__":
    main()
