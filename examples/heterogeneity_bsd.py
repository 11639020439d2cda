"""Homogeneous vs heterogeneous SE-adLIF networks on burst sequence detection (Perez-Nieves et al. 2021)
=====================================================================================================

The points are those of `examples/sweeps/heterogeneity_bsd.toml`: the demo
network and budget (`bioadapt/demo/bsd.toml`), heterogeneous as drawn, or
homogeneous (every neuron's tau_u, tau_w, a and b at the mean of the
heterogeneous network's distributions), 5 training seeds each. Every point is
trained with the same rules (time constants and adaptation trainable per
neuron), tested in the twin, and perturbed (weights scaled by 1 + r*N(0, 1),
input spikes flipped with probability p) to measure robustness; the points
run as tasks on dask.distributed (`bioadapt.sweep`). This script then adds
the coefficient of variation of the trained time constants, writes a table
(markdown and JSON) with mean ± std over seeds and the difference of the
variants' means with its standard error, and histograms::

    python examples/heterogeneity_bsd.py --out examples/results/heterogeneity_bsd --runs RUNS   # 10 points, ~25 CPU minutes
    python examples/heterogeneity_bsd.py --scheduler tcp://HOST:8786 --runs /shared/RUNS        # on a Dask cluster

``bioadapt sweep examples/sweeps/heterogeneity_bsd.toml --out RUNS`` runs the
same points; running either again skips the points done and continues
interrupted ones.

Results
-------

This page shows the committed results of that run (``examples/results/heterogeneity_bsd/``); the documentation does not retrain it.

.. include:: ../../../examples/results/heterogeneity_bsd/results.md
   :parser: myst_parser.sphinx_

Trained values (first seed) over the initial ones, heterogeneous network:

.. image:: ../../../examples/results/heterogeneity_bsd/heterogeneous_trained.png
   :alt: histograms of tau_u, tau_w, a, b before and after training, heterogeneous network

and homogeneous network:

.. image:: ../../../examples/results/heterogeneity_bsd/homogeneous_trained.png
   :alt: histograms of tau_u, tau_w, a, b before and after training, homogeneous network

Five seeds per variant do not separate the two (the table's difference of the
means and its standard error), and the seed decides more than the variant
(0.77 to 0.99 for both). Training makes the homogeneous network heterogeneous
by itself (CV of tau_u 0.28 after training, from 0; the heterogeneous one
ends at 0.49), and neither loses accuracy when its weights are scaled by
1 + 0.2 N(0, 1); flipping 5 % of the input spikes costs both about 0.03.
Perez-Nieves et al.'s advantage of heterogeneity is not shown at this scale.
The 10 points took 1 h 50 min of wall time on 2 worker processes of a 2-core
machine shared with other work (load average 40 to 70; a point trained in 13
to 27 minutes instead of about 2). Robustness to a change of dt is not
measured for this network; the demo network on finer grids is
:doc:`dt_convergence`.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from bioadapt.analysis import distributions, plot_distributions
from bioadapt.network import load_network
from bioadapt.sweep import compare, describe, load_sweep, run_sweep

SWEEP = Path(__file__).parent / "sweeps" / "heterogeneity_bsd.toml"
VARIABLES = ["tau_u", "tau_w", "a", "b"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="heterogeneity_bsd", help="tables and figures")
    parser.add_argument("--runs", default=None, help="run folders of the points (default: OUT/runs)")
    parser.add_argument("--seeds", type=int, default=None, help="only the first N seeds of the sweep file")
    parser.add_argument("--workers", type=int, default=None, help="local Dask workers (default: one per core)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    args = parser.parse_args()
    out = Path(args.out)
    runs = Path(args.runs) if args.runs else out / "runs"
    sweep = load_sweep(SWEEP)
    if args.seeds:
        sweep = dataclasses.replace(sweep, points=tuple(p for p in sweep.points if p.values["seed"] < args.seeds))
    result = run_sweep(sweep, runs, scheduler=args.scheduler, workers=args.workers)
    rows = []
    for row in result.rows:
        if row["status"] == "done":
            stats = distributions(runs / row["point"] / "params.json", owners=["hid"])
            row = {**row, **{f"cv_{v}_trained": stats[("hid", v)]["cv"] for v in ("tau_u", "tau_w")}}
        rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    keep = ["variant", "seed", "status", "error", "test_accuracy", "train_seconds"] + [k for k in rows[0] if k.startswith(("robust_", "cv_"))]
    (out / "results.json").write_text(json.dumps([{k: r.get(k) for k in keep} for r in rows], indent=1))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    robust = [k for k in rows[0] if k.startswith("robust_")]
    columns = ["test_accuracy"] + robust + ["cv_tau_u_trained", "cv_tau_w_trained"]
    lines = ["| variant | seeds done | " + " | ".join(c.replace("robust_accuracy_", "acc_") for c in columns) + " |", "|---" * (2 + len(columns)) + "|"]
    done = {v: [r for r in rows if r["variant"] == v and r["status"] == "done"] for v in variants}
    for v in variants:
        lines.append(f"| {v} | {len(done[v])} | " + " | ".join(f"{np.mean([r[c] for r in done[v]]):.3f} ± {np.std([r[c] for r in done[v]]):.3f}" for c in columns) + " |")
    per_seed = [f"- {v}: test accuracy per seed " + ", ".join(f"{r['test_accuracy']:.3f}" for r in sorted(done[v], key=lambda r: r["seed"])) for v in variants]
    claim = compare(rows, "test_accuracy", variants[0], variants[1])
    n_seeds = len({r["seed"] for r in rows})
    header = (f"BSD, the demo's network and budget (3000 samples, 6 epochs), {n_seeds} seeds per variant, run with `bioadapt.sweep` ({SWEEP.name}); "
              "mean ± std over seeds (ddof 0). acc_rR_flipP: test accuracy with the input and recurrent weights scaled by 1 + R*N(0,1) "
              "and input spikes flipped with probability P. The homogeneous network has every neuron at the means of the heterogeneous "
              "network's distributions.\n\n")
    footer = "\n\n" + "\n".join(per_seed) + f"\n\nSeparated means more than two standard errors apart. {describe(claim)}\n"
    (out / "results.md").write_text(header + "\n".join(lines) + footer)
    print(header + "\n".join(lines) + footer)
    base = load_network(Path(__file__).parents[1] / "bioadapt" / "demo" / "bsd_network.toml")
    for v in variants:
        first = sorted(done[v], key=lambda r: r["seed"])
        if first:
            reference = load_network(runs / first[0]["point"] / "network.toml") if v != "heterogeneous" else base
            plot_distributions(runs / first[0]["point"] / "params.json", out / f"{v}_trained.png", owners=["hid"], variables=VARIABLES, reference=reference)


if __name__ == "__main__":
    main()
