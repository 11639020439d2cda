"""Shared pieces of the benchmark scripts: the benchmark network, timing, and
result files (JSON plus a short markdown table under ``benchmarks/results/``).

The benchmark network is the recurrent SE-adLIF network of Baronig et al.
(2025) at the SHD size: ``n_in`` Poisson inputs, two recurrent layers of
adaptive LIF neurons (all-to-all input and recurrent synapses, delay 0: a spike
of step k acts on the update of step k + 1) and a leaky-integrator readout
(the ``li`` model). Weights are scaled so that the hidden layers fire at a few
to a few tens of Hz at 20 Hz input (Brian2's cost is event-driven, so activity
matters for the cpp_standalone timings).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPO = HERE.parent

ADLIF_VALUES = {"tau_u": "uniform(5*ms, 25*ms)", "tau_w": "uniform(60*ms, 300*ms)", "a": "uniform(0, 1)", "b": "uniform(0, 2)"}


def network_arguments(parser) -> None:
    """The benchmark network's size options (`adlif_network`) and the batch size, on an argparse parser."""
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--inputs", type=int, default=140)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])


def adlif_network(
    n_in: int = 140,
    hidden: tuple = (256, 256),
    n_out: int = 20,
    steps: int = 250,
    scheme: str = "symplectic_euler",
    max_delay: int = 0,
    rate: str = "20*Hz",
    seed: int = 0,
) -> dict:
    """Network config (a dict for `bioadapt.network_from_dict`) of the benchmark network.

    ``max_delay`` > 0 draws every synaptic delay uniformly from 0 .. max_delay steps.
    """
    delay = f"uniform(0*ms, {max_delay + 0.49}*ms)" if max_delay else "0*ms"
    pops = {"inp": {"kind": "poisson", "size": n_in, "rate": rate}}
    projections = []
    source, fan_in = "inp", n_in
    for k, size in enumerate(hidden, 1):
        name = f"h{k}"
        pops[name] = {"model": "adlif", "size": size, "scheme": scheme, "values": dict(ADLIF_VALUES)}
        # input weights large enough to make a layer fire from ~3 input spikes
        # per step; recurrent weights balanced around zero
        scale = 12.0 / np.sqrt(fan_in) if k == 1 else 10.0 / np.sqrt(fan_in)
        projections.append({"name": f"{source}_to_{name}", "source": source, "target": name, "on_pre": "I_post += weight", "connect": "all_to_all", "weight": f"normal({scale / 4:.4g}, {scale:.4g})", "delay": delay})
        projections.append({"name": f"rec_{name}", "source": name, "target": name, "on_pre": "I_post += weight", "connect": "all_to_all", "weight": f"normal(0, {2.0 / np.sqrt(size):.4g})", "delay": delay})
        source, fan_in = name, size
    pops["out"] = {"model": "li", "size": n_out}
    projections.append({"name": f"{source}_to_out", "source": source, "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": f"normal(0, {1.0 / np.sqrt(fan_in):.4g})", "delay": delay})
    return {"dt": "1*ms", "duration": f"{steps}*ms", "seed": seed, "populations": pops, "projections": projections}


def poisson_inputs(steps: int, batch: int, n_in: int, rate_hz: float = 20.0, dt: float = 1e-3, seed: int = 0, dtype=None):
    """Bernoulli spike rasters ``(steps, batch, n_in)`` as a torch tensor."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, n_in, generator=g) < rate_hz * dt).to(dtype or torch.float32)
    return x


def brian2_example_ports():
    """``tests/brian2_examples/test_ports.py`` as a module: the ports of Brian2's
    examples that the tests check (``PORTS``, ``INPUTS``, ``MODELS``)."""
    import importlib.util

    path = REPO / "tests" / "brian2_examples" / "test_ports.py"
    sys.path.insert(0, str(path.parent.parent))  # the tests' helpers, which the ports import
    spec = importlib.util.spec_from_file_location("ports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_calls(fns: dict, reps: int, warmup: int = 1) -> dict:
    """Wall and CPU times (s) of each callable: median, minimum and all.

    Calls are interleaved (a, b, c, a, b, c ...) so that load from other
    processes hits all alike. The CPU time (``time.process_time``, all threads
    of this process) is what one core spent; with one torch thread it is the
    better measure on a shared machine, where wall time also counts the time
    the process waited for a core.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {
        name: {
            "median_s": statistics.median(wall[name]),
            "min_s": min(wall[name]),
            "cpu_median_s": statistics.median(cpu[name]),
            "cpu_min_s": min(cpu[name]),
            "all_s": wall[name],
            "cpu_all_s": cpu[name],
        }
        for name in fns
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", "?")


def machine() -> dict:
    """Machine, date, versions and current load."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    import torch

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {m: _version(m) for m in ("bioadapt", "torch", "brian2", "numpy", "snntorch")},
        "commit": commit,
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "loadavg_start": list(os.getloadavg()),
    }


def save(name: str, info: dict, config: dict, results: dict, table: list[list], header: list[str], notes: list[str] = ()) -> Path:
    """Write ``results/NAME.json`` and ``results/NAME.md``, print the table, return the JSON path."""
    RESULTS.mkdir(exist_ok=True)
    info = dict(info, loadavg_end=list(os.getloadavg()))
    payload = {"machine": info, "config": config, "results": results}
    json_path = RESULTS / f"{name}.json"
    json_path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    lines = [
        f"# {name}",
        "",
        f"`{info['command']}`  ",
        f"{info['date']}, {info['cpu']} ({info['cores']} cores, torch threads {info['torch_threads']}), "
        f"load average {info['loadavg_start'][0]:.2f} at start, {info['loadavg_end'][0]:.2f} at end  ",
        "versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v) + f", commit {info['commit']}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
    return json_path


def fmt(seconds: float) -> str:
    """Seconds in a short readable unit."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
