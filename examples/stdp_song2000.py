"""Spike-timing-dependent plasticity (Song, Miller and Abbott 2000): Brian2's STDP example
=======================================================================================

Brian2's ``examples/synapses/STDP.py`` as a network file (``examples/stdp/network.toml``:
1000 Poisson inputs at 15 Hz onto one conductance-based LIF neuron through STDP synapses,
additive rule with event-driven traces, weights clipped to ``[0, gmax]``) run for the
example's 100 s of biological time with `bioadapt.long_run` on cpp_standalone, the
weights of all synapses sampled every second. Song, Miller and Abbott's result: from
uniform initial weights, competition between the synapses drives them to the bounds
(a bimodal distribution) and the output rate settles. After the example's 100 s the
distribution here is U-shaped and still moving: the synapses near either bound have
about doubled, the middle has thinned (the table), as in the figure of Brian2's example.
The twin (float64, the C library's functions) runs the first ``--twin-duration``
seconds and is compared with cpp_standalone over the same time, spike for spike and
sample for sample::

    python examples/stdp_song2000.py --out examples/results/stdp --work /tmp/stdp_runs

Results
-------

This page shows the committed results of that run (``examples/results/stdp/``); the
documentation does not rerun it.

.. include:: ../../../examples/results/stdp/results.md
   :parser: myst_parser.sphinx_

.. image:: ../../../examples/results/stdp/stdp.png
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from bioadapt import network_from_dict
from bioadapt._files import read_toml
from bioadapt.long_run import load_long_run, long_run

HERE = Path(__file__).resolve().parent
NETWORK = HERE / "stdp" / "network.toml"
GMAX = 0.01


def network(seconds: float):
    """The example's network for ``seconds`` of biological time."""
    data = read_toml(NETWORK, "Network file")
    data["duration"] = f"{seconds!r}*second"
    return network_from_dict(data, source=str(NETWORK), folder=NETWORK.parent)


def run(spec, folder: Path, backend: str, every: str, chunk: str) -> tuple:
    start = time.perf_counter()
    info = long_run(spec, folder, backend=backend, record={"S": ["w"]}, record_every=every, chunk=chunk, progress=False, math="libm" if backend == "torch" else "numpy")
    return load_long_run(folder), info, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=100.0, help="seconds of biological time (cpp_standalone)")
    parser.add_argument("--twin-duration", type=float, default=10.0, help="seconds the twin runs, compared with cpp_standalone")
    parser.add_argument("--out", default="examples/results/stdp")
    parser.add_argument("--work", default="/tmp/stdp_runs", help="folder for the runs' files")
    args = parser.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)

    spec = network(args.duration)
    initial = spec.projections[0].values["w"]
    every = f"{min(1.0, args.duration)!r}*second"  # weights sampled every second (or once, for a shorter run)
    long, info, wall = run(spec, work / "cpp", "cpp_standalone", every, "10*second")
    w = long.traces["S"]["w"]  # (seconds, synapses): the weights at t = 1 s, 2 s, ...
    final = w[-1]
    steps = long.spikes["neurons"][1]
    span = min(10.0, args.duration)
    window = int(round(span / spec.dt))
    first_rate, last_rate = (np.count_nonzero(steps < window) / span, np.count_nonzero(steps >= spec.n_steps - window) / span)

    short = network(args.twin_duration)
    every = f"{min(1.0, args.twin_duration)!r}*second"
    brian, _, brian_wall = run(short, work / "cpp_short", "cpp_standalone", every, "5*second")
    twin, twin_info, twin_wall = run(short, work / "twin", "torch", every, "5*second")
    same_spikes = twin.spike_set("neurons") == brian.spike_set("neurons")
    w_difference = float(np.abs(twin.traces["S"]["w"] - brian.traces["S"]["w"]).max())

    def fractions(values):
        return float(np.mean(values < 0.1 * GMAX)), float(np.mean(values > 0.9 * GMAX))

    results = {
        "duration_s": args.duration, "synapses": int(len(final)), "output_spikes": int(len(steps)),
        "rate_first_10s_hz": first_rate, "rate_last_10s_hz": last_rate,
        "initial_fraction_below_0.1_gmax": fractions(initial)[0], "initial_fraction_above_0.9_gmax": fractions(initial)[1],
        "final_fraction_below_0.1_gmax": fractions(final)[0], "final_fraction_above_0.9_gmax": fractions(final)[1],
        "mean_final_w_over_gmax": float(final.mean() / GMAX),
        "cpp_standalone_wall_s": wall, "cpp_standalone_real_time_factor": info["real_time_factor"],
        "twin_duration_s": args.twin_duration, "twin_wall_s": twin_wall, "twin_real_time_factor": twin_info["real_time_factor"],
        "twin_equals_cpp_standalone_spikes": same_spikes, "twin_vs_cpp_standalone_max_w_difference": w_difference,
        "twin_output_spikes": twin.spike_count("neurons"),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    lines = [
        f"| quantity | value |", "|---|---|",
        f"| biological time (cpp_standalone) | {args.duration:g} s, {spec.n_steps} steps of {spec.dt * 1e3:g} ms |",
        f"| output rate, first and last {span:g} s | {first_rate:.1f} Hz, {last_rate:.1f} Hz |",
        f"| synapses with w < 0.1 gmax: at the start, at the end | {results['initial_fraction_below_0.1_gmax']:.1%}, {results['final_fraction_below_0.1_gmax']:.1%} |",
        f"| synapses with w > 0.9 gmax: at the start, at the end | {results['initial_fraction_above_0.9_gmax']:.1%}, {results['final_fraction_above_0.9_gmax']:.1%} |",
        f"| mean final w / gmax | {results['mean_final_w_over_gmax']:.3f} |",
        f"| cpp_standalone: wall time (compile included), real-time factor of the loop | {wall:.1f} s, {info['real_time_factor']:.1f} |",
        f"| twin (float64, libm) over the first {args.twin_duration:g} s: wall time, real-time factor | {twin_wall:.1f} s, {twin_info['real_time_factor']:.2f} |",
        f"| twin against cpp_standalone over {args.twin_duration:g} s | {'identical' if same_spikes else 'different'} spikes ({twin.spike_count('neurons')}); largest difference of the sampled weights {w_difference:.3g} |",
    ]
    lines.append(f"\nRun on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (`python examples/stdp_song2000.py`).")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 8))
    axes[0].plot(final / GMAX, ".k", markersize=2)
    axes[0].set(xlabel="synapse index", ylabel="final w / gmax")
    axes[1].hist(final / GMAX, 20, color="0.4")
    axes[1].hist(initial / GMAX, 20, histtype="step", color="k", label="initial")
    axes[1].set(xlabel="w / gmax", ylabel="synapses")
    axes[1].legend()
    axes[2].plot(np.arange(1, len(w) + 1) * min(1.0, args.duration), w[:, :2] / GMAX)
    axes[2].set(xlabel="time (s)", ylabel="w / gmax (synapses 0 and 1)")
    fig.tight_layout()
    fig.savefig(out / "stdp.png", dpi=120)


if __name__ == "__main__":
    main()
