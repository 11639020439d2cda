"""Command line: argument parsing and library calls only.

    bioadapt simulate NET.toml [--backend numpy|cpp_standalone|cuda_standalone|torch] [--out OUT.npz|DIR] [--record POP.VAR ...]
                     [--params RUN/params.json] [--dt 0.1ms] [--duration 600s] [--input POP=poisson:20Hz|POP=FILE.npz ...]
                     [--record-every 10ms] [--chunk 1s] [--neurons POP=0:8 ...]
    bioadapt compare NET.toml [--schemes ...] [--dt ...] [--out DIR]
    bioadapt train TRAIN.toml --out RUN/ [--epochs N] [--max-steps N] [--restart] [--nproc N]
    bioadapt evaluate TRAIN.toml --params RUN/params.json [--backend cpp_standalone|numpy] [--workers N | --scheduler ADDRESS]
    bioadapt sweep SWEEP.toml --out DIR [--scheduler ADDRESS] [--workers N]
    bioadapt demo [--out DIR]
    bioadapt models [NAME]
    bioadapt export-nir NET.toml [--params RUN/params.json] [--convention bioadapt|snntorch|norse] --out net.nir
    bioadapt import-nir net.nir --out DIR [--convention bioadapt|snntorch|norse] [--dt 0.1ms] [--steps N]
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .backends.registry import BACKENDS
from .errors import BioadaptError

__all__ = ["main"]


def _parse_record(items: list[str], spec) -> dict:
    record: dict[str, list[str]] = {}
    neuron_pops = [p for p in spec.populations.values() if not p.is_input]
    for item in items:
        if "." in item:
            pop, var = item.split(".", 1)
            proj = next((p for p in spec.projections if p.name == pop), None)
            if proj is not None:  # a synaptic variable (checked against the built synapses)
                record.setdefault(pop, []).append(var)
                continue
            if pop not in spec.populations or spec.populations[pop].is_input:
                raise BioadaptError(f"--record {item}: '{pop}' is not a neuron population ({', '.join(p.name for p in neuron_pops)}).")
            if var not in spec.populations[pop].model.variables:
                raise BioadaptError(f"--record {item}: '{var}' is not a variable of model '{spec.populations[pop].model.name}' ({', '.join(spec.populations[pop].model.variables)}).")
            record.setdefault(pop, []).append(var)
            continue
        hits = [p.name for p in neuron_pops if item in p.model.variables]
        if not hits:
            raise BioadaptError(f"--record {item}: no population has a variable '{item}'; use POP.VAR.")
        for pop in hits:
            record.setdefault(pop, []).append(item)
    return record


def _parse_inputs(items: list[str]) -> dict:
    """``--input POP=poisson:RATE`` / ``--input POP=FILE.npz`` -> ``{POP: value}``."""
    inputs = {}
    for item in items:
        pop, sep, value = item.partition("=")
        if not sep or not pop.strip() or not value.strip():
            raise BioadaptError(f"--input {item}: expected POP=poisson:RATE (e.g. inp=poisson:20Hz) or POP=FILE.npz.")
        if pop.strip() in inputs:
            raise BioadaptError(f"--input {item}: population '{pop.strip()}' is given twice.")
        inputs[pop.strip()] = value.strip()
    return inputs


def _parse_neurons(items: list[str]) -> dict:
    """``--neurons POP=0,3,5`` or ``POP=0:8`` -> ``{POP: [indices]}``."""
    neurons = {}
    for item in items:
        pop, sep, text = item.partition("=")
        try:
            if not sep:
                raise ValueError
            if ":" in text:
                lo, hi = text.split(":", 1)
                indices = list(range(int(lo), int(hi)))
            else:
                indices = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise BioadaptError(f"--neurons {item}: expected POP=0,3,5 or POP=0:8 (neurons 0 to 7).") from None
        neurons.setdefault(pop.strip(), []).extend(indices)
    return neurons


def _simulate(args) -> int:
    from .network import load_network
    from .network.retime import at_dt, with_duration
    from .simulate import simulate

    spec = load_network(args.network)
    if args.params:
        from .train.params import apply_params, load_params

        spec = apply_params(spec, load_params(args.params))
    if args.duration:
        spec = with_duration(spec, args.duration)  # at the dt the values were written for
    if args.dt:
        spec = at_dt(spec, args.dt, timing=args.timing)
    inputs = _parse_inputs(args.input)
    record = _parse_record(args.record, spec)
    long = args.out is not None and not args.out.endswith(".npz")
    if not long and (args.chunk or args.neurons):
        raise BioadaptError("--chunk and --neurons are options of long runs: give --out a folder (not a .npz file).")
    print(f"{spec.source}: {len(spec.populations)} populations, {len(spec.projections)} projections, {sum(p.size for p in spec.projections)} synapses; "
          f"{spec.n_steps} steps of {spec.dt * 1e3:g} ms ({spec.duration:g} s)")
    if long:
        from .long_run import long_run

        if args.backend == "cuda_standalone" or args.device != "cpu" or args.compute_capability:
            raise BioadaptError("long runs (--out DIR) run on cpp_standalone, numpy or torch on the CPU.")
        info = long_run(spec, args.out, backend=args.backend, record=record, neurons=_parse_neurons(args.neurons), record_every=args.record_every,
                        chunk=args.chunk or "1*second", inputs=inputs, directory=args.directory, fast_math=args.fast_math, math=args.math, dtype=args.dtype)
        peak = info["peak_memory_bytes"]
        memory = f", peak memory {peak / 2**20:.1f} MiB ({info['peak_memory_of']})" if peak else ""
        print(f"backend {info['backend']}: {info['n_steps']} steps in {info['loop_seconds']:.2f} s, real-time factor {info['real_time_factor']:.3g}{memory}")
        for name, count in info["spikes"].items():
            print(f"  {name:<12s} {count:8d} spikes")
        print(f"wrote {args.out}/ (run.json, POP.spikes, POP.VAR)")
        return 0
    result = simulate(
        spec,
        backend=args.backend,
        record=record,
        dtype=args.dtype,
        device=args.device,
        fast_math=args.fast_math,
        directory=args.directory,
        math=args.math,
        compute_capability=args.compute_capability,
        inputs=inputs,
        record_every=args.record_every,
    )
    print(f"{spec.source}: {len(spec.populations)} populations, {len(spec.projections)} projections, {sum(p.size for p in spec.projections)} synapses")
    print(spec.schemes_text())
    print(result.summary())
    if args.out:
        path = result.save(args.out)
        print(f"wrote {path}")
    return 0


def _parse_dts(text: str) -> list[float]:
    from .quantities import as_seconds

    return [as_seconds(item.strip(), f"--dt {item.strip()}") for item in text.split(",")]


def _compare(args) -> int:
    from .analysis.compare import compare, write_report
    from .network import load_network

    spec = load_network(args.network)
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    dts = _parse_dts(args.dt) if args.dt else [spec.dt]
    rows = compare(spec, schemes, dts, population=args.population, variable=args.var, backend=args.backend, window=args.window * 1e-3, timing=args.timing)
    header = f"{'scheme':18s} {'dt ms':>7s} {'ref':>5s} {'spk':>5s} {'match':>5s} {'miss':>5s} {'extra':>5s} {'|dt| ms':>8s} {'vR':>6s} {'trace rms':>9s} {'s/s':>7s}"
    print(header)
    for r in rows:
        print(f"{r.scheme:18s} {r.dt_ms:7.3g} {r.reference_spikes:5d} {r.spikes:5d} {r.matched:5d} {r.missed:5d} {r.extra:5d} {r.timing_error_mean_ms:8.4f} {r.van_rossum:6.3f} {r.trace_rms:9.2e} {r.seconds_per_simulated_second:7.3f}")
    if args.out:
        try:
            import matplotlib  # noqa: F401

            plot = True
        except ImportError:
            plot = False
        for path in write_report(rows, args.out, plot=plot):
            print(f"wrote {path}")
    return 0


def _models(args) -> int:
    from .models import load_model, shipped_models
    from .models.table import parameter_table

    if args.name:
        print(parameter_table(load_model(args.name)))
    else:
        for name in shipped_models():
            model = load_model(name)
            first = model.description.strip().splitlines()[0] if model.description.strip() else ""
            print(f"{name:<8s} {first}")
    return 0


def _threads(args):
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _train(args) -> int:
    from .train import load_train_config
    from .train.trainer import train_file, train_parallel

    _threads(args)
    load_train_config(args.config)  # one error before any process starts
    kwargs = dict(epochs=args.epochs, max_steps=args.max_steps, resume=not args.restart, progress=not args.quiet, timeout=args.timeout)
    if args.nproc is not None and args.nproc < 1:
        raise BioadaptError(f"--nproc must be a positive integer, got {args.nproc}.")
    if args.nproc and args.nproc > 1:
        def started(pids):
            if not args.quiet:
                print(f"started {len(pids)} training processes (gloo/NCCL ranks 0-{len(pids) - 1}, pids {' '.join(map(str, pids))})", file=sys.stderr, flush=True)

        summary = train_parallel(args.config, args.out, args.nproc, threads=args.threads, on_start=started, **kwargs)
    else:
        summary = train_file(args.config, args.out, **kwargs)
        if summary["rank"] != 0:
            return 0  # a rank other than 0 under torchrun: rank 0 reports
    if not summary["finished"]:
        print(f"stopped after {args.max_steps} steps at step {summary['step']}; checkpoint {summary['checkpoint']} (run again to continue)")
        return 0
    last = summary["last"]
    metric = "valid_accuracy" if "valid_accuracy" in last else "valid_nmse"
    print(f"trained {last['epoch']} epochs ({last['step']} steps): train loss {last['train_loss']:.4f}, {metric} {last.get(metric, float('nan')):.4f}")
    print(f"wrote {summary['params']}, {args.out}/metrics.csv, {args.out}/learning_curve.png")
    return 0


def _print_evaluation(r: dict):
    metric = "accuracy" if "accuracy" in r["twin"] else "nmse"
    print(f"{r['split']} set, {r['samples']} samples")
    print(f"  twin (float64)        {metric} {r['twin'][metric]:.4f}   loss {r['twin']['loss']:.4f}")
    print(f"  Brian2 {r['backend']:<15s} {metric} {r['brian'][metric]:.4f}   loss {r['brian']['loss']:.4f}")
    if "prediction_agreement" in r:
        print(f"  same prediction       {r['prediction_agreement']:.4f} of the samples")
    print(f"  identical spike trains {r['identical_spike_trains']:.4f} of the samples (spikes: twin {r['spikes_twin']}, Brian2 {r['spikes_brian']}); max |readout difference| {r['max_readout_difference']:.3g}")


def _evaluate(args) -> int:
    from .train import evaluate, load_train_config

    _threads(args)
    config = load_train_config(args.config)
    if args.workers is not None and args.workers < 1:
        raise BioadaptError(f"--workers must be a positive integer, got {args.workers}.")
    result = evaluate(config, args.params, backend=args.backend, split=args.split, max_samples=args.max_samples, out=args.out, directory=args.directory, workers=args.workers, scheduler=args.scheduler)
    _print_evaluation(result)
    return 0


def _sweep(args) -> int:
    from .sweep import load_sweep, run_sweep

    if args.workers is not None and args.workers < 1:
        raise BioadaptError(f"--workers must be a positive integer, got {args.workers}.")
    sweep = load_sweep(args.sweep)
    result = run_sweep(sweep, args.out, scheduler=args.scheduler, workers=args.workers, progress=not args.quiet)
    done = len(result.rows) - len(result.failed)
    print(f"{done} of {len(result.rows)} points done, {len(result.failed)} failed ({result.seconds:.0f} s)")
    for row in result.failed:
        print(f"  failed: {row['point']}: {row['error']}")
    print("wrote " + ", ".join(str(f) for f in result.files))
    return 1 if result.failed else 0


def _demo(args) -> int:
    from .demo import CONFIG
    from .train import load_train_config
    from .train.pipeline import train_and_evaluate

    _threads(args)
    config = load_train_config(args.config or CONFIG)
    print(f"bioadapt demo: {config.source}; run folder {args.out}")
    result = train_and_evaluate(config, args.out, backend=args.backend, epochs=args.epochs, samples=args.samples)
    last = result["history"][-1]
    print(f"trained {last['epoch']} epochs ({last['step']} steps) in {result['seconds']['train']:.0f} s: train loss {last['train_loss']:.4f}, valid accuracy {last.get('valid_accuracy', float('nan')):.4f}")
    _print_evaluation(result["evaluation"])
    print(f"report: {result['report']}")
    return 0


def _export_nir(args) -> int:
    from .interop.nir import population_report, to_nir, write_nir
    from .network import load_network

    spec = load_network(args.network)
    if args.params:
        from .train.params import apply_params, load_params

        spec = apply_params(spec, load_params(args.params))
    graph = to_nir(spec, convention=args.convention, metadata=not args.no_metadata)
    path = write_nir(graph, args.out)
    edges = sum(1 for n in graph.nodes.values() if type(n).__name__ in ("Linear", "Affine"))
    print(f"{spec.source}: {len(graph.nodes)} NIR nodes ({edges} Linear/Affine), convention '{args.convention}'")
    for name, kind, exact, issues in population_report(graph):
        print(f"  {name:<16s} {kind:<8s} {'exact' if exact else 'approximate: ' + '; '.join(issues)}")
    print(f"wrote {path}" + ("" if args.no_metadata else " (the bioadapt network in its metadata: import-nir reads it back exactly)"))
    return 0


def _import_nir(args) -> int:
    from .interop.nir import read_nir, write_network

    dt = _parse_dts(args.dt)[0] if args.dt else None
    imported = read_nir(args.graph, dt=dt, convention=args.convention, n_steps=args.steps, use_metadata=not args.no_metadata)
    written = write_network(imported, args.out)
    spec = imported.spec
    how = "from the bioadapt metadata" if imported.convention == "metadata" else f"convention '{imported.convention}'"
    print(f"{args.graph}: {len(spec.populations)} populations, {len(spec.projections)} projections, dt = {spec.dt:g} s ({how})")
    if any(imported.latency.values()):
        print("  latency (steps) against the framework: " + ", ".join(f"{k} {v}" for k, v in imported.latency.items()))
    for path in written["models"] + [written["network"], written["params"]] + written["synapses"]:
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioadapt", description="Brian2 models with a spike-exact PyTorch twin.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="simulate a network configuration")
    sim.add_argument("network", help="network configuration (.toml)")
    sim.add_argument("--backend", default="numpy", choices=BACKENDS.names)
    sim.add_argument("--out", help="OUT.npz: write spikes (P.i, P.step) and traces (P.VAR) to this file; DIR: a long run, written to this folder chunk by chunk (P.spikes, P.VAR, run.json)")
    sim.add_argument("--record", action="append", default=[], metavar="[POP.]VAR", help="record a variable at the end of every step (repeatable); PROJECTION.VAR records a synaptic variable")
    sim.add_argument("--params", help="trained values (RUN/params.json of bioadapt train) loaded into the network")
    sim.add_argument("--dt", help="time step, e.g. 0.1ms: the network on this grid with the same physics (bioadapt.at_dt)")
    sim.add_argument("--duration", help="run length, e.g. 600s or 200ms (Poisson populations drawn again for it)")
    sim.add_argument("--timing", default="trained", choices=["trained", "declared"], help="with --dt: keep the one-step latency and one spike per step of the network's dt (default), or only the declared delays and refractory periods")
    sim.add_argument("--input", action="append", default=[], metavar="POP=SPIKES", help="input spikes of an input population: POP=poisson:20Hz or POP=FILE.npz (arrays i and t in seconds, or i and step) (repeatable)")
    sim.add_argument("--record-every", help="recording interval, e.g. 10ms: a whole number of steps (default: every step)")
    sim.add_argument("--chunk", help="long runs: biological time simulated between two writes, e.g. 1s (default)")
    sim.add_argument("--neurons", action="append", default=[], metavar="POP=LIST", help="long runs: recorded neurons, POP=0,3,5 or POP=0:8 (default: all) (repeatable)")
    sim.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="torch backend: floating-point type")
    sim.add_argument("--device", default="cpu", help="torch backend: cpu or cuda")
    sim.add_argument("--math", default="numpy", choices=["numpy", "libm"], help="torch backend: reproduce numpy's or the C library's elementary functions")
    sim.add_argument("--fast-math", action="store_true", help="cpp_standalone, cuda_standalone: compile with fast math (faster, not bit-faithful)")
    sim.add_argument("--directory", help="cpp_standalone, cuda_standalone: keep the generated project in this folder")
    sim.add_argument("--compute-capability", type=float, help="cuda_standalone: GPU architecture to compile for, e.g. 9.0 (default: the GPU's)")
    sim.set_defaults(func=_simulate)

    comp = sub.add_parser("compare", help="compare schemes and time steps against the grid-independent reference")
    comp.add_argument("network", help="network configuration (.toml) with one neuron population of an ODE model")
    comp.add_argument("--schemes", default="euler,exponential_euler,symplectic_euler,exact,rk4")
    comp.add_argument("--dt", help="comma-separated time steps, e.g. 1ms,0.5ms,0.1ms (default: the network's)")
    comp.add_argument("--population", help="neuron population to compare (default: the only one)")
    comp.add_argument("--var", help="state variable for the trace error (default: the thresholded one)")
    comp.add_argument("--backend", default="torch", choices=BACKENDS.where(compares=True).names)
    comp.add_argument("--timing", default="trained", choices=["trained", "declared"], help="one-step latency and one spike per step of the network's dt: kept (default) or only the declared delays and refractory periods")
    comp.add_argument("--window", type=float, default=2.0, help="spike matching window in ms")
    comp.add_argument("--out", help="folder for compare.csv, compare.json and compare.png")
    comp.set_defaults(func=_compare)

    tr = sub.add_parser("train", help="train a network with the twin (resumes a checkpoint in --out)")
    tr.add_argument("config", help="training configuration (.toml)")
    tr.add_argument("--out", required=True, help="run folder: checkpoint.pt, params.json, metrics.csv, learning_curve.png")
    tr.add_argument("--epochs", type=int, help="override the configured number of epochs")
    tr.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (a checkpoint is written)")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    tr.add_argument("--threads", type=int, help="torch CPU threads")
    tr.add_argument("--quiet", action="store_true", help="no progress output")
    tr.add_argument("--nproc", type=int, help="data-parallel training in N local processes (torch.distributed: gloo on CPU, NCCL on CUDA); also runs under torchrun")
    tr.add_argument("--timeout", type=float, default=300.0, help="seconds a collective waits for the other processes before the run stops with an error (default 300)")
    tr.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="run a trained network in Brian2 over the test set and compare it with the twin")
    ev.add_argument("config", help="training configuration (.toml)")
    ev.add_argument("--params", required=True, help="parameter file written by train (params.json)")
    ev.add_argument("--backend", default="cpp_standalone", choices=BACKENDS.where(evaluates=True).names)
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ev.add_argument("--max-samples", type=int, help="evaluate only the first N samples of the split")
    ev.add_argument("--out", help="folder for evaluation_BACKEND.json")
    ev.add_argument("--directory", help="cpp_standalone: keep the generated project in this folder")
    ev.add_argument("--threads", type=int, help="torch CPU threads")
    ev.add_argument("--workers", type=int, help="run the Brian2 samples in N worker processes (a local Dask cluster), each compiling the network once")
    ev.add_argument("--scheduler", help="run the Brian2 samples on the workers of this Dask scheduler")
    ev.set_defaults(func=_evaluate)

    sw = sub.add_parser("sweep", help="train (and evaluate) every point of a sweep file as tasks on dask.distributed")
    sw.add_argument("sweep", help="sweep file (.toml): a base training configuration and the values to sweep")
    sw.add_argument("--out", required=True, help="folder: one run folder per point, results.csv, summary.csv, summary.md, summary.png")
    sw.add_argument("--scheduler", help="address of a running Dask scheduler (default: a local cluster)")
    sw.add_argument("--workers", type=int, help="local cluster: worker processes (default: one per core)")
    sw.add_argument("--quiet", action="store_true", help="no progress output")
    sw.set_defaults(func=_sweep)

    demo = sub.add_parser("demo", help="train a small SE-adLIF network on burst sequence detection, run it in Brian2, write a report")
    demo.add_argument("--out", default="bioadapt-demo", help="run folder (default: ./bioadapt-demo)")
    demo.add_argument("--config", help="another training configuration instead of the demo's")
    demo.add_argument("--backend", default="cpp_standalone", choices=BACKENDS.where(evaluates=True).names)
    demo.add_argument("--epochs", type=int, help="override the number of epochs")
    demo.add_argument("--samples", type=int, help="override the number of task samples")
    demo.add_argument("--threads", type=int, help="torch CPU threads")
    demo.set_defaults(func=_demo)

    conventions = ["bioadapt", "snntorch", "norse"]
    exp = sub.add_parser("export-nir", help="write a network as a NIR graph (.nir)")
    exp.add_argument("network", help="network configuration (.toml)")
    exp.add_argument("--params", help="trained values to export (params.json of a training run)")
    exp.add_argument("--out", required=True, help="the .nir file to write")
    exp.add_argument("--convention", default="bioadapt", choices=conventions, help="discretization the graph is written for (default: bioadapt, continuous time)")
    exp.add_argument("--no-metadata", action="store_true", help="NIR nodes only, without the bioadapt network in the metadata")
    exp.set_defaults(func=_export_nir)

    imp = sub.add_parser("import-nir", help="write model files, a network file and params.json for a NIR graph")
    imp.add_argument("graph", help="NIR file (.nir)")
    imp.add_argument("--out", required=True, help="folder for models/, network.toml, params.json")
    imp.add_argument("--convention", default="bioadapt", choices=conventions, help="how the graph's continuous-time nodes are discretized (default: bioadapt)")
    imp.add_argument("--dt", help="time step, e.g. 0.1ms (default: the convention's, or a bioadapt export's)")
    imp.add_argument("--steps", type=int, help="time steps to run (default: a bioadapt export's, else 100)")
    imp.add_argument("--no-metadata", action="store_true", help="read the NIR nodes even when the graph carries a bioadapt network")
    imp.set_defaults(func=_import_nir)

    models = sub.add_parser("models", help="list shipped models, or show one model's parameters")
    models.add_argument("name", nargs="?", help="model name or path")
    models.set_defaults(func=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BioadaptError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"bioadapt: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a failure inside Brian2, torch or the compiler
        if args.debug:
            traceback.print_exc()
        message = str(exc).strip().splitlines()
        print(f"bioadapt: error: {type(exc).__name__}: {message[-1] if message else ''} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
