"""Ten minutes of biological time: the trained demo network at dt = 0.1 ms, in bounded memory
===========================================================================================

The trained SE-adLIF network of `bioadapt demo` (`--params RUN/params.json`,
e.g. the run `examples/dt_convergence.py` trains) is put on dt = 0.1 ms
(`bioadapt.at_dt`: one-step inputs keep their charge, the trained timing is
kept) and fed
Poisson spikes on its 10 input channels for `--duration` (6 million steps for
600 s). `bioadapt.long_run` simulates it in chunks, writing the spikes and the
recorded neurons (every `--record-every`) to a folder as it goes:
cpp_standalone compiled once (one chunk in a C++ loop), and the twin
(float64, the C library's functions) with its state carried from chunk to
chunk, for `--twin-duration` (the twin steps in Python, about 100x slower);
each also for a tenth of its duration, to show that memory does not grow
with the duration. Reported: the real-time factor (biological time / wall time of the
loop), the peak resident memory of the process that simulated, and whether
the twin's spikes equal cpp_standalone's over the twin's run::

    python examples/long_run.py --params RUN/params.json --out examples/results/dt_convergence/long_run --work /tmp/long_runs

The run folders (spikes and samples, about 130 MB for 600 s) go to `--work`.

Results
-------

This page shows the committed results of that run
(``examples/results/dt_convergence/long_run/``); the documentation does not
rerun it.

.. include:: ../../../examples/results/dt_convergence/long_run/results.md
   :parser: myst_parser.sphinx_

The binary's memory does not grow with the duration (a tenth of the run peaks
within a few MiB of the whole run), and the twin, carrying its state from
chunk to chunk, gives cpp_standalone's spikes and recorded samples exactly.
The command line does the same: ``bioadapt simulate ... --out DIR`` (see
:doc:`/guide/time`).
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def child(args):
    """One long run in this (fresh) process, so that its peak memory is its own."""
    import torch

    from bioadapt import at_dt
    from bioadapt.demo import CONFIG
    from bioadapt.long_run import long_run
    from bioadapt.network.retime import with_duration
    from bioadapt.train import load_train_config
    from bioadapt.train.evaluate import trained_network

    torch.set_num_threads(1)
    config = load_train_config(CONFIG)
    spec, _ = trained_network(config, args.params)
    spec = at_dt(with_duration(spec, args.run_duration), args.dt)
    record = {"hid": ["u", "w"], "out": ["y"]}
    neurons = {"hid": list(range(8)), "out": list(range(20))}
    info = long_run(spec, args.folder, backend=args.backend, record=record, neurons=neurons, record_every=args.record_every, chunk=args.chunk,
                    inputs={"inp": f"poisson:{args.rate}"}, math="libm", progress=True)
    info["process_peak_memory_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    Path(args.folder, "run.json").write_text(json.dumps(info, indent=1))


def run(backend: str, duration: str, folder: Path, args, chunk: str) -> dict:
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", "--backend", backend, "--run-duration", duration, "--folder", str(folder), "--params", args.params,
           "--dt", args.dt, "--rate", args.rate, "--record-every", args.record_every, "--chunk", chunk]
    subprocess.run(cmd, check=True)
    info = json.loads((folder / "run.json").read_text())
    info["wall_seconds_in_all"] = time.perf_counter() - start
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", help="params.json of a trained demo run (required for a run)")
    parser.add_argument("--out", default="long_run", help="folder for results.md and results.json")
    parser.add_argument("--work", help="folder for the runs' spikes and samples (default: OUT/runs)")
    parser.add_argument("--dt", default="0.1ms")
    parser.add_argument("--duration", default="600s", help="cpp_standalone run")
    parser.add_argument("--twin-duration", default="20s", help="twin run (0: none)")
    parser.add_argument("--twin-chunk", default="1s")
    parser.add_argument("--rate", default="20Hz", help="Poisson rate of each input channel")
    parser.add_argument("--record-every", default="10ms")
    parser.add_argument("--chunk", default="10s")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--run-duration", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--report", action="store_true", help="only write results.md again from OUT/results.json")
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.report:
        (Path(args.out) / "results.md").write_text(report(json.loads((Path(args.out) / "results.json").read_text())))
        return None
    if not args.params:
        parser.error("--params is required")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else out / "runs"
    from bioadapt.long_run import load_long_run

    results = {"params": args.params, "dt": args.dt, "rate": args.rate, "record_every": args.record_every, "chunk": args.chunk, "twin_chunk": args.twin_chunk, "runs": {}}
    from bioadapt.quantities import as_seconds

    results["runs"]["cpp_standalone (a tenth)"] = run("cpp_standalone", f"{as_seconds(args.duration, '--duration') / 10!r}*second", work / "cpp_standalone_tenth", args, args.chunk)
    results["runs"]["cpp_standalone"] = run("cpp_standalone", args.duration, work / "cpp_standalone", args, args.chunk)
    if args.twin_duration not in ("0", "0s"):
        tenth = f"{as_seconds(args.twin_duration, '--twin-duration') / 10!r}*second"
        results["runs"]["torch (a tenth)"] = run("torch", tenth, work / "torch_tenth", args, args.twin_chunk)
        results["runs"]["torch"] = run("torch", args.twin_duration, work / "torch", args, args.twin_chunk)
        cpp, twin = load_long_run(work / "cpp_standalone"), load_long_run(work / "torch")
        n = twin.n_steps
        agreement = {}
        for pop in ("inp", "hid"):
            i, step = cpp.spikes[pop]
            agreement[pop] = {"twin_spikes": int(len(twin.spikes[pop][0])), "identical": bool(np.array_equal(twin.spikes[pop][0], i[step < n]) and np.array_equal(twin.spikes[pop][1], step[step < n]))}
        rows = len(twin.traces["hid"]["u"])
        agreement["samples_identical"] = bool(all(np.array_equal(twin.traces[p][v], cpp.traces[p][v][:rows]) for p, vs in (("hid", ("u", "w")), ("out", ("y",))) for v in vs))
        results["twin_vs_cpp_standalone"] = {"steps": n, **agreement}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = report(results)
    (out / "results.md").write_text(text)
    print(text)


def report(results: dict) -> str:
    lines = ["# The trained demo network for minutes of biological time\n",
             f"`python examples/long_run.py --params RUN/params.json --out DIR` (parameters: {results['params']}): dt = {results['dt']}, Poisson input at {results['rate']} "
             f"on each of the 10 input channels, 8 hidden neurons (u, w) and the 20 readouts (y) recorded every {results['record_every']}, chunks of {results['chunk']} "
             f"(cpp_standalone) and {results['twin_chunk']} (twin, float64, the C library's functions). Real-time factor: biological time / wall time of the "
             "simulation loop; peak memory: the largest resident set of the process that simulated.\n",
             "| backend | biological time | steps | loop (s) | real-time factor | peak memory (MiB) | hidden spikes | whole run incl. build (s) |", "|---|---|---|---|---|---|---|---|"]
    for backend, info in results["runs"].items():
        lines.append(f"| {backend} | {info['duration']:g} s | {info['n_steps']} | {info['loop_seconds']:.1f} | {info['real_time_factor']:.3g} | {info['peak_memory_bytes'] / 2**20:.1f} ({info['peak_memory_of']}) | {info['spikes']['hid']} | {info['wall_seconds_in_all']:.0f} |")
    if "twin_vs_cpp_standalone" in results:
        a = results["twin_vs_cpp_standalone"]
        lines.append(f"\nTwin against cpp_standalone over the twin's {a['steps']} steps: hidden spikes identical: {a['hid']['identical']} ({a['hid']['twin_spikes']} spikes), "
                     f"input spikes identical: {a['inp']['identical']} ({a['inp']['twin_spikes']}), recorded samples identical: {a['samples_identical']}.")
    if results.get("note"):
        lines.append(f"\n{results['note']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
