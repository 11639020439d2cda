"""Command line: argument parsing and library calls only.

    bioadapt simulate NET.toml [--backend numpy|cpp_standalone|torch] [--out OUT.npz] [--record POP.VAR ...]
    bioadapt models [NAME]
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .errors import BioadaptError

__all__ = ["main"]


def _parse_record(items: list[str], spec) -> dict:
    record: dict[str, list[str]] = {}
    neuron_pops = [p for p in spec.populations.values() if not p.is_input]
    for item in items:
        if "." in item:
            pop, var = item.split(".", 1)
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


def _simulate(args) -> int:
    from .network import load_network
    from .simulate import simulate

    spec = load_network(args.network)
    record = _parse_record(args.record, spec)
    result = simulate(
        spec,
        backend=args.backend,
        record=record,
        dtype=args.dtype,
        device=args.device,
        fast_math=args.fast_math,
        directory=args.directory,
        math=args.math,
    )
    print(f"{spec.source}: {len(spec.populations)} populations, {len(spec.projections)} projections, {sum(p.size for p in spec.projections)} synapses")
    print(result.summary())
    if args.out:
        path = result.save(args.out)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bioadapt", description="Brian2 models with a spike-exact PyTorch twin.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="simulate a network configuration")
    sim.add_argument("network", help="network configuration (.toml)")
    sim.add_argument("--backend", default="numpy", choices=["numpy", "cpp_standalone", "torch"])
    sim.add_argument("--out", help="write spikes (P.i, P.step) and traces (P.VAR) to this .npz file")
    sim.add_argument("--record", action="append", default=[], metavar="[POP.]VAR", help="record a variable at the end of every step (repeatable)")
    sim.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="torch backend: floating-point type")
    sim.add_argument("--device", default="cpu", help="torch backend: cpu or cuda")
    sim.add_argument("--math", default="numpy", choices=["numpy", "libm"], help="torch backend: reproduce numpy's or the C library's elementary functions")
    sim.add_argument("--fast-math", action="store_true", help="cpp_standalone: compile with fast math (faster, not bit-faithful)")
    sim.add_argument("--directory", help="cpp_standalone: keep the generated project in this folder")
    sim.set_defaults(func=_simulate)

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
