"""How Brian2 cpp_standalone's simulation loop scales with network activity:
a fixed cost per step plus a cost per synaptic event.

    python benchmarks/brian_activity.py [--rates 10 15 20 30 --gains 0.75 1 1.25 --samples 4 --reps 15]

The benchmark network (140 Poisson inputs, 2 x 256 recurrent SE-adLIF,
20 leaky integrators, all-to-all, delay 0, dt = 1 ms) is compiled once. It
then runs on input rasters of several rates, with the input weights scaled
by several gains (new weights are run arguments, nothing is recompiled), so
that every layer's activity varies. For every run the script takes Brian2's
own timing of the loop (``std::clock``, CPU time, no OpenMP) and counts, from
the recorded spikes:

- synaptic events: for every projection, the spikes of its source times the
  synapses per source neuron (each one an ``on_pre`` execution, ``I_post +=
  weight``);
- pushed spikes: for every projection, the spikes of its source (each one
  a push of the neuron's synapses into the spike queue; saved, not fitted:
  with all-to-all projections they are proportional to the events of the
  same source).

A least-squares fit of loop time per step on events per step gives the fixed
cost per step and the cost per event; from them, the events per step at which
the loop reaches a given real-time factor (``--target``, 200x: 5 us per step
of 1 ms), and the mean rate at which the benchmark network (every population
at the same rate) has that many events.
"""

from __future__ import annotations

import argparse

import numpy as np

from common import adlif_network, fmt, machine, save


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 15.0, 20.0, 30.0], help="input rates (Hz)")
    parser.add_argument("--gains", type=float, nargs="+", default=[0.75, 1.0, 1.25], help="factors of the input weights")
    parser.add_argument("--samples", type=int, default=4, help="input rasters per rate")
    parser.add_argument("--reps", type=int, default=15, help="runs of every (rate, gain, raster), interleaved; the fastest counts")
    parser.add_argument("--target", type=float, default=200.0, help="real-time factor to solve for")
    parser.add_argument("--name", default="brian_activity")
    args = parser.parse_args()

    from bioadapt import network_from_dict
    from bioadapt.backends.brian.standalone import StandaloneNetwork

    info = machine()
    config = adlif_network()
    spec = network_from_dict(config)
    dt = spec.dt
    steps = spec.n_steps
    sizes = {name: pop.size for name, pop in spec.populations.items()}
    # synapses per source neuron (all-to-all: the target's size)
    fan_out = {p.name: (p.source, p.size / sizes[p.source]) for p in spec.projections}
    rng = np.random.default_rng(1)
    # the config's weight distributions, drawn here so that the input weights can be scaled
    base = {}
    for p in config["projections"]:
        mean, std = (float(v) for v in p["weight"][len("normal(") : -1].split(","))
        base[p["name"]] = rng.normal(mean, std, sizes[p["source"]] * sizes[p["target"]])
    input_projections = [p.name for p in spec.projections if spec.populations[p.source].is_input]

    cases = []
    for rate in args.rates:
        rasters = [(rng.random((steps, sizes["inp"])) < rate * dt).astype(float) for _ in range(args.samples)]
        for gain in args.gains:
            weights = {name: (gain * w if name in input_projections else w) for name, w in base.items()}
            cases += [(rate, gain, k, raster, weights) for k, raster in enumerate(rasters)]
    net = StandaloneNetwork(spec, record={"out": ["y"]})
    loops, counts = [[] for _ in cases], [None] * len(cases)
    try:
        # repetitions outermost: load from other processes hits every case alike
        for _ in range(args.reps):
            for c, (rate, gain, k, raster, weights) in enumerate(cases):
                result = net.run(inputs={"inp": raster}, weights=weights)
                loops[c].append(net.loop_time)
                found = {pop: result.spike_count(pop) for pop in result.spikes}
                assert counts[c] in (None, found), "a rerun gave other spikes"
                counts[c] = found
    finally:
        net.close()
    runs = []
    for (rate, gain, k, _, _), loop, count in zip(cases, loops, counts):
        events = sum(count[src] * n for src, n in fan_out.values())
        pushed = sum(count[src] for src, _ in fan_out.values())
        runs.append({"rate_hz": rate, "gain": gain, "sample": k, "loop_s": min(loop), "all_loop_s": loop, "spikes": count, "events_per_step": events / steps, "pushed_per_step": pushed / steps})

    per_step = np.array([r["loop_s"] / steps for r in runs])
    events = np.array([r["events_per_step"] for r in runs])
    design = np.stack([np.ones_like(events), events], axis=1)
    (fixed, per_event), *_ = np.linalg.lstsq(design, per_step, rcond=None)
    residual = per_step - design @ np.array([fixed, per_event])
    budget = dt / args.target  # loop time per step at the target real-time factor
    events_at_target = (budget - fixed) / per_event
    # events per step of the benchmark network with every population at rate r: r * dt * sum(size * fan-out)
    events_per_hz = dt * sum(sizes[src] * n for src, n in fan_out.values())
    rate_at_target = events_at_target / events_per_hz
    results = {
        "runs": runs,
        "fit": {
            "fixed_per_step_s": fixed,
            "per_event_s": per_event,
            "max_abs_residual_s": float(np.abs(residual).max()),
            "rms_residual_s": float(np.sqrt(np.mean(residual**2))),
        },
        "target_real_time_factor": args.target,
        "events_per_step_at_target": events_at_target,
        "events_per_step_per_hz": events_per_hz,
        "mean_rate_at_target_hz": rate_at_target,
    }
    table = []
    for rate in args.rates:
        for gain in args.gains:
            group = [r for r in runs if r["rate_hz"] == rate and r["gain"] == gain]
            t = np.mean([r["loop_s"] for r in group]) / steps
            e = np.mean([r["events_per_step"] for r in group])
            hz = {pop: np.mean([r["spikes"][pop] for r in group]) / (sizes[pop] * steps * dt) for pop in ("inp", "h1", "h2")}
            table.append([f"{rate:g}", f"{gain:g}", f"{hz['h1']:.1f} / {hz['h2']:.1f}", f"{e:.0f}", fmt(t), f"{dt / t:.0f}x", fmt(fixed + per_event * e)])
    notes = [
        f"network: the benchmark network (140 Poisson inputs, 256 x 256 recurrent SE-adLIF, 20 leaky integrators, all-to-all, delay 0, dt = {dt * 1e3:g} ms, {steps} steps), compiled once; weights drawn from the config's distributions, the input weights times the gain; {args.samples} rasters per rate, each run {args.reps} times, interleaved (the fastest counts); rows: means over the rasters",
        "loop: Brian2's timing of the simulation loop in the binary (std::clock, CPU time; -O3 -fno-fast-math -ffp-contract=off, no OpenMP)",
        f"fit over all {len(runs)} runs, loop per step = fixed + per event x events per step: fixed {fmt(fixed)}, per event {per_event * 1e9:.2f} ns; residuals rms {fmt(results['fit']['rms_residual_s'])}, max {fmt(results['fit']['max_abs_residual_s'])}",
        f"{args.target:g}x real time ({fmt(budget)} per step) leaves {fmt(budget - fixed)} for events: at most {events_at_target:.0f} events per step; the benchmark network has {events_per_hz:.0f} events per step per Hz of mean rate, so {args.target:g}x needs a mean rate of at most {rate_at_target:.1f} Hz",
    ]
    header = ["input rate (Hz)", "input gain", "h1 / h2 rate (Hz)", "events per step", "loop per step", "real-time factor", "fit"]
    save(args.name, info, vars(args), results, table, header, notes)


if __name__ == "__main__":
    main()
