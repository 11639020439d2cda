"""Simulation without gradients of Brian2 users' networks: the twin against Brian2's numpy runtime.

    python benchmarks/user_networks.py [--size 4000 --duration 0.5 --reps 3 --threads 1 --networks cuba,coba,cobahh]

Three networks as a Brian2 user writes them: CUBA (Brian2's example; linear
equations, ``exact``) and COBA (Brette et al. 2007, benchmark 1: conductances
in units of the leak, ``euler``, Brian2's choice for equations that are not
linear), model files in ``benchmarks/models``, no scheme (Brian2's default
method, which bioadapt follows), refractory period 5 ms; and COBAHH (Brian2's
example, benchmark 3: Hodgkin-Huxley neurons, rate functions with
``exprel``, ``exponential_euler`` as the example names it; the port the tests
check, ``tests/brian2_examples/models/cobahh.toml``, refractory period 3 ms).
``--size`` neurons (80 % excitatory) with 80 synapses into each neuron on
average (64 excitatory, 16 inhibitory), as in the 4000-neuron originals
(p = 0.02), dt = 0.1 ms; ``--networks`` picks some of them.

Timed: the whole `bioadapt.simulate` call on each backend (building the
network, running it, reading spikes back), ``--reps`` interleaved repetitions,
CPU time of this process with ``--threads`` torch threads (one by default:
on a shared machine the wall time also counts waiting for a core); the table
gives the fastest. The twin runs in float64 with Brian2's synaptic order
(``synapses="exact"``) and numpy's functions (``math="numpy"``); before
timing, both runs of each network are compared: the spike trains must be
identical.

Then where the time of a step goes, block by block, in microseconds per
step: the numpy runtime's code objects as Brian2 reports them
(``Network.run(profile=True)``), and the twin's blocks (its executors timed
one by one in a forward call without gradients; the remainder of the call is
its loop, the spikes' outputs and the set-up of the call).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import torch

from common import HERE, fmt, machine, save, time_calls

from bioadapt import network_from_dict, simulate

MODELS = HERE / "models"


#: the model of each network: CUBA's and COBA's here, COBAHH's the port of Brian2's example the tests check
MODEL_FILES = {"cuba": MODELS / "cuba.toml", "coba": MODELS / "coba.toml", "cobahh": HERE.parent / "tests" / "brian2_examples" / "models" / "cobahh.toml"}


def network(kind: str, size: int, duration: float, seed: int = 1) -> dict:
    """The CUBA, COBA or COBAHH network of ``size`` neurons for ``duration`` seconds."""
    n_exc = int(0.8 * size)
    p = min(1.0, 80 / size)  # 80 synapses into each neuron on average, as in the originals (4000 neurons, p = 0.02)
    population = {}
    if kind == "cuba":
        values = {"v": "uniform(-60*mV, -50*mV)"}
        weights = ("1.62*mV", "-9*mV")
    elif kind == "coba":
        values = {"v": "uniform(-60*mV, -50*mV)", "ge": "normal(4, 1.5)", "gi": "normal(20, 12)"}
        weights = ("0.6", "6.7")
    else:  # Brian2's examples/COBAHH.py: its initial values, weights and method
        values = {"v": "El + (randn() * 5 - 5)*mV", "ge": "(randn() * 1.5 + 4) * 10.*nS", "gi": "(randn() * 12 + 20) * 10.*nS"}
        weights = ("6*nS", "67*nS")
        population["scheme"] = "exponential_euler"
    return {
        "dt": "0.1*ms",
        "duration": f"{duration}*second",
        "seed": seed,
        "populations": {"P": {"model": str(MODEL_FILES[kind]), "size": size, "values": values, **population}},
        "projections": [
            {"name": "Ce", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"condition": f"i < {n_exc}", "p": p}, "weight": weights[0]},
            {"name": "Ci", "source": "P", "target": "P", "on_pre": "gi_post += weight", "connect": {"condition": f"i >= {n_exc}", "p": p}, "weight": weights[1]},
        ],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--duration", type=float, default=0.5, help="biological time in seconds")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--networks", default="cuba,coba,cobahh", help="comma-separated: cuba, coba, cobahh")
    parser.add_argument("--name", default="user_networks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    results, table = {}, []
    kinds = [kind.strip() for kind in args.networks.split(",")]
    unknown = sorted(set(kinds) - set(MODEL_FILES))
    if unknown:
        parser.error(f"--networks: unknown network {', '.join(unknown)} (known: {', '.join(MODEL_FILES)})")
    for kind in kinds:
        spec = network_from_dict(network(kind, args.size, args.duration), folder=MODELS)
        runs = {"numpy": lambda: simulate(spec, backend="numpy"), "twin": lambda: simulate(spec, backend="torch")}
        first = {name: fn() for name, fn in runs.items()}
        same = first["numpy"].spike_set("P") == first["twin"].spike_set("P")
        spikes = len(first["numpy"].spike_set("P"))
        if not same:
            raise SystemExit(f"{kind}: the twin's spikes differ from the numpy runtime's")
        times = time_calls(runs, reps=args.reps, warmup=0)
        numpy_s, twin_s = times["numpy"]["cpu_min_s"], times["twin"]["cpu_min_s"]
        results[kind] = {"scheme": spec.populations["P"].scheme, "steps": spec.n_steps, "synapses": sum(len(p.i) for p in spec.projections), "spikes": spikes, "identical": same, "times": times}
        table.append([kind.upper(), spec.populations["P"].scheme, args.size, results[kind]["synapses"], spec.n_steps, spikes, fmt(numpy_s), fmt(twin_s), f"{numpy_s / twin_s:.2f}"])
        results[kind]["profile"] = profile(spec)
        if "exprel" in MODEL_FILES[kind].read_text():
            results[kind]["without_messages"] = without_messages(spec, first["numpy"].spike_set("P"), args.reps)
    # the cost of one operator of the neurons' program, on arrays of the population's size
    import timeit

    import numpy as np

    x, y = np.random.default_rng(0).random((2, args.size))
    a, b = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
    per_op = {name: min(timeit.repeat(fn, number=2000, repeat=5)) / 2000 for name, fn in (("numpy", lambda: x * y), ("torch", lambda: a * b))}
    results["multiplication_s"] = per_op
    header = ["network", "scheme", "neurons", "synapses", "steps", "spikes (identical)", "numpy runtime", "twin", "numpy / twin"]
    notes = [
        "CPU time of the whole `simulate` call, fastest of the repetitions; the twin in float64, synapses='exact', math='numpy', without gradients (only synapses a spike reaches run, as in Brian2)",
        f"one multiplication of two arrays of {args.size} float64 values (wall time, fastest of 5 x 2000): numpy {fmt(per_op['numpy'])}, torch {fmt(per_op['torch'])}",
    ]
    for kind in kinds:
        brian, twin = results[kind]["profile"]["numpy runtime"], results[kind]["profile"]["twin"]
        notes.append(f"{kind.upper()}, us per step: numpy runtime " + ", ".join(f"{k} {v:.0f}" for k, v in brian.items()) + "; twin " + ", ".join(f"{k} {v:.0f}" for k, v in twin.items()))
        if "without_messages" in results[kind]:
            quiet = results[kind]["without_messages"]
            notes.append(
                f"{kind.upper()}: Brian2's numpy runtime calls `exprel` through its unit-checking wrapper, which formats the whole result array into an error message on every call, before checking (brian2/core/functions.py, `wrapper_function`); "
                f"with numpy's array printing replaced by an empty string for one run, the numpy runtime takes {fmt(quiet['cpu_min_s'])} (fastest of {args.reps}, spikes identical: {quiet['identical']}): twin {fmt(results[kind]['times']['twin']['cpu_min_s'])}, ratio {quiet['cpu_min_s'] / results[kind]['times']['twin']['cpu_min_s']:.2f}"
            )
    save(args.name, info, {"args": vars(args)}, results, table, header, notes)


def without_messages(spec, spikes: set, reps: int) -> dict:
    """The numpy runtime with numpy's ``str`` of an array made free (``""``):
    what Brian2's `exprel` wrapper spends formatting its error message on every
    call. Nothing numerical changes (the spikes are compared)."""
    import time

    try:
        from numpy._core import arrayprint
    except ImportError:  # numpy 1
        from numpy.core import arrayprint

    implementation = arrayprint._array_str_implementation
    saved = implementation.__code__
    implementation.__code__ = (lambda a, max_line_width=None, precision=None, suppress_small=None, array2string=None: "").__code__
    try:
        times, identical = [], True
        for _ in range(reps):
            start = time.process_time()
            run = simulate(spec, backend="numpy")
            times.append(time.process_time() - start)
            identical = identical and run.spike_set("P") == spikes
    finally:
        implementation.__code__ = saved
    return {"cpu_min_s": min(times), "cpu_s": times, "identical": identical}


def profile(spec) -> dict:
    """Microseconds per step of each block: Brian2's code objects (numpy runtime, ``profile=True``) and the twin's executors."""
    import time

    import brian2

    from bioadapt.backends.brian.build import build_network
    from bioadapt.backends.torch import Twin, execute, twin as twin_module

    brian2.prefs.codegen.target = "numpy"
    net = build_network(spec).network
    net.run(spec.n_steps * spec.dt * brian2.second, profile=True)
    brian = {name: float(seconds) * 1e6 / spec.n_steps for name, seconds in net.profiling_info}
    twin = Twin(spec, dtype=torch.float64, math="numpy")
    spent: dict = {}

    def timed(layout, schedule, mode=execute.TORCH):
        def wrap(run, key):
            def run_timed(step):
                start = time.perf_counter()
                run(step)
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
            return run_timed
        bound = execute.executors(layout, schedule, mode)
        runs = execute.Schedule(wrap(run, block.name) for (_, block, _), run in zip(schedule, bound))
        runs.mode = bound.mode
        return runs

    original, twin_module.executors = twin_module.executors, timed
    try:
        with torch.no_grad():
            start = time.perf_counter()
            twin(spike_events=True)  # as `simulate` runs it
            whole = time.perf_counter() - start
    finally:
        twin_module.executors = original
    blocks = {name: seconds * 1e6 / spec.n_steps for name, seconds in spent.items()}
    blocks["rest of the forward call"] = (whole - sum(spent.values())) * 1e6 / spec.n_steps
    return {"numpy runtime": dict(sorted(brian.items(), key=lambda kv: -kv[1])), "twin": blocks}


if __name__ == "__main__":
    main()
