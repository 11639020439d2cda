"""NIR against snnTorch and Norse: export, import and round trips
================================================================

Run it::

    python examples/nir_frameworks.py [--steps 1000] [--seeds 3] [--cpp] [--out examples/results/nir_frameworks]

For each direction and framework: the spikes compared and how many agree,
and the largest membrane difference. snnTorch and Norse run in float64
(snnTorch's spike function replaced by a Heaviside step that keeps the dtype:
its surrogates return float32 spikes). Weights are multiples of 2**-10
(2**-8 for Norse, whose time constants are powers of 2 so that its float32
``dt/tau`` is exact) unless a row says "float32 weights": then they are
random float32 numbers, summed by BLAS in the frameworks and synapse by
synapse in Brian2. Writes results.md and results.json to --out.

Results
-------

This page shows the committed results of that run
(``examples/results/nir_frameworks/``); the documentation does not rerun it.

.. include:: ../../../examples/results/nir_frameworks/results.md
   :parser: myst_parser.sphinx_

No spike differs in any row, and wherever membranes are compared in float64
they are equal. See :doc:`/guide/nir` for the conventions and what each
export contains.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test networks of every shipped model

warnings.simplefilter("ignore")
logging.disable(logging.WARNING)

import nir  # noqa: E402
import torch  # noqa: E402

from bioadapt import network_from_dict, simulate  # noqa: E402
from bioadapt.interop.nir import from_nir, population_report, read_nir, to_nir  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "interop" / "data"


def heaviside(x):
    return (x > 0).to(x.dtype)


def weights(rng, shape, mean, std, bits):
    w = rng.normal(mean, std, shape)
    return np.round(w * 2**bits) / 2**bits if bits else np.float32(w).astype(np.float64)


def run_snntorch(module, x, float32=False):
    """Spikes and membranes (steps, n) of every Leaky/RLeaky (init_hidden) in ``module``."""
    import snntorch as snn

    layers = {n: m for n, m in module.named_modules() if isinstance(m, (snn.Leaky, snn.RLeaky))}
    record = {n: ([], []) for n in layers}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: record[n][0].append((out[0] if isinstance(out, tuple) else out).clone())) for n, m in layers.items()]
    for m in layers.values():
        if not float32:  # snnTorch's surrogates return float32 spikes; float64 needs a dtype-keeping step
            m.spike_grad = heaviside
        m.reset_mem()
    dtype = torch.float32 if float32 else torch.float64
    with torch.no_grad():
        for t in range(len(x)):
            module(torch.tensor(x[t : t + 1], dtype=dtype))
            for n, m in layers.items():
                record[n][1].append(m.mem.clone())
    for h in hooks:
        h.remove()
    return {n: (torch.cat(s).double().numpy(), torch.cat(v).double().numpy()) for n, (s, v) in record.items()}


def agree(ours, theirs):
    """(spikes in theirs, spikes in ours, positions where they differ)."""
    return int(theirs.sum()), int(ours.sum()), int(np.sum(ours != theirs))


def raster(imported, result, pop, shape):
    i, k = imported.framework_spikes(result, pop)
    out = np.zeros(shape)
    out[k, i] = 1
    return out


def snntorch_to_bioadapt(seed, steps, backends, float32_weights=False, float32_run=False, recurrent=False):
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    rng = np.random.default_rng(seed)
    n_in, n_hid, n_out = 40, 64, 10
    bits = 0 if float32_weights else 10

    def beta(n):
        return torch.tensor(np.float32(rng.uniform(0.55, 0.98, n)).astype(np.float64))

    kw = dict(threshold=torch.ones(n_hid), init_hidden=True, reset_mechanism="zero", reset_delay=False, spike_grad=heaviside)
    fc1 = torch.nn.Linear(n_in, n_hid)
    hidden = snn.RLeaky(beta=beta(n_hid), linear_features=n_hid, **kw) if recurrent else snn.Leaky(beta=beta(n_hid), **kw)
    fc2 = torch.nn.Linear(n_hid, n_out, bias=False)
    out = snn.Leaky(beta=beta(n_out), **dict(kw, threshold=torch.ones(n_out)), output=True)
    net = torch.nn.Sequential(fc1, hidden, fc2, out).double()
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor(weights(rng, (n_hid, n_in), 0.0, 0.3, bits)))
        fc1.bias.copy_(torch.tensor(weights(rng, n_hid, 0.0, 0.05, bits)))
        fc2.weight.copy_(torch.tensor(weights(rng, (n_out, n_hid), 0.05, 0.3, bits)))
        if recurrent:
            hidden.recurrent.weight.copy_(torch.tensor(weights(rng, (n_hid, n_hid), -0.02, 0.2, bits)))
            hidden.recurrent.bias.copy_(torch.tensor(weights(rng, n_hid, 0.0, 0.02, bits)))
    graph = export_to_nir(net, torch.zeros(1, n_in, dtype=torch.float64), ignore_dims=[0])
    x = (rng.random((steps, n_in)) < 0.2).astype(np.float64)
    reference = run_snntorch(net.float() if float32_run else net, x, float32=float32_run)
    imported = read_nir(graph, convention="snntorch", n_steps=steps)
    spec = imported.with_inputs({"input": x})
    layers = {"1": imported.nodes["1.lif" if recurrent else "1"], "3": imported.nodes["3"]}
    rows = {}
    for backend in backends:
        result = simulate(spec, backend=backend, record={p: ["v"] for p in layers.values()})
        counts = np.zeros(3, dtype=int)
        diff = 0.0
        for layer, pop in layers.items():
            spikes, mem = reference[layer]
            counts += agree(raster(imported, result, pop, spikes.shape), spikes)
            diff = max(diff, float(np.abs(imported.framework_trace(result, pop, "v") - mem).max()))
        rows[backend] = (*counts, diff)
    return rows


def euler_network(rng, steps, bits=10):
    model = str(DATA / "euler_lif.toml")
    net = {
        "dt": "0.1*ms",
        "duration": f"{steps}*0.1*ms",
        "populations": {"inp": {"kind": "spikes", "size": 40}, "hid": {"model": model, "size": 64}, "out": {"model": model, "size": 10}},
        "projections": [
            {"name": "w_in", "source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": "all_to_all"},
            {"name": "w_out", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all"},
        ],
    }
    spec = network_from_dict(net)
    pops = dict(spec.populations)
    for name in ("hid", "out"):
        beta = np.float32(rng.uniform(0.55, 0.98, pops[name].size)).astype(np.float64)
        pops[name] = dataclasses.replace(pops[name], values={**pops[name].values, "tau_m": 1e-4 / (1 - beta)})
    projections = tuple(dataclasses.replace(p, weight=weights(rng, p.size, 0.02, 0.3, bits)) for p in spec.projections)
    return dataclasses.replace(spec, populations=pops, projections=projections)


def bioadapt_to_snntorch(seed, steps):
    import snntorch.import_nir

    rng = np.random.default_rng(seed)
    spec = euler_network(rng, steps + 2)
    module = snntorch.import_nir.import_from_nir(to_nir(spec, convention="snntorch")).double()
    x = (rng.random((steps, 40)) < 0.2).astype(np.float64)
    reference = run_snntorch(module, x)
    st, ix = np.nonzero(x)
    spec = dataclasses.replace(spec, populations={**spec.populations, "inp": dataclasses.replace(spec.populations["inp"], input_steps=st, input_indices=ix)})
    result = simulate(spec, backend="torch", record={"hid": ["u"], "out": ["u"]})
    counts, diff = np.zeros(3, dtype=int), 0.0
    for pop, latency in (("hid", 1), ("out", 2)):
        spikes, mem = reference[pop]
        i, k = result.spikes[pop]
        ours = np.zeros((steps + 2, spikes.shape[1]))
        ours[k, i] = 1
        counts += agree(ours[latency : latency + steps], spikes)
        diff = max(diff, float(np.abs(result.traces[pop]["u"][latency : latency + steps] - mem).max()))
    return (*counts, diff)


def norse_both_ways(seed, steps):
    import norse.torch as norse

    rng = np.random.default_rng(seed)
    dt = 2.0**-10
    n_in, n_hid, n_out = 40, 64, 10
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=weights(rng, (n_hid, n_in), 0, 4, 8), bias=weights(rng, n_hid, 0, 1, 8)),
        nir.LIF(tau=2.0 ** -rng.integers(4, 7, n_hid), r=np.ones(n_hid), v_leak=weights(rng, n_hid, 0, 0.3, 8), v_threshold=np.ones(n_hid), v_reset=np.zeros(n_hid)),
        nir.Linear(weight=weights(rng, (n_out, n_hid), 0.5, 4, 8)),
        nir.LIF(tau=2.0 ** -rng.integers(4, 7, n_out), r=np.ones(n_out), v_leak=np.zeros(n_out), v_threshold=np.ones(n_out), v_reset=np.zeros(n_out)),
    )
    x = (rng.random((steps, n_in)) < 0.2).astype(np.float64)

    def run(module):
        state, out = None, []
        with torch.no_grad():
            for t in range(steps):
                o, state = module(torch.tensor(x[t : t + 1]), state)
                out.append(o.clone())
        return torch.cat(out).numpy()

    reference = run(norse.from_nir(graph, dt=dt).double())
    imported = read_nir(graph, convention="norse", dt=dt, n_steps=steps)
    result = simulate(imported.with_inputs({"input": x}), backend="torch")
    to_bioadapt = agree(raster(imported, result, imported.outputs["output"], reference.shape), reference)
    # and back: bioadapt's network exported under the norse convention, read by Norse
    again = run(norse.from_nir(to_nir(imported.spec, convention="norse"), dt=dt).double())
    back = agree(raster(imported, result, imported.outputs["output"], reference.shape), again)
    return to_bioadapt, back


def round_trips(steps):
    from helpers import MEMBRANE, model_network

    rows = {}
    for model in ("lif", "li", "adlif", "cadlif", "stc", "mtc", "relay"):
        spec = network_from_dict(model_network(model, steps=steps))
        back = from_nir(to_nir(spec))
        inp = spec.populations["inp"]
        back = dataclasses.replace(back, populations={**back.populations, "inp": dataclasses.replace(back.populations["inp"], input_steps=inp.input_steps, input_indices=inp.input_indices)})
        var = MEMBRANE[model]  # (the relay's x moves with its input spikes: no drive, which would overwrite them)
        a = simulate(spec, backend="torch", record={"hid": [var]})
        b = simulate(back, backend="torch", record={"hid": [var]})
        same = all(a.spike_set(p) == b.spike_set(p) for p in a.spikes)
        rows[model] = (a.spike_count(), same, float(np.abs(a.traces["hid"][var] - b.traces["hid"][var]).max()))
    return rows


def shipped_nodes():
    """NIR node of every shipped model in the test network of ``tests/helpers.py`` (synapses into its input variable)."""
    from helpers import model_network

    rows = {}
    for model in ("lif", "lif, t_ref = 0", "li", "adlif", "cadlif", "stc", "mtc"):
        net = model_network(model.split(",")[0], steps=10)
        if model.startswith("lif"):
            net["projections"][1]["on_pre"] = "I_post += weight"
        if model == "lif, t_ref = 0":
            net["populations"]["hid"]["values"]["t_ref"] = "0*ms"
        spec = network_from_dict(net)
        rows[model] = {c: [r for r in population_report(to_nir(spec, convention=c)) if r[0] == "hid"][0][1:] for c in ("bioadapt", "snntorch")}
    return rows


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("nir", "nirtorch", "snntorch", "norse", "torch", "brian2"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cpp", action="store_true", help="also run Brian2 cpp_standalone for snnTorch's graphs")
    parser.add_argument("--out", default="examples/results/nir_frameworks")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    load_start = os.getloadavg()[0]
    results = {"steps": args.steps, "seeds": args.seeds, "date": time.strftime("%Y-%m-%d"), "versions": versions()}
    lines = [
        f"# NIR against snnTorch and Norse ({args.steps} steps, {args.seeds} seeds per row)",
        "",
        "`python examples/nir_frameworks.py" + (" --cpp" if args.cpp else "") + f" --steps {args.steps} --seeds {args.seeds}`, "
        + time.strftime("%Y-%m-%d")
        + ", "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
    ]
    lines += ["| direction | run in | networks | spikes (framework) | spikes (bioadapt) | differing | max membrane difference |", "|---|---|---|---|---|---|---|"]
    backends = ["torch", "numpy"] + (["cpp_standalone"] if args.cpp else [])
    cases = [
        ("snnTorch export_to_nir -> bioadapt (snntorch convention)", {}),
        ("same, RLeaky hidden layer", {"recurrent": True}),
        ("same, float32 weights", {"float32_weights": True}),
        ("same, float32 weights, snnTorch run in float32 (its default)", {"float32_weights": True, "float32_run": True}),
    ]
    for label, kw in cases:
        total = {}
        for seed in range(args.seeds):
            for backend, row in snntorch_to_bioadapt(seed, args.steps, backends if not kw else ["torch"], **kw).items():
                acc = total.setdefault(backend, [0, 0, 0, 0.0])
                acc[:3] = [a + b for a, b in zip(acc[:3], row[:3])]
                acc[3] = max(acc[3], row[3])
        for backend, (theirs, ours, differ, diff) in total.items():
            name = {"torch": "twin (float64)", "numpy": "Brian2 numpy", "cpp_standalone": "Brian2 cpp_standalone"}[backend]
            lines.append(f"| {label} | {name} | {args.seeds} | {theirs} | {ours} | {differ} | {diff:.3g} |")
            results[f"{label} / {backend}"] = {"framework_spikes": theirs, "bioadapt_spikes": ours, "differing": differ, "max_membrane_difference": diff}
    total = [0, 0, 0, 0.0]
    for seed in range(args.seeds):
        row = bioadapt_to_snntorch(seed, args.steps)
        total[:3] = [a + b for a, b in zip(total[:3], row[:3])]
        total[3] = max(total[3], row[3])
    lines.append(f"| bioadapt to_nir (snntorch convention) -> snnTorch import_from_nir | twin (float64) | {args.seeds} | {total[0]} | {total[1]} | {total[2]} | {total[3]:.3g} |")
    results["bioadapt -> snnTorch"] = dict(zip(["framework_spikes", "bioadapt_spikes", "differing", "max_membrane_difference"], total))
    try:
        import norse  # noqa: F401

        to_b, back = np.zeros(3, dtype=int), np.zeros(3, dtype=int)
        for seed in range(args.seeds):
            a, b = norse_both_ways(seed, args.steps)
            to_b += a
            back += b
        lines.append(f"| NIR graph -> Norse from_nir and bioadapt (norse convention) | twin (float64) | {args.seeds} | {to_b[0]} | {to_b[1]} | {to_b[2]} | (output spikes only) |")
        lines.append(f"| bioadapt to_nir (norse convention) -> Norse from_nir | twin (float64) | {args.seeds} | {back[0]} | {back[1]} | {back[2]} | (output spikes only) |")
        results["Norse -> bioadapt"] = to_b.tolist()
        results["bioadapt -> Norse"] = back.tolist()
    except ImportError:
        lines.append("| Norse | not installed | | | | | |")
    lines += ["", "## Round trip bioadapt -> NIR (file) -> bioadapt, every shipped model (twin, float64)", "", "| model | spikes | identical spikes | max trace difference |", "|---|---|---|---|"]
    for model, (count, same, diff) in round_trips(args.steps).items():
        lines.append(f"| {model} | {count} | {same} | {diff:.3g} |")
        results[f"round trip {model}"] = {"spikes": count, "identical": same, "max_trace_difference": diff}
    lines += ["", "## NIR node of each shipped model (`population_report`; why not exact)", "", "| model | convention bioadapt | convention snntorch |", "|---|---|---|"]
    for model, by in shipped_nodes().items():
        cells = [f"{kind}, {'exact' if exact else 'approximate: ' + '; '.join(issues)}" for kind, exact, issues in by.values()]
        lines.append(f"| {model} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Total time {time.perf_counter() - start:.0f} s (load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end)."]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
