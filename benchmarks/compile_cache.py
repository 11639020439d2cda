"""Compile time of the twin's compiled execution, with torch's on-disk cache empty and filled.

    python benchmarks/compile_cache.py [--batch 64 --steps 250 --hidden 256 256]

Three fresh processes share one new cache folder (``TORCHINDUCTOR_CACHE_DIR``):
the first compiles with the cache empty, the next two find the kernels of the
first. Each builds the benchmark network's twin (`common.adlif_network`, float32,
dense synapses, ``execution="compiled"``) and times, in wall time, its first
training step (forward over all steps, loss, backward: compiles the graphs with
gradients), its second (the graphs reused), and a first and second forward
without gradients (their own graphs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

from common import machine, save

CHILD = """
import json, sys, time, torch
from common import adlif_network, poisson_inputs
from bioadapt import network_from_dict
from bioadapt.backends.torch import Twin
batch, steps, hidden = json.loads(sys.argv[1])
torch.set_num_threads(1)
spec = network_from_dict(adlif_network(hidden=tuple(hidden), steps=steps))
twin = Twin(spec, dtype=torch.float32, synapses="dense", execution="compiled")
x = poisson_inputs(steps, batch, spec.populations["inp"].size)
labels = torch.randint(0, 20, (batch,))
times = {}
for name in ("train_first", "train_second"):
    start = time.perf_counter()
    y = twin(inputs={"inp": x}, record={"out": ["y"]}).traces["out"]["y"]
    torch.nn.functional.cross_entropy(y.mean(0), labels).backward()
    times[name] = time.perf_counter() - start
for name in ("no_grad_first", "no_grad_second"):
    start = time.perf_counter()
    with torch.no_grad():
        twin(inputs={"inp": x})
    times[name] = time.perf_counter() - start
print(json.dumps(times))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--name", default="compile_cache")
    args = parser.parse_args()
    torch.set_num_threads(1)  # (the processes timed use one thread each)
    info = machine()
    here = os.path.dirname(os.path.abspath(__file__))
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache, OMP_NUM_THREADS="1")
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([args.batch, args.steps, args.hidden])], cwd=here, env=env, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    labels = ["cache empty", "cache filled", "cache filled"]
    table = [[label, *(f"{run[key]:.2f} s" for key in ("train_first", "train_second", "no_grad_first", "no_grad_second"))] for label, run in zip(labels, runs)]
    notes = [
        f"network: {' x '.join(map(str, args.hidden))} recurrent SE-adLIF (common.adlif_network), {args.steps} steps, batch {args.batch}, float32, CPU, 1 torch thread; "
        "Twin(execution='compiled'); wall time of each call in a fresh process; the three processes share one new TORCHINDUCTOR_CACHE_DIR",
        "first training step: traces and compiles the graphs with gradients (one per stretch of steps: compiled.STEPS_PER_GRAPH); second: reuses them; "
        "first forward without gradients: its own graphs; the later processes load the kernels from the cache (tracing remains)",
    ]
    save(args.name, info, {"args": vars(args)}, {"runs": dict(zip(["empty", "filled_1", "filled_2"], runs))}, table,
         ["process", "first train step", "second train step", "first forward, no grad", "second forward, no grad"], notes)


if __name__ == "__main__":
    main()
