"""cpp_standalone long runs: one compiled chunk, run in a C++ loop (`bioadapt.long_run`).

Brian2's standalone device generates a new set of code objects for every
``run()`` call of a script, so a run split into hundreds of ``run()`` calls
would compile hundreds of copies of the network. Instead the network is run
once for one chunk in Python, and the lines Brian2 queued for that run
(``network.clear(); network.add(...); network.run(duration)``) are wrapped
into a C++ loop over the chunks (`device.insert_code` before and after, and
the duration of each chunk from the loop). Everything a run keeps
(state variables, spike queues, the clock) lives in the binary's global
arrays and carries over from chunk to chunk, as over the ``run()`` calls of
a script; the clock's start is set from the step count before each chunk, so
no rounding accumulates over thousands of chunks. After each chunk, inserted
code appends the spike monitors' ``(step, i)`` and the recorded rows whose
step is due to the output files, empties the monitors' buffers and prints a
progress line; at the end the binary writes its loop time and peak resident
memory (``VmHWM``) for ``run.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from brian2 import StateMonitor, second
from brian2.core.base import BrianObjectException

from ...errors import BackendError
from ...network.spec import NetworkSpec
from .build import build_network, describe_object, root_message
from .device import brian_device

__all__ = ["run_standalone_chunks"]

STATS_FILE = "standalone_stats.json"
_RUN_LINE = re.compile(r"^(?P<net>\w+)\.run\((?P<duration>[^,]+),(?P<rest>.*)\);\s*$")


def _cpp_string(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dump_code(device, net, monitors: dict, paths: dict, recorded: dict, every: int, dt: str) -> str:
    """C++ that appends the monitors' buffers to the files and empties them."""
    lines = []
    for name, mon in net.spike_monitors.items():
        i = device.get_array_name(mon.variables["i"], access_data=False)
        t = device.get_array_name(mon.variables["t"], access_data=False)
        n = device.get_array_name(mon.variables["N"])
        lines += [
            "{",
            f"    std::ofstream _f({_cpp_string(paths[name])}, std::ios::binary | std::ios::app);",
            f"    for (size_t _k = 0; _k < {i}.size(); _k++) {{",
            f"        const int64_t _pair[2] = {{(int64_t)({t}[_k]/{dt} + 0.5), (int64_t){i}[_k]}};",
            "        _f.write((const char*)_pair, sizeof(_pair));",
            "    }",
            f"    {i}.clear(); {t}.clear(); {n}[0] = 0;",
            "}",
        ]
    for name, mon in monitors.items():
        t = device.get_array_name(mon.variables["t"], access_data=False)
        n = device.get_array_name(mon.variables["N"])
        columns = len(recorded[name][1])
        for var in recorded[name][0]:
            values = device.get_array_name(mon.recorded_variables[var], access_data=False)
            lines += [
                "{",
                f"    std::ofstream _f({_cpp_string(paths[(name, var)])}, std::ios::binary | std::ios::app);",
                f"    for (size_t _r = 0; _r < {t}.size(); _r++) {{",
                f"        if (((int64_t)({t}[_r]/{dt} + 0.5) + 1) % {every} != 0) continue;",
                f"        for (int _c = 0; _c < {columns}; _c++) {{ const double _v = {values}(_r, _c); _f.write((const char*)&_v, sizeof(double)); }}",
                "    }",
                "}",
            ]
        for var in recorded[name][0]:
            values = device.get_array_name(mon.recorded_variables[var], access_data=False)
            lines.append(f"{values}.resize(0, {columns});")
        lines.append(f"{t}.clear(); {n}[0] = 0;")
    return "\n".join(lines)


