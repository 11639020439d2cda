"""The demo network at finer time steps: convergence to its continuous-time limit
==================================================================================

The network is trained at dt = 1 ms (`bioadapt demo`'s configuration, or
`--params` of such a run) and put on finer grids with `bioadapt.at_dt`: one
step of input held in `I` (and the spike carrier `z` of the adaptation) keeps
its charge; with `timing="trained"` the one step of latency of each
projection is kept as a delay and the one spike per step as a refractory
period of 1 ms, with `"declared"` neither (`--timings`); both limits are
continuous-time networks with impulse synapses. For every dt the twin (float64) runs the test
set, each input spike at its time, and the readout is read at the end of every
original 1 ms step; reported per dt:

- test accuracy and loss, and how often the prediction equals that of the
  trained network (dt = 1 ms) and that of the finest run;
- readout error: RMS of the readout against the finest run;
- hidden-layer spike trains against the finest run and against the grid-free
  reference (`bioadapt.reference`, hidden layer only: the readout `li` is a
  discrete-time program, which the reference does not run): matched spikes
  within 2 ms, mean timing error of the matched ones, van Rossum distance
  (tau 5 ms); grid spikes are placed at the end of their step;
- observed orders: slopes of log(error) against log(dt).

Brian2 cpp_standalone runs the test set at `--brian-dt` (compiled once) and
its spikes are compared with the twin's (float64, Brian2's synaptic order, the
C library's functions): identical spike trains are expected::

    python examples/dt_convergence.py --out examples/results/dt_convergence                  # trains the demo (~1 min), ~15 min in all
    python examples/dt_convergence.py --params RUN/params.json --out DIR                      # a trained demo run

Results
-------

This page shows the committed results of that run (``examples/results/dt_convergence/``); the
documentation does not rerun it. RUN came from ``bioadapt train bioadapt/demo/bsd.toml --out RUN``.

.. include:: ../../../examples/results/dt_convergence/results.md
   :parser: myst_parser.sphinx_

.. image:: ../../../examples/results/dt_convergence/convergence.png
   :alt: accuracy, readout error, spike timing error and hidden-layer rate against dt, for both timings

The hidden layer's mean rate (``hidden_spikes`` in ``results.json`` over
600 samples of 0.2 s and 64 neurons) at 1, 0.5, 0.25, 0.1 and 0.05 ms:
157, 189, 213, 233, 241 Hz with ``timing="trained"``; 157, 351, 785, 1997,
3932 Hz with ``"declared"``.

The network converges to its continuous-time limit, but slowly: against the
finest run the readout error falls with an observed order of 0.53 and the
spike timing error with 0.27; against the reference the spike count
approaches the reference's (13279 of 13397 at 0.05 ms) while the timing
error falls with order 0.15, as
in a recurrent network at 150 to 250 Hz in which small timing changes grow.
And the limit is not the trained network: at dt0 the reset discards the
charge a whole step brings above threshold, so the network trained to rely on
its grid; with finer steps the hidden layer fires more and the accuracy
falls. Keeping the one spike per step and the step of latency
(``timing="trained"``) keeps most of it; with only the declared delays
(``"declared"``) the limit has zero-delay recurrent excitation without
refractoriness, which fires in cascades. A network meant to work at 0.1 ms is
best trained at 0.1 ms. See :doc:`/guide/time`.
"""

import argparse
import dataclasses
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from bioadapt import BackendError, RoundingWarning, at_dt
from bioadapt.analysis.compare import match_spikes, van_rossum
from bioadapt.backends.torch import Twin
from bioadapt.demo import CONFIG
from bioadapt.network.inputs import with_inputs
from bioadapt.reference import reference_run
from bioadapt.train import load_train_config
from bioadapt.train.data import batches
from bioadapt.train.evaluate import trained_network
from bioadapt.train.losses import predict, score

WINDOW = 2e-3  # spike matching window (s)
TAU_VR = 5e-3  # van Rossum time constant (s)


