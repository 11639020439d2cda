"""cuda_standalone against cpp_standalone on adaptive networks of 10^3 to 10^6 neurons.

Each network: Poisson inputs and a recurrent population of SE-adLIF neurons
(``adlif``, heterogeneous time constants and adaptation) with a fixed number
of incoming synapses per neuron from the inputs and from the population,
heterogeneous delays of 0 to ``--max-delay`` steps. Both targets build the same
Brian2 objects (`StandaloneNetwork`), compile once and run once; the script
records build time (code generation + compilation), run time (the binary,
including its start-up and reading the results back) and spike counts, and
writes ``cuda_vs_cpp.json`` and ``cuda_vs_cpp.md`` with the machine, the date
and the versions.

Needs an NVIDIA GPU, the CUDA toolkit and ``pip install 'bioadapt[cuda]'``::

    python benchmarks/cuda_vs_cpp.py --sizes 1e3,1e4,1e5,1e6 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version

import numpy as np

from bioadapt import BackendError, network_from_dict
from bioadapt.backends.brian import cuda
from bioadapt.backends.brian.standalone import StandaloneNetwork
from bioadapt.network.spec import ProjectionSpec

INPUT_RATE_HZ = 10
#: Mean input per step to every neuron, in units of the threshold (adlif: theta = 1).
DRIVE = 1.5


def adaptive_network(size: int, n_inputs: int, in_degree: int, max_delay: int, steps: int, seed: int):
    """An SE-adLIF network with explicit fixed in-degree projections (no N x N mask)."""
    config = {
        "dt": "1*ms",
        "duration": f"{steps}*ms",
        "seed": seed,
        "populations": {
            "inp": {"kind": "poisson", "size": n_inputs, "rate": f"{INPUT_RATE_HZ}*Hz"},
            "hid": {
                "model": "adlif",
                "size": size,
                "values": {"tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 1)", "b": "uniform(0, 2)"},
            },
        },
        "projections": [],
    }
    spec = network_from_dict(config, source=f"<adlif network, {size} neurons>")
    rng = np.random.default_rng(seed)

    def fixed_in_degree(name, source, n_source, mean, std):
        j = np.repeat(np.arange(size, dtype=np.int64), in_degree)
        i = rng.integers(0, n_source, size * in_degree, dtype=np.int64)
        weight = rng.normal(mean, std, size * in_degree)
        delay = rng.integers(0, max_delay + 1, size * in_degree, dtype=np.int64)
        return ProjectionSpec(name=name, source=source, target="hid", i=i, j=j, weight=weight, delay_steps=delay, on_pre="I_post += weight")

    # inputs: a mean drive of DRIVE per step (above the threshold 1), recurrent: balanced around 0
    per_step = in_degree * INPUT_RATE_HZ * 1e-3
    projections = (
        fixed_in_degree("input", "inp", n_inputs, DRIVE / per_step, DRIVE / per_step),
        fixed_in_degree("recurrent", "hid", size, 0.0, 1.0 / np.sqrt(in_degree)),
    )
    return dataclasses.replace(spec, projections=projections)


def measure(spec, target: str, directory: str, compute_capability: float | None) -> dict:
    net = StandaloneNetwork(spec, directory=directory, target=target, compute_capability=compute_capability)
    result = net.run()
    return {
        "build_s": round(net.compile_time, 3),
        "run_s": round(result.wall_time, 3),
        "spikes_hid": int(len(result.spikes["hid"][0])),
        "spikes": result.spike_set("hid"),
    }


def command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found"


def first_line(*command: str) -> str:
    return (command_output(*command).splitlines() or ["not found"])[0]


def machine() -> dict:
    toolkit = cuda.find_cuda_toolkit()
    gpu = cuda.require_gpu()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": command_output("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip() or platform.processor(),
        "cpu_cores": os.cpu_count(),
        "gpu": gpu.name,
        "compute_capability": gpu.compute_capability,
        "driver": first_line("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"),
        "cuda_toolkit": f"{toolkit.version:g} ({toolkit.nvcc})",
        "gcc": first_line("g++", "--version"),
        "python": sys.version.split()[0],
        "versions": {name: version(name) for name in ("bioadapt", "brian2", "brian2cuda", "numpy")},
    }


def markdown(info: dict, rows: list[dict]) -> str:
    lines = [
        "# cuda_standalone vs cpp_standalone",
        "",
        f"{info['date']}, {info['gpu']} (compute capability {info['compute_capability']:g}), {info['cpu']} ({info['cpu_cores']} cores), CUDA {info['cuda_toolkit']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
        "| neurons | in-degree | synapses | steps | cpp build s | cpp run s | cuda build s | cuda run s | run speed-up | spikes cpp | spikes cuda | same spikes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpp, gpu = r.get("cpp_standalone"), r["cuda_standalone"]
        speed = f"{cpp['run_s'] / gpu['run_s']:.1f}x" if cpp else "-"
        cells = [cpp["build_s"], cpp["run_s"]] if cpp else ["-", "-"]
        same = f"{r['same_spike_fraction']:.4f}" if cpp else "-"
        lines.append(
            f"| {r['neurons']} | {r['in_degree']} | {r['synapses']} | {r['steps']} | {cells[0]} | {cells[1]} | {gpu['build_s']} | {gpu['run_s']} | {speed} | {cpp['spikes_hid'] if cpp else '-'} | {gpu['spikes_hid']} | {same} |"
        )
    lines += ["", "Build: Brian2 objects, code generation and compilation; run: the binary once, with start-up and reading results back.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="comma-separated numbers of neurons")
    parser.add_argument("--steps", type=int, default=1000, help="time steps of 1 ms")
    parser.add_argument("--inputs", type=int, default=1000, help="Poisson inputs (10 Hz)")
    parser.add_argument("--in-degree", default="100", help="synapses per neuron from each source: one number, or one per size (comma-separated)")
    parser.add_argument("--max-delay", type=int, default=5, help="largest delay in steps")
    parser.add_argument("--cpp-max", type=float, default=1e6, help="largest network also run with cpp_standalone")
    parser.add_argument("--compute-capability", type=float, help="default: the GPU's")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results", help="folder for cuda_vs_cpp.json and cuda_vs_cpp.md")
    args = parser.parse_args(argv)
    try:
        info = machine()
    except BackendError as exc:
        print(f"cuda_vs_cpp: {exc}", file=sys.stderr)
        return 2
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    degrees = [int(d) for d in args.in_degree.split(",")]
    if len(degrees) == 1:
        degrees *= len(sizes)
    if len(degrees) != len(sizes):
        parser.error(f"--in-degree: give one number or one per size ({len(sizes)}), got {len(degrees)}")
    rows = []
    for size, in_degree in zip(sizes, degrees):
        spec = adaptive_network(size, args.inputs, in_degree, args.max_delay, args.steps, args.seed)
        row = {"neurons": size, "in_degree": in_degree, "synapses": sum(p.size for p in spec.projections), "steps": args.steps}
        for target in ("cpp_standalone", "cuda_standalone"):
            if target == "cpp_standalone" and size > args.cpp_max:
                continue
            folder = tempfile.mkdtemp(prefix=f"bench_{target}_")
            try:
                row[target] = measure(spec, target, folder, args.compute_capability)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            print(f"{size:>8d} neurons {target:16s} build {row[target]['build_s']:8.1f} s  run {row[target]['run_s']:8.2f} s  {row[target]['spikes_hid']} spikes", flush=True)
        if "cpp_standalone" in row:
            a, b = row["cpp_standalone"]["spikes"], row["cuda_standalone"]["spikes"]
            row["same_spike_fraction"] = len(a & b) / max(len(a | b), 1)
        for target in ("cpp_standalone", "cuda_standalone"):
            if target in row:
                del row[target]["spikes"]
        rows.append(row)
        write(args.out, info, vars(args), rows)  # after every size: a run stopped later keeps these
    print(f"wrote {args.out}/cuda_vs_cpp.json and cuda_vs_cpp.md")
    return 0


def write(out: str, info: dict, settings: dict, rows: list[dict]) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "cuda_vs_cpp.json"), "w") as f:
        json.dump({"machine": info, "settings": settings, "rows": rows}, f, indent=2)
    with open(os.path.join(out, "cuda_vs_cpp.md"), "w") as f:
        f.write(markdown(info, rows))


if __name__ == "__main__":
    sys.exit(main())