def run_standalone_chunks(spec: NetworkSpec, folder: Path, paths: dict, recorded: dict, every: int, chunk_steps: int, progress: bool, directory: str | None, fast_math: bool) -> dict:
    """Build, compile and run ``spec`` in chunks (see the module); returns the
    loop time, the binary's peak memory and the compile time."""
    import time

    stats_path = folder / STATS_FILE
    start = time.perf_counter()
    with brian_device("cpp_standalone", directory=directory, fast_math=fast_math) as (device, project):
        net = build_network(spec, monitors=True)
        monitors = {}
        for name, (variables, index) in recorded.items():
            owner = net.groups[name] if name in net.groups else net.synapses[name]  # a population, or a projection's synapses
            monitors[name] = StateMonitor(owner, variables, record=index, when="end", clock=net.clock, name=f"{name}_long_trace")
            net.network.add(monitors[name])
        dt = repr(float(spec.dt))
        n_chunks = -(-spec.n_steps // chunk_steps)
        device.apply_run_args()  # (none) outside the loop
        loop_open = "\n".join([
            "struct timespec _bioadapt_t0, _bioadapt_t1, _bioadapt_shown;",
            "clock_gettime(CLOCK_MONOTONIC, &_bioadapt_t0); _bioadapt_shown = _bioadapt_t0;",
            f"for (int64_t _bioadapt_chunk = 0; _bioadapt_chunk < {n_chunks}; _bioadapt_chunk++) {{",
            f"const int64_t _bioadapt_begin = _bioadapt_chunk*{chunk_steps};",
            f"const int64_t _bioadapt_steps = ({spec.n_steps} - _bioadapt_begin < {chunk_steps}) ? {spec.n_steps} - _bioadapt_begin : {chunk_steps};",
            f"{net.network.name}.t = _bioadapt_begin*{dt};",
        ])
        try:
            net.network.run(chunk_steps * spec.dt * second, namespace={})
        except BrianObjectException as exc:
            raise BackendError(f"{spec.source}: {describe_object(spec, getattr(exc, '_brian_objname', '?'))}: {root_message(exc)}") from None
        # the loop around the run's own lines only: the clock's start and the
        # spike queues' set-up that Brian2 queued before them stay before the loop
        position = _find_run(device.main_queue)
        device.main_queue.insert(position, ("insert_code", loop_open))
        lines = device.main_queue[position + 1][1][1]
        # the chunk's duration from the loop: replace the literal of the run() line Brian2 queued
        run_at = [k for k, line in enumerate(lines) if _RUN_LINE.match(line)]
        if len(run_at) != 1:
            raise BackendError("long_run: the cpp_standalone device queued an unexpected run (no single network.run line); this Brian2 version is not supported.")
        match = _RUN_LINE.match(lines[run_at[0]])
        lines[run_at[0]] = f"{match['net']}.run(_bioadapt_steps*{dt},{match['rest']});"
        report = [
            "clock_gettime(CLOCK_MONOTONIC, &_bioadapt_t1);",
            "{",
            "const double _wall = (_bioadapt_t1.tv_sec - _bioadapt_t0.tv_sec) + 1e-9*(_bioadapt_t1.tv_nsec - _bioadapt_t0.tv_nsec);",
            "const double _since = (_bioadapt_t1.tv_sec - _bioadapt_shown.tv_sec) + 1e-9*(_bioadapt_t1.tv_nsec - _bioadapt_shown.tv_nsec);",
            f"const double _bio = (_bioadapt_begin + _bioadapt_steps)*{dt};",
            f"if ({'true' if progress else 'false'} && (_since >= {5.0!r} || _bioadapt_chunk == {n_chunks - 1})) {{",
            f'    std::cout << "t = " << _bio << " s of " << {spec.n_steps}*{dt} << " s (" << (int)(100.0*(_bioadapt_begin + _bioadapt_steps)/{spec.n_steps}) << "%), " << _wall << " s wall, real-time factor " << _bio/_wall << std::endl << std::flush;',
            "    _bioadapt_shown = _bioadapt_t1;",
            "}",
            "}",
        ]
        device.insert_code("main", _dump_code(device, net, monitors, paths, recorded, every, dt) + "\n" + "\n".join(report) + "\n}")
        device.insert_code("main", "\n".join([
            "{",
            "long _bioadapt_peak_kb = -1;",
            '{ std::ifstream _status("/proc/self/status"); std::string _line;',
            '  while (std::getline(_status, _line)) if (_line.compare(0, 6, "VmHWM:") == 0) _bioadapt_peak_kb = std::stol(_line.substr(6)); }',
            "const double _loop = (_bioadapt_t1.tv_sec - _bioadapt_t0.tv_sec) + 1e-9*(_bioadapt_t1.tv_nsec - _bioadapt_t0.tv_nsec);",
            f"std::ofstream _stats({_cpp_string(stats_path)});",
            '_stats.precision(17);',
            '_stats << "{\\"loop_seconds\\": " << _loop << ", \\"peak_kib\\": " << _bioadapt_peak_kb << "}" << std::endl;',
            "}",
        ]))
        built = time.perf_counter()
        try:
            device.build(directory=project, compile=True, run=False, with_output=False)
        except Exception as exc:
            raise BackendError(f"{spec.source}: cpp_standalone compilation failed in {project} (run make there to see the compiler's messages): {root_message(exc)}") from None
        compiled = time.perf_counter()
        try:
            device.run(directory=project, with_output=progress, run_args={})
        except Exception as exc:
            raise BackendError(f"{spec.source}: the cpp_standalone binary failed in {project}: {root_message(exc)}") from None
        finished = time.perf_counter()
    stats = json.loads(stats_path.read_text())
    stats_path.unlink()
    return {
        "loop_seconds": stats["loop_seconds"],
        "peak_memory_bytes": int(stats["peak_kib"]) * 1024 if stats["peak_kib"] >= 0 else None,
        "peak_memory_of": "the cpp_standalone binary (VmHWM)",
        "build_seconds": compiled - start,
        "generate_seconds": built - start,
        "binary_seconds": finished - compiled,
    }


def _find_run(queue) -> int:
    for position in range(len(queue) - 1, -1, -1):
        if queue[position][0] == "run_network":
            return position
    raise BackendError("long_run: the cpp_standalone device queued no run.")
