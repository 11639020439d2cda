"""cuda_standalone against cpp_standalone on adaptive networks of 10^3 to 10^6
neurons, with the simulation loop timed apart from set-up and result writing.

Each network: Poisson inputs and a recurrent population of SE-adLIF neurons
(``adlif``, heterogeneous time constants and adaptation) with a fixed number
of incoming synapses per neuron from the inputs and from the population, and
heterogeneous delays of 0 to ``--max-delay`` steps. Both targets build the
same Brian2 objects (`StandaloneNetwork`) and run them once. What is reported,
per run (`bioadapt.backends.brian.timing`):

- ``build``: Brian2 objects, code generation and compilation (``make``);
- ``init``: the binary's start to its arrays loaded (cuda_standalone: with
  the CUDA context); ``setup``: synapse creation and the spike queues
  (Brian2CUDA: its connectivity bundles, built on the host and copied to the
  GPU one by one); ``loop``: the simulation loop, wall clock (the GPU
  synchronised at both ends), with Brian2's own loop time (``std::clock``,
  CPU time: what Brian2 and Brian2CUDA's authors report) beside it;
  ``write``: ``brian_end()``, every array (monitors, synapses) written to
  disk; ``process``: the binary's start-up and exit outside ``main``;
  ``read``: the spikes read back into Python.

Synapses come from arrays written at build time and loaded by the binary
(``arrays``, the default: the same network on both targets, so their spikes
can be compared), or are drawn by the binary itself with Brian2's
``connect(i="k for k in sample(N_pre, size=K)")`` and weight and delay code
(``synapses=generated``, `GeneratedSynapses`: nothing to load; each target
draws its own network). Delays are compiled in (``settable_delays=False``),
nothing goes through run_args.

Every configuration is built and run in its own process (Brian2 keeps one
device per process). ``--parallel-builds N`` builds N at a time; runs start
when every build is done and follow one another in the order given, each with
a time limit; ``--deadline`` skips runs that would not end in time. Results
go to ``OUT/NAME.json`` and ``OUT/NAME.md`` after every run. Without a GPU,
cuda_standalone configurations are built and not run.

Examples::

    python benchmarks/cuda_vs_cpp.py --targets cpp_standalone --sizes 1e3,1e4,1e5
    python benchmarks/cuda_vs_cpp.py --sizes 1e3,1e4,1e5,1e6 --in-degree 100,100,100,10 \\
        --steps 1000,1000,500,200 --variant "cuda_standalone 1e5 push_synapse_bundles=False" \\
        --variant "cuda_standalone 1e5 profile" --variant "cpp_standalone 1e5 synapses=generated"

A variant is a target, a size and settings: ``synapses=generated``,
``profile`` (Brian2's time per code object; cuda_standalone synchronises
after each, so its loop is slower), ``steps=N``, ``in_degree=K``, or a Brian2
preference, by full name or as ``NAME=VALUE`` for
``devices.<target>.NAME`` (e.g. Brian2CUDA's ``push_synapse_bundles``,
``threads_per_synapse_bundle``, ``launch_bounds``,
``random_number_generator_type``); ``--cuda-option NAME=VALUE`` applies one to
every cuda_standalone configuration.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
INPUT_RATE_HZ = 10
#: Mean input per step to every neuron, in units of the threshold (adlif: theta = 1).
DRIVE = 1.5
TARGETS = ("cpp_standalone", "cuda_standalone")
PHASE_COLUMNS = ("init", "setup", "loop", "finish", "write", "process")


# ---------------------------------------------------------------- networks


def adaptive_network(size: int, n_inputs: int, in_degree: int, max_delay: int, steps: int, seed: int, synapses: str = "arrays"):
    """The SE-adLIF network and, for ``synapses="generated"``, the rules by
    which the binary draws its synapses (the spec's projections then have
    none): ``(spec, generated)``."""
    from bioadapt import network_from_dict
    from bioadapt.backends.brian.standalone import GeneratedSynapses
    from bioadapt.network.spec import ProjectionSpec

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
    # inputs: a mean drive of DRIVE per step (above the threshold 1), recurrent: balanced around 0
    per_step = in_degree * INPUT_RATE_HZ * 1e-3
    weights = {"input": ("inp", n_inputs, DRIVE / per_step, DRIVE / per_step), "recurrent": ("hid", size, 0.0, 1.0 / np.sqrt(in_degree))}
    projections, generated = [], {}
    for name, (source, n_source, mean, std) in weights.items():
        if synapses == "generated":
            empty = np.zeros(0, dtype=np.int64)
            projections.append(ProjectionSpec(name=name, source=source, target="hid", i=empty, j=empty, weight=np.zeros(0), delay_steps=empty, on_pre="I_post += weight"))
            generated[name] = GeneratedSynapses(
                connect={"i": f"k for k in sample(N_pre, size={in_degree})"}, weight=f"{mean!r} + {std!r} * randn()", delay_steps=f"int(rand() * {max_delay + 1})"
            )
            continue
        j = np.repeat(np.arange(size, dtype=np.int64), in_degree)
        i = rng.integers(0, n_source, size * in_degree, dtype=np.int64)
        weight = rng.normal(mean, std, size * in_degree)
        delay = rng.integers(0, max_delay + 1, size * in_degree, dtype=np.int64)
        projections.append(ProjectionSpec(name=name, source=source, target="hid", i=i, j=j, weight=weight, delay_steps=delay, on_pre="I_post += weight"))
    return dataclasses.replace(spec, projections=tuple(projections)), generated


# ---------------------------------------------------------------- one configuration (worker process)


def _wait_for(path: Path, proc_alive=lambda: True):
    while not path.exists():
        if not proc_alive():
            return False
        time.sleep(0.05)
    return True


def _write_json(path: Path, data: dict):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)


def worker(config_file: str) -> int:
    """Build one configuration, wait for the driver's go, run it, save the result."""
    cfg = json.loads(Path(config_file).read_text())
    work = Path(cfg["work"])
    key = cfg["key"]
    status = {"key": key}
    try:
        from bioadapt.backends.brian.standalone import StandaloneNetwork

        start = time.perf_counter()
        spec, generated = adaptive_network(cfg["neurons"], cfg["inputs"], cfg["in_degree"], cfg["max_delay"], cfg["steps"], cfg["seed"], cfg["synapses"])
        status["spec_s"] = time.perf_counter() - start
        net = StandaloneNetwork(
            spec,
            directory=cfg["project"],
            target=cfg["target"],
            compute_capability=cfg.get("compute_capability"),
            compile=cfg.get("compile", True),
            record_spikes=["hid"],
            settable_delays=cfg["settable_delays"],
            profile=cfg["profile"],
            preferences=cfg["preferences"],
            generated=generated,
        )
        status.update(build_s=net.compile_time, make_s=(net._device.timers.get("compile") or {}).get("make"), synapses=sum(p.size for p in spec.projections) or None)
    except Exception as exc:  # report and stop: the driver goes on with the others
        status["error"] = f"build: {type(exc).__name__}: {exc}"
        _write_json(work / f"{key}.built", status)
        return 1
    _write_json(work / f"{key}.built", status)
    if not cfg["run"]:
        return 0
    _wait_for(work / f"{key}.go")
    try:
        load = os.getloadavg()[0]
        result = net.run()
        status.update(
            loadavg=load,
            loop_time_brian=net.loop_time,
            phases=net.phase_times,
            profiling=net.profiling_info,
            spikes_hid=int(result.spike_count("hid")),
            input_spikes=int(len(spec.populations["inp"].input_steps)),
            brian_output=_brian_output(cfg["project"]),
        )
        if generated:
            status["synapses"] = int(sum(net.synapses(name)["i"].size for name in generated))
        index, steps = result.spikes["hid"]
        np.savez(work / f"{key}.npz", i=index.astype(np.int32), step=steps.astype(np.int32))
    except Exception as exc:
        status["error"] = f"run: {type(exc).__name__}: {exc}"
    _write_json(work / f"{key}.json", status)
    return 0 if "error" not in status else 1