def hidden_spike_times(spikes: np.ndarray, dt: float) -> list:
    """Per sample, per neuron: spike times at the end of their step, from (steps, batch, neurons)."""
    out = []
    for b in range(spikes.shape[1]):
        steps, neurons = np.nonzero(spikes[:, b] > 0.5)
        times = (steps + 1) * dt
        out.append([times[neurons == n] for n in range(spikes.shape[2])])
    return out


def train_agreement(a: list, b: list) -> dict:
    """Spike trains ``a`` (grid) against ``b`` (finer or reference): matched
    fraction of b's spikes, extra spikes of a, mean |timing error|, van Rossum per neuron."""
    matched = missed = extra = 0
    errors, distances = [], []
    for sample_a, sample_b in zip(a, b):
        for ta, tb in zip(sample_a, sample_b):
            d, m, e = match_spikes(np.sort(tb), np.sort(ta), WINDOW)
            matched += len(d)
            missed += m
            extra += e
            errors.append(np.abs(d))
            distances.append(van_rossum(ta, tb, TAU_VR))
    errors = np.concatenate(errors) if errors else np.zeros(0)
    total = matched + missed
    return {"spikes": int(sum(len(t) for s in a for t in s)), "reference_spikes": int(total), "matched": matched / total if total else float("nan"),
            "extra": int(extra), "timing_error_ms": float(errors.mean() * 1e3) if len(errors) else float("nan"), "van_rossum": float(np.mean(distances))}


def run_twin(spec, x: np.ndarray, k: int, config, synapses="dense", math="numpy", batch=64):
    """Readout at the end of every original step (steps0, n, out) and hidden spikes (steps, n, hid) of samples x (n, steps0, in)."""
    twin = Twin(spec, dtype=torch.float64, synapses=synapses, math=math)
    pop, var = config.readout.population, config.readout.variable
    ys, spikes = [], []
    with torch.no_grad():
        for chunk in batches(np.arange(len(x)), batch, None):
            coarse = x[chunk].transpose(1, 0, 2).astype(np.float64)
            fine = np.zeros((coarse.shape[0] * k,) + coarse.shape[1:])
            fine[::k] = coarse  # each input spike at its time (at_dt: step*k)
            out = twin(inputs={config.task.input_population: torch.as_tensor(fine)}, record={pop: [var]})
            ys.append(out.traces[pop][var][k - 1 :: k].numpy())
            spikes.append(out.spikes["hid"].numpy().astype(np.uint8))
    return np.concatenate(ys, axis=1), np.concatenate(spikes, axis=1)


