"""The cost of noise drawn alike in every backend (`bioadapt.noise`) against Brian2's own generator.

    python benchmarks/noise.py [--size 4000 --steps 2000 --reps 3]

``--size`` LIF neurons with white-noise input (Brian2's Brunel & Hakim 1999
example, ``xi``, Euler-Maruyama; no synapses, so that the noise is a large part
of the work), ``--steps`` steps of 0.1 ms:

- numpy runtime: `bioadapt.simulate` (counter-based numbers: one hash and a
  Box-Muller transform of polynomials per neuron and step) against the same
  equations in a plain Brian2 script (Brian2's ``randn()``: numpy's global
  generator), both built, run and read back, CPU time of this process;
- the twin (float64, one torch thread), which draws the numbers of the numpy
  runtime (checked before timing);
- compiled code: nanoseconds per normal number of the generator's C++ (as
  cpp_standalone compiles it, ``-O3 -fno-fast-math -ffp-contract=off``)
  against the C++ standard library's ``std::normal_distribution`` on a
  ``std::mt19937_64``, a stateful generator like the one Brian2's C++ uses.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import subprocess
import tempfile
from pathlib import Path

import torch

from common import HERE, fmt, machine, save, time_calls

from bioadapt import network_from_dict, simulate
from bioadapt.backends.brian.device import FAITHFUL_GCC_FLAGS
from bioadapt.noise import NoiseSource

MODEL = HERE.parent / "tests" / "brian2_examples" / "models" / "brunel_hakim_1999.toml"


def plain_brian2(size: int, steps: int):
    """The example's neurons in a plain Brian2 script (numpy runtime, Brian2's xi)."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    namespace = {"muext": 25 * b2.mV, "sigmaext": 1 * b2.mV, "tau": 20 * b2.ms, "theta": 20 * b2.mV, "Vr": 10 * b2.mV}
    group = b2.NeuronGroup(size, "dV/dt = (-V+muext + sigmaext * sqrt(tau) * xi)/tau : volt", threshold="V>theta", reset="V=Vr", refractory=2 * b2.ms, method="euler", namespace=namespace)
    group.V = 10 * b2.mV
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    net.run(steps * 0.1 * b2.ms, namespace=namespace)
    return monitor.num_spikes


CPP = """
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <chrono>
#include <random>
%(source)s
int main() {
    const int n = %(n)d;
    double sum = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < n / 1000; k++)
        for (int i = 0; i < 1000; i++) sum += %(name)s(k * 1e-4, i);
    auto t1 = std::chrono::steady_clock::now();
    std::mt19937_64 engine(1);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int k = 0; k < n; k++) sum += normal(engine);
    auto t2 = std::chrono::steady_clock::now();
    printf("%%.6f %%.6f %%f\\n", std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count(), sum);
}
"""


def compiled(n: int = 20_000_000) -> dict:
    source = NoiseSource("counter_randn", "randn", 1, "P", 0, 1e-4)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noise.cpp"
        path.write_text(CPP % {"source": source.cpp(), "n": n, "name": source.name})
        subprocess.run(["g++", *FAITHFUL_GCC_FLAGS, str(path), "-o", str(Path(tmp) / "noise")], check=True)
        runs = [subprocess.run([str(Path(tmp) / "noise")], capture_output=True, text=True, check=True).stdout.split() for _ in range(3)]
    counter, standard = min(float(r[0]) for r in runs), min(float(r[1]) for r in runs)
    return {"numbers": n, "counter_ns": counter / n * 1e9, "std_normal_ns": standard / n * 1e9}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--name", default="noise")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    spec = network_from_dict({"dt": "0.1*ms", "duration": f"{args.steps}*0.1*ms", "seed": 1,
                              "populations": {"P": {"model": str(MODEL), "size": args.size, "scheme": "euler"}}})
    runs = {"bioadapt numpy": lambda: simulate(spec, backend="numpy"), "Brian2 numpy": lambda: plain_brian2(args.size, args.steps), "twin": lambda: simulate(spec, backend="torch")}
    first = {name: fn() for name, fn in runs.items()}
    if first["bioadapt numpy"].spike_set("P") != first["twin"].spike_set("P"):
        raise SystemExit("the twin's spikes differ from the numpy runtime's")
    spikes = {"bioadapt numpy": first["bioadapt numpy"].spike_count("P"), "Brian2 numpy": int(first["Brian2 numpy"]), "twin": first["twin"].spike_count("P")}
    times = time_calls(runs, reps=args.reps, warmup=0)
    code = compiled()
    results = {"steps": args.steps, "size": args.size, "spikes": spikes, "times": times, "compiled": code}
    table = [[name, "counter-based" if name != "Brian2 numpy" else "Brian2's (numpy.random)", spikes[name], fmt(times[name]["cpu_min_s"]), fmt(times[name]["cpu_min_s"] / args.steps)] for name in runs]
    header = ["run", "noise", "spikes", "CPU time", "per step"]
    notes = [
        f"{args.size} neurons, {args.steps} steps of 0.1 ms, no synapses; whole build + run + read back, fastest of {args.reps}; the twin's spikes are the bioadapt numpy runtime's (checked)",
        f"compiled code, one normal number: counter-based {code['counter_ns']:.2f} ns, std::normal_distribution on std::mt19937_64 {code['std_normal_ns']:.2f} ns (g++ {' '.join(FAITHFUL_GCC_FLAGS[1:4])}, fastest of 3 x {code['numbers']} numbers)",
    ]
    save(args.name, info, {"args": vars(args)}, results, table, header, notes)


if __name__ == "__main__":
    main()