def _results_dir(project: str) -> str:
    """The results folder of the latest run of ``project`` (each process that
    runs a project writes into its own ``results_PID_BUILD``)."""
    found = sorted(Path(project).glob("results*"), key=lambda p: p.stat().st_mtime)
    return str(found[-1]) if found else os.path.join(project, "results")


def _brian_output(project: str) -> list:
    """The lines Brian2CUDA prints about set-up (synapse creation, connectivity)."""
    try:
        lines = Path(_results_dir(project), "stdout.txt").read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if line.strip()][:40]


# ---------------------------------------------------------------- driver


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _preference(target: str, name: str) -> str:
    return name if "." in name else f"devices.{target}.{name}"


def parse_variant(text: str, defaults: dict) -> dict:
    """``"TARGET SIZE key=value ... [profile]"`` -> configuration."""
    words = text.split()
    if len(words) < 2 or words[0] not in TARGETS:
        raise SystemExit(f"--variant {text!r}: expected 'TARGET SIZE [settings]' with TARGET one of {', '.join(TARGETS)}")
    cfg = dict(defaults, target=words[0], neurons=int(float(words[1])), preferences=dict(defaults["preferences"]) if words[0] == "cuda_standalone" else {})
    for word in words[2:]:
        if word == "profile":
            cfg["profile"] = True
            continue
        name, sep, value = word.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: '{word}' is not NAME=VALUE or 'profile'")
        if name == "synapses":
            if value not in ("arrays", "generated"):
                raise SystemExit(f"--variant {text!r}: synapses must be 'arrays' or 'generated'")
            cfg["synapses"] = value
        elif name in ("steps", "in_degree"):
            cfg[name] = int(float(value))
        else:
            cfg["preferences"][_preference(words[0], name)] = _parse_value(value)
    return cfg


