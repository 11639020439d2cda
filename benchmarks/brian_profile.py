"""Where Brian2's cpp_standalone simulation loop spends its time, by code object.

    python benchmarks/brian_profile.py [--samples 64 --steps 250 --frequency 10000]

Builds the benchmark network's cpp_standalone project (the test set in one
call, ``StandaloneNetwork(samples=...)``, each sample the network's own 20 Hz
Poisson input), recompiles it with frame pointers (``-fno-omit-frame-pointer``,
otherwise the same flags), and samples the binary with ``perf record -g``
(Linux ``perf`` must be installed and allowed: ``kernel.perf_event_paranoid``).
Samples whose call stack passes through ``Network::run`` (the simulation loop)
are attributed to the innermost Brian2 code object on their stack (``_run_*``;
library and kernel time, page faults included, count for the code object that
called it); samples in the loop outside any code object count as "loop
(Network::run itself, clocks)".

Brian2's own ``profile=True`` times each code object with two ``std::clock``
calls, which at a few microseconds per step cost as much as the code objects
themselves; sampling does not.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import adlif_network, machine, save

from bioadapt import network_from_dict
from bioadapt.backends.brian.standalone import StandaloneNetwork


def role(name: str) -> str:
    """The kind of work a Brian2 code object does, from its name."""
    for suffix, kind in (
        ("_pre_push_spikes", "spike queue: push"),
        ("_pre_codeobject", "synapses: on_pre code"),
        ("_stateupdater_codeobject", "state updates (scheme, programs)"),
        ("_scheme_after_resets_codeobject", "state updates (scheme, programs)"),
        ("_program_", "state updates (scheme, programs)"),
        ("_spike_thresholder_codeobject", "thresholds"),
        ("_spike_resetter_codeobject", "resets"),
        ("_every_step_", "every-step code"),
        ("_restore", "restore between samples"),
        ("_spikes_codeobject", "monitors"),
        ("_trace_codeobject", "monitors"),
    ):
        if suffix in name:
            return kind
    return "other"


def stacks(perf_script: str):
    """Call stacks (innermost first) of the samples of the binary ``main``."""
    current = None
    for line in perf_script.splitlines():
        if not line.strip():
            if current:
                yield current
            current = None
        elif not line.startswith((" ", "\t")):
            current = [] if line.split()[0] == "main" else None
        elif current is not None:
            parts = line.split(None, 1)
            if len(parts) == 2:
                current.append(parts[1].strip())
    if current:
        yield current


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--frequency", type=int, default=10000, help="perf sampling frequency (Hz)")
    parser.add_argument("--name", default="brian_profile")
    args = parser.parse_args()
    if shutil.which("perf") is None:
        raise SystemExit("perf is not installed (Linux: the linux-perf / linux-tools package).")
    info = machine()
    config = adlif_network(steps=args.steps)
    spec = network_from_dict(config)
    folder = Path(tempfile.mkdtemp(prefix="bioadapt_profile_"))
    try:
        StandaloneNetwork(spec, record={"out": ["y"]}, directory=str(folder), samples=args.samples)
        makefile = folder / "makefile"
        text = makefile.read_text()
        makefile.write_text(text.replace("OPTIMISATIONS = ", "OPTIMISATIONS = -fno-omit-frame-pointer ", 1))
        subprocess.run(["make", "clean"], cwd=folder, capture_output=True)
        subprocess.run(["make", "-j2"], cwd=folder, check=True, capture_output=True)
        record = subprocess.run(["perf", "record", "-g", "-F", str(args.frequency), "-o", "perf.data", "./main"], cwd=folder, capture_output=True, text=True)
        if record.returncode:
            raise SystemExit(f"perf record failed: {record.stderr.strip()[-500:]}")
        script = subprocess.run(["perf", "script", "-i", "perf.data", "-F", "comm,ip,sym"], cwd=folder, check=True, capture_output=True, text=True).stdout
        loop_time = float((folder / "results" / "last_run_info.txt").read_text().split()[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    in_loop = [s for s in stacks(script) if any(f.startswith("Network::run") for f in s)]
    objects = collections.Counter(next((f for f in s if f.startswith("_run_")), "loop (Network::run itself, clocks)") for s in in_loop)
    kinds = collections.Counter()
    for name, count in objects.items():
        kinds[role(name) if name.startswith("_run_") else name] += count
    total = sum(objects.values())
    per_step = loop_time / (args.samples * args.steps)
    results = {
        "loop_cpu_s": loop_time,
        "loop_cpu_per_step_s": per_step,
        "samples_in_loop": total,
        "by_kind": {k: v / total for k, v in kinds.most_common()},
        "by_code_object": {k: v / total for k, v in objects.most_common()},
    }
    table = [[kind, f"{100 * share:.1f} %", f"{share * per_step * 1e6:.2f} us"] for kind, share in results["by_kind"].items()]
    notes = [
        f"network: the benchmark network ({spec.populations['inp'].size} Poisson inputs at 20 Hz, 2 x 256 SE-adLIF, 20 leaky integrators), {args.samples} samples of {args.steps} steps in one run of the binary; loop {loop_time * 1e3:.1f} ms of CPU time (Brian2's timing, with frame pointers), {per_step * 1e6:.2f} us per step",
        f"perf record -g at {args.frequency} Hz: {total} samples in the simulation loop; per kind: share of those samples, and that share of the loop's time per step",
        "largest code objects: " + ", ".join(f"{k.removeprefix('_run_')} {100 * v:.1f} %" for k, v in list(results["by_code_object"].items())[:8]),
    ]
    save(args.name, info, {"args": vars(args), "network": config}, results, table, ["work", "share of loop samples", "per step"], notes)


if __name__ == "__main__":
    main()
