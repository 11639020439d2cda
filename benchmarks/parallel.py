"""Data-parallel training, sweeps and sharded evaluation on this machine, measured
(named parallel.py: a distributed.py here would shadow the dask package of that name).

    python benchmarks/parallel.py [--out benchmarks/results/parallel]

1. DDP: the tests' small training problem (BSD, 6 -> 10 adLIF -> 4, float64,
   batch 8) trained for 20 steps by 1 process and by 2 (``--nproc 2``, gloo):
   the largest parameter difference, per tensor in units of eps * max|p| and
   element-wise relative.
2. Sweep: the same small sweep (4 points: 2 seeds x 2 learning rates of the
   same problem, ``--epochs`` epochs, 60 by default: about 10 s of training per
   point) run by a LocalCluster of 1 worker and of 2 workers (fresh folders);
   wall time of each, the points' own time, and the speed-up.
3. Sharded evaluation: cpp_standalone on the test split, 1 process against
   ``workers=2``: whether readouts, spikes and every per-sample number are equal.

Writes ``distributed.json`` and ``distributed.md``. On a machine shared with
other work, the wall times depend on the load (`os.getloadavg` is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "train"))

SWEEP = """
base = "p/train.toml"
steps = ["train", "test"]
[grid]
seed = [0, 1]
"train.lr" = [0.1, 0.03]
"train.epochs" = [{epochs}]
"""


def _cli(*args):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bioadapt.cli", *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def ddp(folder: Path) -> dict:
    from train_problem import write_problem

    config = write_problem(folder / "p")
    _cli("train", str(config), "--out", str(folder / "one"), "--epochs", "4", "--quiet")
    _cli("train", str(config), "--out", str(folder / "two"), "--epochs", "4", "--nproc", "2", "--quiet")
    a = torch.load(folder / "one" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(folder / "two" / "checkpoint.pt", weights_only=False)["model"]
    eps = np.finfo(np.float64).eps
    ulps, relative = 0.0, 0.0
    for k, x in a.items():
        if x.is_floating_point() and x.numel() and float(x.abs().max()) > 0:
            d = (x - b[k]).abs()
            ulps = max(ulps, float(d.max() / (eps * x.abs().max())))
            nonzero = x != 0
            relative = max(relative, float((d[nonzero] / x[nonzero].abs()).max()) if nonzero.any() else 0.0)
    steps = torch.load(folder / "one" / "checkpoint.pt", weights_only=False)["position"]["step"]
    return {"steps": steps, "largest_difference_ulps_of_tensor_scale": ulps, "largest_elementwise_relative_difference": relative}


def sweep(folder: Path, epochs: int) -> dict:
    import csv

    from train_problem import write_problem

    write_problem(folder / "p")
    (folder / "sweep.toml").write_text(SWEEP.format(epochs=epochs))
    out = {"epochs": epochs}
    for workers in (1, 2):
        target = folder / f"out{workers}"
        shutil.rmtree(target, ignore_errors=True)
        out[f"seconds_{workers}_worker"] = _cli("sweep", str(folder / "sweep.toml"), "--out", str(target), "--workers", str(workers), "--quiet")
        with open(target / "results.csv") as f:
            out[f"point_seconds_{workers}_worker"] = sum(float(r["seconds"]) for r in csv.DictReader(f))
    out["speed_up"] = out["seconds_1_worker"] / out["seconds_2_worker"]
    out["points"] = 4
    return out


def sharded(folder: Path) -> dict:
    from bioadapt.train import evaluate, load_train_config
    from train_problem import write_problem

    config = load_train_config(write_problem(folder / "p"))
    params = folder / "one" / "params.json"
    one = evaluate(config, params, backend="cpp_standalone", return_outputs=True)
    two = evaluate(config, params, backend="cpp_standalone", workers=2, return_outputs=True)
    a, b = one.pop("outputs"), two.pop("outputs")
    s1, s2 = one.pop("seconds"), two.pop("seconds")
    two.pop("workers")
    spikes_equal = all(np.array_equal(x[p][k], y[p][k]) for x, y in zip(a["brian_spikes"], b["brian_spikes"]) for p in x for k in (0, 1))
    return {"samples": one["samples"], "readouts_equal": bool(np.array_equal(a["brian_y"], b["brian_y"])), "spikes_equal": spikes_equal,
            "results_equal": one == two, "spikes_brian": one["spikes_brian"], "seconds_1_process": s1["brian"], "seconds_2_workers": s2["brian"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/parallel")
    parser.add_argument("--parts", default="ddp,sweep,sharded")
    parser.add_argument("--epochs", type=int, default=60, help="epochs of each sweep point")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bioadapt_distributed_"))
    result = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    parts = args.parts.split(",")
    if "ddp" in parts or "sharded" in parts:
        result["ddp"] = ddp(folder)
    if "sweep" in parts:
        result["sweep"] = sweep(folder, args.epochs)
    if "sharded" in parts:
        result["sharded"] = sharded(folder)
    result["load_after"] = os.getloadavg()
    shutil.rmtree(folder, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = [f"# Distributed: DDP, sweep, sharded evaluation ({time.strftime('%Y-%m-%d')}, {result['cpus']} CPUs, load average {result['load_before'][0]:.1f} before, {result['load_after'][0]:.1f} after)", ""]
    if "ddp" in result:
        d = result["ddp"]
        lines.append(f"- DDP, float64, {d['steps']} steps, 1 vs 2 processes (gloo): largest difference {d['largest_difference_ulps_of_tensor_scale']:.2f} eps * max|p| of its tensor; largest element-wise relative difference {d['largest_elementwise_relative_difference']:.2e}")
    if "sweep" in result:
        s = result["sweep"]
        lines.append(f"- sweep of {s['points']} points ({s['epochs']} epochs each): 1 worker {s['seconds_1_worker']:.1f} s, 2 workers {s['seconds_2_worker']:.1f} s: speed-up {s['speed_up']:.2f}x "
                     f"(wall time of the whole command, cluster start included; the points' own time summed: {s['point_seconds_1_worker']:.1f} s and {s['point_seconds_2_worker']:.1f} s)")
    if "sharded" in result:
        e = result["sharded"]
        lines.append(f"- sharded cpp_standalone evaluation, {e['samples']} samples, 1 process vs 2 workers: readouts equal {e['readouts_equal']}, spikes equal {e['spikes_equal']}, every per-sample number equal {e['results_equal']} ({e['spikes_brian']} spikes); {e['seconds_1_process']:.1f} s vs {e['seconds_2_workers']:.1f} s (compilation included)")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