def label(cfg: dict) -> str:
    parts = [cfg["synapses"]] if cfg["synapses"] != "arrays" else []
    parts += ["profile"] if cfg["profile"] else []
    parts += [f"{k.rpartition('.')[2]}={v}" for k, v in cfg["preferences"].items() if not k.endswith("extra_make_args_unix")]
    return ", ".join(parts) or "default"


def machine_info(gpu) -> dict:
    from bioadapt.backends.brian import cuda

    try:
        toolkit = cuda.find_cuda_toolkit()
        nvcc = f"{toolkit.version:g} ({toolkit.nvcc})"
    except Exception:
        nvcc = "not found"
    versions = {}
    for name in ("bioadapt", "brian2", "brian2cuda", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": gpu.name if gpu else None,
        "compute_capability": gpu.compute_capability if gpu else None,
        "driver": _first_line("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader") if gpu else None,
        "cuda_toolkit": nvcc,
        "gcc": _first_line("g++", "--version"),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "loadavg_start": list(os.getloadavg()),
    }


def _first_line(*command: str) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "not found"
    return (out.strip().splitlines() or ["not found"])[0]


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def drive(configs: list, args, info: dict) -> list:
    """Build every configuration (``args.parallel_builds`` at a time), then run
    them one after another in the order given; returns their records."""
    from bioadapt.backends.brian.timing import MARKS, PHASES, read_marks, read_phase_times

    deadline = time.monotonic() + args.deadline
    work = Path(tempfile.mkdtemp(prefix="cuda_vs_cpp_", dir=args.workdir))
    jobs = max(1, math.ceil(2 * (os.cpu_count() or 1) / args.parallel_builds))
    records, procs, pending = [], {}, []
    for n, cfg in enumerate(configs):
        key = f"c{n:02d}_{cfg['target'].split('_')[0]}_{cfg['neurons']}"
        cfg = dict(cfg, key=key, work=str(work), project=str(work / key))
        cfg["preferences"] = dict(cfg["preferences"], **{"devices.cpp_standalone.extra_make_args_unix": ["-j", str(jobs)]})
        (work / f"{key}.cfg").write_text(json.dumps(cfg))
        records.append({"config": cfg, "label": label(cfg)})
        pending.append(n)
    log = open(work / "workers.log", "ab")
    print(f"{len(configs)} configurations, {args.parallel_builds} builds at a time (make -j{jobs}); work folder {work}", flush=True)

    def building():
        return [n for n, p in procs.items() if p.poll() is None and not (work / f"{records[n]['config']['key']}.built").exists()]

    # builds
    build_end = time.monotonic() + args.build_timeout
    while pending or building():
        while pending and len(building()) < args.parallel_builds:
            n = pending.pop(0)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(work / f"{records[n]['config']['key']}.cfg")]
            procs[n] = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        if time.monotonic() > min(build_end, deadline):
            for n in building():
                _kill(procs[n])
                records[n]["error"] = f"build: not done within {min(args.build_timeout, args.deadline):.0f} s (--build-timeout, --deadline)"
            for n in pending:
                records[n]["error"] = "build: not started (time limit)"
            pending = []
            break
        time.sleep(0.1)
    for n, rec in enumerate(records):
        built = _read(work / f"{rec['config']['key']}.built")
        if built:
            rec.update({k: v for k, v in built.items() if k != "key"})
            if "error" not in built:
                print(f"built {rec['config']['key']:28s} {rec['label']:40s} {built['build_s']:7.1f} s", flush=True)
        elif n in procs and "error" not in rec:
            rec["error"] = "build: worker ended without a result (see workers.log)"
    # runs
    for n, rec in enumerate(records):
        cfg = rec["config"]
        if "error" in rec:
            continue
        if not cfg["run"]:
            rec["not_run"] = "generated only (--generate-only)" if not cfg["compile"] else "built only: no GPU here"
            continue
        left = deadline - time.monotonic() - args.reserve
        limit = min(args.run_timeout, left)
        if limit < args.min_run:
            rec["error"] = f"run: skipped, {max(left, 0):.0f} s left before the deadline"
            _kill(procs[n])
            continue
        (work / f"{cfg['key']}.go").touch()
        proc, result_file = procs[n], work / f"{cfg['key']}.json"
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < limit:
            time.sleep(0.05)
        if proc.poll() is None:
            _kill(proc)
            results_dir = _results_dir(cfg["project"])
            marks = read_marks(results_dir)
            during = {m: p for m, p in zip(MARKS, PHASES + ("exit",))}.get(max(marks, key=lambda m: marks[m][0]) if marks else None, "start-up")
            rec["error"] = f"run: stopped after {limit:.0f} s, in phase '{during}'"
            rec["phases"] = read_phase_times(results_dir)  # those it finished
            rec["brian_output"] = _brian_output(cfg["project"])
        else:
            result = _read(result_file)
            if result is None:
                rec["error"] = "run: worker ended without a result (see workers.log)"
            else:
                rec.update({k: v for k, v in result.items() if k != "key"})
        rec["run_wall_s"] = time.monotonic() - start
        compare(records, n, work)
        _print_run(rec)
        write(args.out, args.name, info, vars(args), records)
    for proc in procs.values():
        _kill(proc)
    log.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return records