def order(dts, errors) -> float:
    """Least-squares slope of log(error) against log(dt) (finite, positive errors only)."""
    dts, errors = np.asarray(dts, dtype=float), np.asarray(errors, dtype=float)
    ok = np.isfinite(errors) & (errors > 0)
    return float(np.polyfit(np.log(dts[ok]), np.log(errors[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")


def hidden_only(spec):
    """The input and hidden layer of the demo network (what the reference integrates)."""
    return dataclasses.replace(spec, populations={k: v for k, v in spec.populations.items() if k in ("inp", "hid")},
                               projections=tuple(p for p in spec.projections if p.target == "hid"))


def brian_agreement(spec, x: np.ndarray, k: int, config) -> dict:
    """cpp_standalone (compiled once) against the twin (float64, exact synaptic order, libm) on every sample."""
    from bioadapt.backends.brian.standalone import StandaloneNetwork

    start = time.perf_counter()
    twin_y, twin_spikes = run_twin(spec, x, k, config, synapses="exact", math="libm")
    twin_seconds = time.perf_counter() - start
    pop, var = config.readout.population, config.readout.variable
    net = StandaloneNetwork(spec, record={pop: [var]}, record_spikes=["hid"])
    identical, spikes, readout = 0, 0, 0.0
    start = time.perf_counter()
    try:
        for n in range(len(x)):
            fine = np.zeros((x.shape[1] * k, x.shape[2]))
            fine[::k] = x[n]
            r = net.run(inputs={config.task.input_population: fine})
            steps, neurons = np.nonzero(twin_spikes[:, n] > 0)
            i, step = r.spikes["hid"]
            order_ = np.lexsort((neurons, steps))
            identical += int(np.array_equal(step, steps[order_]) and np.array_equal(i, neurons[order_]))
            spikes += len(i)
            readout = max(readout, float(np.abs(r.traces[pop][var][k - 1 :: k] - twin_y[:, n]).max()))
    finally:
        net.close()
    return {"samples": int(len(x)), "identical_spike_trains": identical, "spikes_compared": int(spikes), "max_readout_difference": readout, "compile_seconds": net.compile_time,
            "brian_seconds": time.perf_counter() - start, "twin_seconds": twin_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dt_convergence")
    parser.add_argument("--params", help="params.json of a trained demo run (default: train the demo into OUT/run)")
    parser.add_argument("--samples", type=int, help="task samples for training (default: the demo's)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the demo's)")
    parser.add_argument("--dts", default="1,0.5,0.25,0.1,0.05", help="time steps in ms, coarsest first; each divides 1 ms")
    parser.add_argument("--timings", default="trained,declared")
    parser.add_argument("--test-samples", type=int, help="test samples (default: the whole test split)")
    parser.add_argument("--spike-samples", type=int, default=100, help="test samples whose hidden spike trains are compared")
    parser.add_argument("--reference-samples", type=int, default=4, help="test samples integrated by the grid-free reference")
    parser.add_argument("--reference-timings", default="trained", help="timings whose limit the reference integrates (the 'declared' limit fires in cascades: slow)")
    parser.add_argument("--brian-dt", type=float, default=0.1, help="ms; 0: no Brian2 run")
    parser.add_argument("--brian-samples", type=int, help="test samples run in Brian2 (default: as --test-samples)")
    parser.add_argument("--report", action="store_true", help="only write results.md and convergence.png again from OUT/results.json")
    args = parser.parse_args()
    if args.report:
        results = json.loads((Path(args.out) / "results.json").read_text())
        (Path(args.out) / "results.md").write_text(report(results))
        figure(results, Path(args.out) / "convergence.png")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", RoundingWarning)
    config = load_train_config(CONFIG)
    if args.samples or args.epochs:
        config = config.with_(epochs=args.epochs or config.train.epochs, options={**config.task.options, "samples": args.samples or config.task.options["samples"]})
    params = args.params
    if params is None:
        from bioadapt.train.trainer import Trainer

        start = time.perf_counter()
        params = Trainer(config, out / "run", progress=False).fit().params_path
        print(f"trained the demo network in {time.perf_counter() - start:.0f} s: {params}")
    spec, data = trained_network(config, params)
    test = data.subset("test")[: args.test_samples]
    x, target = data.x[test], data.y[test]
    dts = [float(v) * 1e-3 for v in args.dts.split(",")]
    factors = [int(round(spec.dt / dt)) for dt in dts]
    if any(abs(k * dt - spec.dt) > 1e-12 for k, dt in zip(factors, dts)):
        raise SystemExit(f"--dts: every dt must divide {spec.dt * 1e3:g} ms")
    spiking = min(args.spike_samples, len(test))
    results = {"network": str(CONFIG), "params": str(params), "test_samples": int(len(test)), "spike_samples": spiking, "reference_samples": min(args.reference_samples, spiking),
               "window_ms": WINDOW * 1e3, "van_rossum_tau_ms": TAU_VR * 1e3, "duration_s": spec.duration, "hidden_size": spec.populations["hid"].size, "timings": {}}
    for timing in args.timings.split(","):
        runs = {}
        for dt, k in zip(dts, factors):
            start = time.perf_counter()
            grid = at_dt(spec, dt, timing=timing)
            y, s = run_twin(grid, x, k, config)
            runs[dt] = {"y": y, "spikes": hidden_spike_times(s[:, :spiking], dt), "seconds": time.perf_counter() - start, "steps": grid.n_steps, "hidden_spikes": int(s.sum())}
            print(f"timing {timing}: dt = {dt * 1e3:g} ms, {len(test)} samples in {runs[dt]['seconds']:.1f} s")
        finest = dts[-1]
        reference = []
        for n in range(results["reference_samples"] if timing in args.reference_timings.split(",") else 0):
            start = time.perf_counter()
            steps, channels = np.nonzero(x[n])
            sample = with_inputs(hidden_only(spec), {config.task.input_population: {"i": channels, "step": steps}})
            try:
                ref = reference_run(sample, timing=timing)
            except BackendError as exc:  # e.g. zero-delay excitation firing again and again at one instant
                results.setdefault("reference_failures", {})[timing] = str(exc)
                print(f"timing {timing}: reference, sample {n}: {exc}")
                reference = []
                break
            i, t = ref.spike_times["hid"]
            reference.append([t[i == m] for m in range(spec.populations["hid"].size)])
            print(f"timing {timing}: reference, sample {n}: {len(t)} hidden spikes in {time.perf_counter() - start:.1f} s")
        trained_prediction = predict(config.readout.loss, runs[dts[0]]["y"], config.readout.ignore_first)
        finest_prediction = predict(config.readout.loss, runs[finest]["y"], config.readout.ignore_first)
        rows = []
        for dt in dts:
            r = runs[dt]
            metrics = score(config.readout.loss, r["y"], target, config.readout.ignore_first)
            prediction = predict(config.readout.loss, r["y"], config.readout.ignore_first)
            row = {"dt_ms": dt * 1e3, "steps": r["steps"], "seconds": r["seconds"], "hidden_spikes": r["hidden_spikes"], **metrics,
                   "same_prediction_as_1ms": float(np.mean(prediction == trained_prediction)), "same_prediction_as_finest": float(np.mean(prediction == finest_prediction)),
                   "readout_rms_vs_finest": float(np.sqrt(np.mean((r["y"] - runs[finest]["y"]) ** 2))), "readout_max_vs_finest": float(np.abs(r["y"] - runs[finest]["y"]).max())}
            row.update({f"{key}_vs_finest": value for key, value in train_agreement(r["spikes"], runs[finest]["spikes"]).items()})
            if reference:
                row.update({f"{key}_vs_reference": value for key, value in train_agreement(r["spikes"][: len(reference)], reference).items()})
            rows.append(row)
        coarse = [r for r in rows if r["dt_ms"] != finest * 1e3]
        orders = {
            "readout_rms_vs_finest": order([r["dt_ms"] for r in coarse], [r["readout_rms_vs_finest"] for r in coarse]),
            "timing_error_vs_finest": order([r["dt_ms"] for r in coarse], [r["timing_error_ms_vs_finest"] for r in coarse]),
            "van_rossum_vs_finest": order([r["dt_ms"] for r in coarse], [r["van_rossum_vs_finest"] for r in coarse]),
        }
        if reference:
            orders["timing_error_vs_reference"] = order([r["dt_ms"] for r in rows], [r["timing_error_ms_vs_reference"] for r in rows])
            orders["van_rossum_vs_reference"] = order([r["dt_ms"] for r in rows], [r["van_rossum_vs_reference"] for r in rows])
        results["timings"][timing] = {"rows": rows, "orders": orders}
        (out / "results.json").write_text(json.dumps(results, indent=1))  # what is done so far
    if args.brian_dt > 0:
        k = int(round(spec.dt / (args.brian_dt * 1e-3)))
        count = min(args.brian_samples or len(test), len(test))
        timing = args.timings.split(",")[0]
        results["brian"] = {"dt_ms": args.brian_dt, "timing": timing, **brian_agreement(at_dt(spec, args.brian_dt * 1e-3, timing=timing), x[:count], k, config)}
        b = results["brian"]
        print(f"Brian2 cpp_standalone at dt = {args.brian_dt:g} ms: {b['identical_spike_trains']} of {b['samples']} samples with identical spike trains ({b['spikes_compared']} hidden spikes compared)")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(report(results))
    figure(results, out / "convergence.png")
    print(report(results))


def report(results: dict) -> str:
    lines = ["# The trained demo network at finer time steps\n",
             f"`python examples/dt_convergence.py --params RUN/params.json --out DIR` ({results['test_samples']} test samples; spike trains of the hidden layer on {results['spike_samples']}, "
             f"the grid-free reference on {results['reference_samples']}; matching window {results['window_ms']:g} ms, van Rossum tau {results['van_rossum_tau_ms']:g} ms). "
             f"Parameters: {results['params']}.\n"]
    for timing, entry in results["timings"].items():
        lines.append(f"\n## timing = \"{timing}\"\n")
        lines.append("| dt (ms) | accuracy | loss | same prediction as 1 ms | readout RMS vs finest | hidden spikes matched vs finest | timing error vs finest (ms) | van Rossum vs finest | matched vs reference | timing error vs reference (ms) | van Rossum vs reference | twin s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in entry["rows"]:
            ref = [f"{r['matched_vs_reference']:.4f}", f"{r['timing_error_ms_vs_reference']:.4f}", f"{r['van_rossum_vs_reference']:.4f}"] if "matched_vs_reference" in r else ["not run"] * 3
            lines.append(f"| {r['dt_ms']:g} | {r['accuracy']:.4f} | {r['loss']:.4f} | {r['same_prediction_as_1ms']:.4f} | {r['readout_rms_vs_finest']:.3g} | {r['matched_vs_finest']:.4f} | "
                         f"{r['timing_error_ms_vs_finest']:.4f} | {r['van_rossum_vs_finest']:.4f} | {' | '.join(ref)} | {r['seconds']:.1f} |")
        lines.append("\nObserved orders (slope of log error against log dt): " + ", ".join(f"{k} {v:.2f}" for k, v in entry["orders"].items()) + ".")
        if timing in results.get("reference_failures", {}):
            lines.append(f"\nThe reference could not integrate this limit: {results['reference_failures'][timing]}")
    if "brian" in results:
        b = results["brian"]
        lines.append(f"\n## Brian2 against the twin at dt = {b['dt_ms']:g} ms (timing \"{b['timing']}\")\n")
        lines.append(f"cpp_standalone (compiled once, {b['compile_seconds']:.1f} s) and the twin (float64, Brian2's synaptic order, the C library's functions): "
                     f"{b['identical_spike_trains']} of {b['samples']} test samples with identical hidden spike trains, {b['spikes_compared']} spikes compared; "
                     f"largest readout difference {b['max_readout_difference']:.3g}.")
    if results.get("note"):
        lines.append(f"\n{results['note']}")
    return "\n".join(lines) + "\n"


def figure(results: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4), constrained_layout=True)
    for index, (timing, entry) in enumerate(results["timings"].items()):
        color = f"C{index}"
        rows = entry["rows"]
        dts = [r["dt_ms"] for r in rows]
        axes[0].plot(dts, [r["accuracy"] for r in rows], "o-", color=color, label=f"timing {timing}")
        duration = results.get("duration_s", 0.2)
        axes[1].plot(dts, [r["hidden_spikes"] / (results["test_samples"] * results.get("hidden_size", 64) * duration) for r in rows], "o-", color=color, label=f"timing {timing}")
        coarse = rows[:-1]
        axes[2].loglog([r["dt_ms"] for r in coarse], [r["readout_rms_vs_finest"] for r in coarse], "o-", color=color, label=f"vs finest ({timing})")
        axes[3].loglog([r["dt_ms"] for r in coarse], [r["timing_error_ms_vs_finest"] for r in coarse], "o-", color=color, label=f"vs finest ({timing})")
        if "timing_error_ms_vs_reference" in rows[0]:
            axes[3].loglog(dts, [r["timing_error_ms_vs_reference"] for r in rows], "s--", color=color, label=f"vs reference ({timing})")
    reference = np.array([1.0, 0.05])
    for ax in axes[2:]:
        ax.loglog(reference, reference / reference[0] * ax.get_lines()[0].get_ydata()[0], ":", color="gray", label="first order")
    for ax in axes[:2]:
        ax.set_xscale("log")
    axes[0].set_ylabel("test accuracy")
    axes[1].set_ylabel("hidden layer mean rate (Hz)")
    axes[2].set_ylabel("readout RMS error")
    axes[3].set_ylabel("hidden spike timing error (ms)")
    for ax in axes:
        ax.set_xlabel("dt (ms)")
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
