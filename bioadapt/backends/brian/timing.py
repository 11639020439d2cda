"""Where a standalone binary's time goes: phases timed inside the binary.

Brian2 times the simulation loop of a cpp_standalone or cuda_standalone
binary itself (``results/last_run_info.txt``, ``std::clock``: CPU time of the
process). The binary also loads its arrays, creates the synapses and prepares
the spike queues before the loop, and writes every array to disk after it;
for a large network these take longer than the loop. `add_phase_timers`
inserts wall-clock timestamps (``std::chrono::steady_clock``) at Brian2's code
slots; `read_phase_times` turns them into the durations of the phases:

``init``
    the start of ``main`` to the end of ``brian_start()``: allocating the
    arrays and loading them from ``static_arrays/`` (cuda_standalone: also
    creating the CUDA context).
``setup``
    to the start of the loop: synapse creation, values set in code, run_args,
    the spike queues (Brian2CUDA: the connectivity bundles, built on the host
    and copied to the GPU).
``loop``
    the simulation loop (cuda_standalone: the GPU synchronised at both ends,
    so that no kernel is still running when the clock is read).
``finish``
    the end of the loop to ``brian_end()``.
``write``
    ``brian_end()``: every array, monitors included, written to
    ``results/`` (cuda_standalone: copied from the GPU first) and freed.
``process``
    the binary's wall time outside ``main``: loading it and its libraries,
    and exiting.

Each timestamp is written to ``results/bioadapt_phases.txt`` as it is taken
(name, wall seconds and CPU seconds of the process since the start of
``main``), so a binary stopped midway still shows how far it came.
"""

from __future__ import annotations

import os

__all__ = ["MARKS", "PHASES", "add_phase_timers", "read_marks", "read_phase_times", "read_profiling_info"]

PHASES_FILE = "bioadapt_phases.txt"
#: Timestamps, in the order the binary takes them, and the phases between them.
MARKS = ("start", "arrays_loaded", "loop_start", "loop_end", "end_start", "end")
PHASES = ("init", "setup", "loop", "finish", "write")

_START = """\
std::chrono::steady_clock::time_point bioadapt_t0 = std::chrono::steady_clock::now();
std::clock_t bioadapt_c0 = std::clock();
std::ofstream bioadapt_phases((brian::results_dir + "{file}").c_str(), std::ios::out | std::ios::trunc);
auto bioadapt_phase = [&](const char* name) {{
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - bioadapt_t0).count();
    bioadapt_phases << name << " " << wall << " " << double(std::clock() - bioadapt_c0) / CLOCKS_PER_SEC << std::endl;
}};
bioadapt_phase("start");"""


def add_phase_timers(device, target: str):
    """Insert the phase timestamps into the project of ``device`` (before its
    network runs: the loop's slots are filled in when it runs)."""
    sync = "CUDA_SAFE_CALL(cudaDeviceSynchronize());\n" if target == "cuda_standalone" else ""
    device.headers.append("<chrono>")
    device.insert_code("before_start", _START.format(file=PHASES_FILE))
    device.insert_code("after_start", 'bioadapt_phase("arrays_loaded");')
    device.insert_code("before_network_run", sync + 'bioadapt_phase("loop_start");')
    device.insert_code("after_network_run", sync + 'bioadapt_phase("loop_end");')
    device.insert_code("before_end", 'bioadapt_phase("end_start");')
    device.insert_code("after_end", 'bioadapt_phase("end");\nbioadapt_phases.close();')


def read_marks(results_dir: str) -> dict:
    """``name -> (wall s, cpu s)`` of the timestamps the binary took (empty
    if it was stopped before it opened its file)."""
    path = os.path.join(results_dir, PHASES_FILE)
    if not os.path.exists(path):
        return {}
    marks = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] in MARKS:
                marks[parts[0]] = (float(parts[1]), float(parts[2]))
    return marks


def read_phase_times(results_dir: str, binary_time: float | None = None) -> dict:
    """Seconds of each phase of the last run (`PHASES`, wall clock), the CPU
    seconds of the process in it (``PHASE_cpu``: on a loaded machine the wall
    clock also counts the time spent waiting for a core), and ``process`` and
    ``binary`` (the binary's wall time seen from Python) when ``binary_time``
    is given. Phases the binary did not reach are left out."""
    marks = read_marks(results_dir)
    times = {}
    for phase, (first, last) in zip(PHASES, zip(MARKS, MARKS[1:])):
        if first in marks and last in marks:
            times[phase] = marks[last][0] - marks[first][0]
            times[f"{phase}_cpu"] = marks[last][1] - marks[first][1]
    if binary_time is not None:
        times["binary"] = binary_time
        if "end" in marks:
            times["process"] = binary_time - marks["end"][0]
    return times


def read_profiling_info(results_dir: str) -> dict:
    """``code object -> seconds`` from Brian2's ``profiling_info.txt`` (a
    network run with ``profile=True``), largest first."""
    info = {}
    with open(os.path.join(results_dir, "profiling_info.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                info[parts[0]] = float(parts[1])
    return dict(sorted(info.items(), key=lambda item: -item[1]))