def compare(records: list, n: int, work: Path):
    """Spikes of a cuda_standalone run against the cpp_standalone run of the
    same network (same size, in-degree, steps, arrays), once both exist."""
    rec = records[n]
    cfg = rec["config"]
    if cfg["synapses"] != "arrays" or "error" in rec:
        return
    for other in records:
        o = other["config"]
        same = all(o[k] == cfg[k] for k in ("neurons", "in_degree", "steps", "synapses", "seed", "max_delay", "inputs"))
        if other is rec or not same or o["target"] == cfg["target"] or "error" in other or "spikes_hid" not in other:
            continue
        try:
            a, b = np.load(work / f"{cfg['key']}.npz"), np.load(work / f"{o['key']}.npz")
        except OSError:
            return
        ka = np.sort(a["step"].astype(np.int64) * cfg["neurons"] + a["i"])
        kb = np.sort(b["step"].astype(np.int64) * cfg["neurons"] + b["i"])
        common = np.intersect1d(ka, kb, assume_unique=True).size
        cuda_rec = rec if cfg["target"] == "cuda_standalone" else other
        cuda_rec["spikes_vs_cpp"] = {
            "identical": bool(np.array_equal(ka, kb)),
            "same_fraction": common / max(ka.size + kb.size - common, 1),
            "first_difference_step": _first_difference(ka, kb, cfg["neurons"]),
        }


