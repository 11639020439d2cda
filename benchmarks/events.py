"""Event-driven spike products against the matrix product, forward + backward.

    python benchmarks/events.py [--reps 300 --threads 1]

The twin's dense pathways multiply spike vectors with weight matrices. On the
CPU it computes the product and the weight gradient from the spikes' events
(`bioadapt.backends.torch.events`) where that pays. This script measures, for
products of the benchmark network's shapes and a few others, one forward +
backward (gradients for spikes and weights, as in training) both ways across
event densities, and so where the thresholds `EVENTS_FROM_SIZE` and
`DENSE_ABOVE` of that module come from.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import time

import torch

from common import fmt, machine, save

from bioadapt.backends.torch.events import DENSE_ABOVE, EVENTS_FROM_SIZE, Events, spike_product

SHAPES = [(64, 256, 256), (64, 256, 20), (16, 64, 64), (64, 512, 512), (256, 512, 512), (16000, 140, 256)]
DENSITIES = [0.01, 0.02, 0.05, 0.1, 0.2]


def _time(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(reps):
            fn()
        best = min(best, (time.process_time() - start) / reps)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200, help="calls per timing (fewer for the largest shape)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default="events")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    gen = torch.Generator().manual_seed(0)
    results, table = [], []
    for rows, n, m in SHAPES:
        reps = max(2, args.reps * 64 * 256 * 256 // (rows * n * m * 4)) if rows * n * m > 64 * 256 * 256 else args.reps
        weights = torch.randn(n, m, generator=gen).requires_grad_()
        grad = torch.randn(rows, m, generator=gen)
        for density in DENSITIES:
            spikes = (torch.rand(rows, n, generator=gen) < density).float().requires_grad_()

            def dense():
                (spikes @ weights).backward(grad)

            def events():
                spike_product(spikes, weights, True, Events(spikes, True)).backward(grad)

            t_dense, t_events = _time(dense, reps), _time(events, reps)
            chosen = "events" if rows * n * m >= EVENTS_FROM_SIZE and density <= DENSE_ABOVE else "dense"
            results.append({"rows": rows, "n": n, "m": m, "density": density, "dense_s": t_dense, "events_s": t_events, "twin_uses": chosen})
            table.append([f"{rows} x {n} @ {n} x {m}", f"{density:g}", fmt(t_dense), fmt(t_events), f"{t_dense / t_events:.2f}", chosen])
            print(*table[-1])
    notes = [
        "one forward + backward (gradients for spikes and weights) of spikes (rows x N, 0/1 at the given fraction of entries) times weights (N x M), float32, CPU; best of 3 runs of repeated calls",
        "events: forward as one bag of weight rows per row of spikes (embedding_bag), weight gradient as one bag of output-gradient rows per neuron, spike gradient grad @ W.T (dense)",
        f"the twin uses events from {EVENTS_FROM_SIZE} multiply-adds (rows x N x M) and up to a fraction {DENSE_ABOVE} of non-zero entries",
    ]
    save(args.name, info, {"args": vars(args)}, {"products": results}, table, ["product", "fraction of events", "dense", "events", "dense / events", "twin uses"], notes)


if __name__ == "__main__":
    main()