def _first_difference(ka, kb, neurons: int):
    """The first step whose spikes differ between two runs (None: none), from
    their sorted keys ``step * neurons + i``."""
    m = min(ka.size, kb.size)
    differ = np.flatnonzero(ka[:m] != kb[:m])
    if differ.size:
        return int(min(ka[differ[0]], kb[differ[0]]) // neurons)
    if ka.size != kb.size:
        return int((ka[m] if ka.size > m else kb[m]) // neurons)
    return None


def _print_run(rec: dict):
    cfg = rec["config"]
    if "error" in rec:
        print(f"{cfg['key']:28s} {rec['label']:30s} {rec['error']} phases {json.dumps(rec.get('phases'))}", flush=True)
        return
    ph = rec["phases"]
    print(
        f"{cfg['key']:28s} {rec['label']:30s} init {ph.get('init', float('nan')):7.2f} setup {ph.get('setup', float('nan')):7.2f} "
        f"loop {ph.get('loop', float('nan')):8.3f} (Brian2 {rec['loop_time_brian']:8.3f}) write {ph.get('write', float('nan')):6.2f} "
        f"binary {ph.get('binary', float('nan')):7.2f} s  {rec['spikes_hid']} spikes",
        flush=True,
    )


# ---------------------------------------------------------------- output


def _f(value, digits=3):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _wc(phases: dict, name: str, digits: int = 2) -> str:
    """A phase's wall time with its CPU time in parentheses."""
    if name not in phases:
        return "-"
    cpu = phases.get(f"{name}_cpu")
    return f"{phases[name]:.{digits}f}" + (f" ({cpu:.{digits}f})" if cpu is not None else "")


def markdown(info: dict, settings: dict, records: list) -> str:
    gpu = f"{info['gpu']} (compute capability {info['compute_capability']:g}, driver {info['driver']}), " if info["gpu"] else "no GPU, "
    lines = [
        f"# cuda_standalone vs cpp_standalone: {settings['name']}",
        "",
        f"`{info['command']}`  ",
        f"{info['date']}, {gpu}{info['cpu']} ({info['cores']} cores), CUDA {info['cuda_toolkit']}, Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f", commit {info['commit']}  ",
        f"load average {info['loadavg_start'][0]:.2f} at start, {os.getloadavg()[0]:.2f} now (per run: `loadavg` in the JSON)",
        "",
        "Seconds, wall clock (in parentheses: CPU time of the binary's process). build: Brian2 objects, code generation and compilation; "
        "init: binary start to arrays loaded; setup: synapses and spike queues; loop: simulation loop (GPU synchronised at both ends; "
        "Brian2's own std::clock loop time beside it); write: all arrays to disk; process: start-up and exit outside main; read: spikes back into Python.",
        "",
        "| target | neurons | synapses | steps | variant | build | init | setup | loop | Brian2 loop | ms/step | write | process | binary | read | spikes | rate Hz |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rec in records:
        cfg, ph = rec["config"], rec.get("phases") or {}
        loop = ph.get("loop")
        rate = rec["spikes_hid"] / (cfg["neurons"] * cfg["steps"] * 1e-3) if "spikes_hid" in rec else None
        lines.append(
            f"| {cfg['target'].split('_')[0]} | {cfg['neurons']} | {rec.get('synapses') or '-'} | {cfg['steps']} | {rec['label']} | {_f(rec.get('build_s'), 1)} | "
            f"{_wc(ph, 'init')} | {_wc(ph, 'setup')} | {_wc(ph, 'loop', 3)} | {_f(rec.get('loop_time_brian'))} | {_f(loop and 1e3 * loop / cfg['steps'], 3)} | "
            f"{_wc(ph, 'write')} | {_f(ph.get('process'), 2)} | {_f(ph.get('binary'), 2)} | {_f(ph.get('read'), 2)} | {rec.get('spikes_hid', '-')} | {_f(rate, 1)} |"
        )
    errors = [f"- {rec['config']['key']} ({rec['label']}): {rec.get('error') or rec['not_run']}" for rec in records if "error" in rec or "not_run" in rec]
    pairs = []
    for rec in records:
        if "spikes_vs_cpp" not in rec:
            continue
        cfg = rec["config"]
        cpp = next(
            o
            for o in records
            if o["config"]["target"] == "cpp_standalone" and all(o["config"][k] == cfg[k] for k in ("neurons", "in_degree", "steps", "synapses")) and "phases" in o and "spikes_hid" in o
        )
        cmp, a, b = rec["spikes_vs_cpp"], cpp["phases"]["loop"], rec["phases"]["loop"]
        pairs.append(
            f"| {cfg['neurons']} | {rec['label']} | {_f(a)} | {_f(b)} | {a / b:.2f}x | {_f(cpp['loop_time_brian'])} | {_f(rec['loop_time_brian'])} | "
            f"{cpp['phases']['binary']:.2f} | {rec['phases']['binary']:.2f} | {cpp['phases']['binary'] / rec['phases']['binary']:.2f}x | "
            f"{cpp['spikes_hid']} | {rec['spikes_hid']} | {'yes' if cmp['identical'] else 'no'} ({cmp['same_fraction']:.4f}) |"
        )
    if pairs:
        lines += [
            "",
            "Loop and whole binary, cpp_standalone (one CPU core) against cuda_standalone, same network (synapses from arrays):",
            "",
            "| neurons | cuda variant | cpp loop s | cuda loop s | loop speed-up | cpp Brian2 loop s | cuda Brian2 loop s | cpp binary s | cuda binary s | binary speed-up | spikes cpp | spikes cuda | identical spikes (fraction in common) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ] + pairs
    loading = []
    for rec in records:
        cfg = rec["config"]
        if cfg["synapses"] != "generated" or "phases" not in rec or "error" in rec:
            continue
        for o in records:
            c = o["config"]
            if c["synapses"] == "arrays" and "error" not in o and "phases" in o and all(c[k] == cfg[k] for k in ("target", "neurons", "in_degree", "steps")) and not c["preferences"].keys() - {"devices.cpp_standalone.extra_make_args_unix"}:
                a, g = o["phases"], rec["phases"]
                start = lambda ph, k="": ph.get("init" + k, math.nan) + ph.get("setup" + k, math.nan)  # noqa: E731
                loading.append(
                    f"| {cfg['target'].split('_')[0]} | {cfg['neurons']} | {o.get('synapses')} | {rec.get('synapses')} | {start(a):.2f} ({start(a, '_cpu'):.2f}) | {start(g):.2f} ({start(g, '_cpu'):.2f}) | "
                    f"{_wc(a, 'write')} | {_wc(g, 'write')} | {a['binary']:.2f} | {g['binary']:.2f} |"
                )
                break
    if loading:
        lines += [
            "",
            "Synapses loaded from arrays against drawn by the binary (init + setup, seconds wall clock, CPU in parentheses):",
            "",
            "| target | neurons | synapses (arrays) | synapses (generated) | init + setup, arrays | init + setup, generated | write, arrays | write, generated | binary, arrays | binary, generated |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ] + loading
    profiled = [rec for rec in records if rec.get("profiling")]
    for rec in profiled:
        total = sum(rec["profiling"].values())
        top = list(rec["profiling"].items())[:8]
        lines += ["", f"Profile of {rec['config']['target']} at {rec['config']['neurons']} neurons ({rec['label']}), seconds of {total:.3f} in code objects:", ""]
        lines += [f"- {name}: {seconds:.3f}" for name, seconds in top]
    if errors:
        lines += ["", "Not measured:", ""] + errors
    return "\n".join(lines) + "\n"


def write(out: str, name: str, info: dict, settings: dict, records: list):
    os.makedirs(out, exist_ok=True)
    info = dict(info, loadavg_end=list(os.getloadavg()))
    _write_json(Path(out, f"{name}.json"), {"machine": info, "settings": settings, "records": records})
    Path(out, f"{name}.md").write_text(markdown(info, settings, records))


def per_size(text: str, sizes: list, what: str) -> list:
    values = [int(float(v)) for v in text.split(",")]
    if len(values) == 1:
        values *= len(sizes)
    if len(values) != len(sizes):
        raise SystemExit(f"--{what}: give one number or one per size ({len(sizes)}), got {len(values)}")
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="comma-separated numbers of neurons")
    parser.add_argument("--steps", default="1000", help="time steps of 1 ms: one number, or one per size")
    parser.add_argument("--in-degree", default="100", help="synapses per neuron from each source: one number, or one per size")
    parser.add_argument("--inputs", type=int, default=1000, help="Poisson inputs (10 Hz)")
    parser.add_argument("--max-delay", type=int, default=5, help="largest delay in steps")
    parser.add_argument("--targets", default=",".join(TARGETS), help="targets of the base configurations")
    parser.add_argument("--cpp-max", type=float, default=1e6, help="largest network also run with cpp_standalone")
    parser.add_argument("--synapses", choices=("arrays", "generated"), default="arrays", help="base configurations: synapses loaded from arrays, or drawn by the binary")
    parser.add_argument("--settable-delays", action="store_true", help="delays as a run_args-settable variable (the earlier default) instead of compiled in")
    parser.add_argument("--cuda-option", action="append", default=[], metavar="NAME=VALUE", help="Brian2CUDA preference for every cuda_standalone configuration")
    parser.add_argument("--variant", action="append", default=[], metavar="'TARGET SIZE SETTINGS'", help="a further configuration, run after the base ones")
    parser.add_argument("--compute-capability", type=float, help="default: the GPU's (7.5 without one)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel-builds", type=int, default=1, help="configurations built at a time")
    parser.add_argument("--generate-only", action="store_true", help="generate the projects' code, compile and run nothing")
    parser.add_argument("--deadline", type=float, default=1e9, help="seconds from now after which no run starts or continues")
    parser.add_argument("--build-timeout", type=float, default=1800, help="seconds for all builds")
    parser.add_argument("--run-timeout", type=float, default=1800, help="seconds for one run")
    parser.add_argument("--reserve", type=float, default=5, help="seconds kept free before the deadline")
    parser.add_argument("--min-run", type=float, default=10, help="no run is started with fewer seconds left")
    parser.add_argument("--workdir", help="folder for the projects (default: the system's temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the projects and spike files")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for NAME.json and NAME.md")
    parser.add_argument("--name", default="cuda_vs_cpp", help="file name of the results")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)

    from bioadapt.backends.brian import cuda

    gpus = cuda.find_gpus()
    info = machine_info(gpus[0] if gpus else None)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    steps, degrees = per_size(args.steps, sizes, "steps"), per_size(args.in_degree, sizes, "in-degree")
    cuda_prefs = {}
    for option in args.cuda_option:
        name, sep, value = option.partition("=")
        if not sep:
            parser.error(f"--cuda-option {option!r}: expected NAME=VALUE")
        cuda_prefs[_preference("cuda_standalone", name)] = _parse_value(value)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"--targets: unknown {sorted(unknown)}; use {', '.join(TARGETS)}")
    base = {
        "inputs": args.inputs,
        "max_delay": args.max_delay,
        "seed": args.seed,
        "synapses": args.synapses,
        "settable_delays": args.settable_delays,
        "profile": False,
        "compute_capability": args.compute_capability,
        "preferences": {},
    }
    configs = []
    for size, n_steps, degree in zip(sizes, steps, degrees):
        for target in targets:
            if target == "cpp_standalone" and size > args.cpp_max:
                continue
            configs.append(dict(base, target=target, neurons=size, steps=n_steps, in_degree=degree, preferences=dict(cuda_prefs) if target == "cuda_standalone" else {}))
    for text in args.variant:
        size = int(float(text.split()[1])) if len(text.split()) > 1 else 0
        defaults = dict(base, steps=steps[sizes.index(size)] if size in sizes else steps[-1], in_degree=degrees[sizes.index(size)] if size in sizes else degrees[-1], preferences=cuda_prefs)
        configs.append(parse_variant(text, defaults))
    for cfg in configs:
        cfg["compile"] = not args.generate_only
        cfg["run"] = cfg["compile"] and (cfg["target"] == "cpp_standalone" or bool(gpus))
    if not gpus and any(c["target"] == "cuda_standalone" for c in configs):
        print("No GPU: cuda_standalone configurations are built, not run.", flush=True)
    records = drive(configs, args, info)
    write(args.out, args.name, info, vars(args), records)
    print(f"wrote {args.out}/{args.name}.json and {args.name}.md")
    return 0 if all("error" not in r for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
