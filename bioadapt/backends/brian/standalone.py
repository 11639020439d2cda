"""Standalone projects compiled once per network structure, rerun with new values.

`StandaloneNetwork` generates and compiles the C++ (cpp_standalone) or CUDA
(cuda_standalone, Brian2CUDA) project of a network once.
`StandaloneNetwork.run` then executes the binary with new parameter values,
weights, delays, drives and input spikes passed as Brian2 ``run_args``
(about 10 ms of overhead per run instead of seconds of compilation). The
structure (populations, sizes, which synapses exist, recorded variables) is
fixed at compile time, and so is the seed of Brian2's random numbers (the
network's ``seed``): every run of the binary draws the same ``rand()``,
``randn()`` and ``xi`` values.

With ``samples=K`` the binary runs K samples one after another in one
process (`StandaloneNetwork.run_samples`): one run of K * n_steps steps in
which, at the start of every sample, every variable that code may change is
set back to its initial value and refractoriness ends, so that each sample
starts as a fresh run does; one process start and one loading of the arrays
serve the whole batch. Networks whose state outlives that restore (delayed
synapses, synaptic variables written by ``on_pre``) or whose code reads the
absolute time are refused (`bioadapt.program.analysis.check_samples`).

After every run, `StandaloneNetwork.phase_times` says where the binary's
wall time went (loading, set-up, the loop, writing results; `timing`), and
`StandaloneNetwork.loop_time` is Brian2's own timing of the loop. With
``profile=True``, `StandaloneNetwork.profiling_info` adds Brian2's time per
code object. ``generated=`` lets the binary create a projection's synapses
itself (`GeneratedSynapses`) instead of loading them from arrays.

Brian2 keeps one device per standalone target and process, so only the most
recently built `StandaloneNetwork` of a target can run; an older one raises
`BackendError`. A cuda_standalone project is generated and compiled without a
GPU; running it needs one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np
from brian2 import Quantity, second
from brian2.core.base import BrianObjectException

from ...errors import BackendError
from ...network.spec import NetworkSpec
from ...result import SimulationResult, sort_spikes
from .build import INITIAL_PREFIX, GeneratedSynapses, build_network, describe_object, input_raster, root_message, segments, set_values
from .cuda import CUDA_CLOCK_NAME
from .device import brian_device, latest_build, new_build
from .timing import add_phase_timers, read_phase_times, read_profiling_info

__all__ = ["GeneratedSynapses", "StandaloneNetwork", "STANDALONE_TARGETS"]

STANDALONE_TARGETS = ("cpp_standalone", "cuda_standalone")

class StandaloneNetwork:
    """A network compiled once with cpp_standalone or cuda_standalone.

    Parameters
    ----------
    spec : NetworkSpec
        Structure and default values.
    record : dict, optional
        ``population -> [variables]`` recorded at the end of every step, or of
        every ``record_every``-th (steps 0, k, 2k, ...; with ``samples > 1``
        the steps of a sample must be a multiple of it).
    changes : list, optional
        ``[(step, {population: {variable: SI array}})]``: values set in the
        binary between its ``run()`` calls (`bioadapt.simulate`'s ``changes``).
    drive_vars : dict, optional
        ``population -> [variables]`` that `run` may drive (values written at
        the start of every step).
    directory : str, optional
        Project folder (kept). A temporary folder otherwise, removed by `close`.
    fast_math : bool
        Compile with fast math (faster, not bit-faithful).
    target : {"cpp_standalone", "cuda_standalone"}
    compile : bool
        False: only generate the project (`run` then refuses).
    compute_capability : float, optional
        cuda_standalone: GPU architecture to compile for (default: the GPU's,
        see `cuda.cuda_settings`).
    samples : int
        Samples per binary call (`run_samples`); 1: `run`.
    record_spikes : bool or list of population names
        Record the spikes of every spiking population (True, the default),
        of none (False: results carry only the recorded variables, e.g. a
        readout for a test set's accuracy; monitoring every spike is about
        a tenth of the simulation loop of a network firing at 20 Hz), or of
        the named populations (inputs included).
    settable_delays : bool
        True: `run` may set new delays (``delay_steps=``). False: the delays
        are compiled in, and a projection whose synapses share one delay
        (all 0, say) uses Brian2's scalar pathway delay, whose spike queue
        appends a neuron's synapses in one block (same spikes, faster).

    Raises
    ------
    BackendError
        A missing tool (compiler, brian2cuda, CUDA toolkit), or a network the
        target rejects.

    Examples
    --------
    Compiled once, rerun with new values without recompiling:

    >>> from bioadapt import network_from_dict, simulate
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "50*ms", "seed": 0,
    ...     "populations": {"inp": {"kind": "poisson", "size": 5, "rate": "100*Hz"},
    ...                     "hid": {"model": "adlif", "size": 8}},
    ...     "projections": [{"name": "input", "source": "inp", "target": "hid",
    ...                      "on_pre": "I_post += weight", "connect": "all_to_all", "weight": 2.0}]})
    >>> net = StandaloneNetwork(spec, record={"hid": ["u"]})
    >>> a = net.run()
    >>> b = net.run(weights={"input": np.full(40, 0.5)})
    >>> a.spike_set("hid") == simulate(spec, backend="torch", math="libm").spike_set("hid")
    True
    >>> b.spike_count("hid") < a.spike_count("hid")
    True

    On a GPU, and a whole set of samples in one call:

    >>> gpu = StandaloneNetwork(spec, target="cuda_standalone", compute_capability=9.0)  # doctest: +SKIP
    >>> batch = StandaloneNetwork(spec, samples=64)  # doctest: +SKIP
    >>> results = batch.run_samples(inputs={"inp": rasters})  # rasters (64, n_steps, size)  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: NetworkSpec,
        record: dict | None = None,
        drive_vars: dict | None = None,
        directory: str | None = None,
        fast_math: bool = False,
        target: str = "cpp_standalone",
        compile: bool = True,
        compute_capability: float | None = None,
        samples: int = 1,
        record_spikes: bool | list = True,
        settable_delays: bool = True,
        profile: bool = False,
        preferences: dict | None = None,
        generated: dict | None = None,
        record_every: int = 1,
        changes: list | None = None,
    ):
        if target not in STANDALONE_TARGETS:
            raise BackendError(f"Unknown standalone target '{target}'; use one of {', '.join(STANDALONE_TARGETS)}.")
        cuda = None
        if target == "cuda_standalone":
            from .cuda import cuda_settings

            cuda = cuda_settings(compute_capability, compile=compile)
        if not isinstance(samples, int) or samples < 1:
            raise BackendError(f"samples must be a positive integer, got {samples!r}.")
        if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
            raise BackendError(f"record_every must be a positive number of steps, got {record_every!r}.")
        if changes and samples > 1:
            raise BackendError("changes during a run and samples > 1 cannot be combined; run one sample per binary call.")
        if samples > 1 and spec.n_steps % record_every:
            raise BackendError(f"record_every = {record_every} steps with samples > 1: the {spec.n_steps} steps of a sample must be a whole number of recording intervals.")
        self.record_every = record_every
        self.generated = dict(generated or {})
        if self.generated and samples > 1:
            raise BackendError("generated synapses and samples > 1 cannot be combined; run one sample per binary call.")
        for name, rule in self.generated.items():
            if not isinstance(rule, GeneratedSynapses):
                raise BackendError(f"generated['{name}'] must be a GeneratedSynapses, got {type(rule).__name__}.")
        self.spec = spec
        self.samples = samples
        self.target = target
        self.compiled = compile
        self.compute_capability = None if cuda is None else cuda.compute_capability
        self.record = {pop: list(v) for pop, v in (record or {}).items()}
        self.record_spikes = record_spikes if isinstance(record_spikes, bool) else list(record_spikes)
        self.drive_vars = {pop: list(v) for pop, v in (drive_vars or {}).items()}
        self._own_directory = directory is None
        self.directory = tempfile.mkdtemp(prefix=f"bioadapt_{target.split('_')[0]}_") if directory is None else directory
        start = time.perf_counter()
        with brian_device(target, directory=self.directory, fast_math=fast_math, keep=True, cuda=cuda, seed=spec.seed, preferences=preferences) as (device, _):
            self._device = device
            placeholder = {pop: {var: np.zeros((samples * spec.n_steps, spec.populations[pop].size)) for var in vars_} for pop, vars_ in self.drive_vars.items()}
            clock = {"clock_name": CUDA_CLOCK_NAME} if target == "cuda_standalone" else {}
            if not isinstance(record_spikes, bool) and (isinstance(record_spikes, str) or not all(isinstance(p, str) for p in record_spikes)):
                raise BackendError(f"record_spikes must be True, False or a list of population names, got {record_spikes!r}.")
            self.settable_delays = bool(settable_delays)
            self.net = build_network(
                spec, record=self.record, drive=placeholder, standalone_inputs=True, samples=samples, record_spikes=record_spikes, settable_delays=self.settable_delays, generated=self.generated,
                record_every=record_every, **clock
            )
            device.apply_run_args()
            add_phase_timers(device, target)
            for proj in spec.projections:
                if proj.on_pre is not None and proj.size and self.settable_delays and not proj.several_pathways:
                    self.net.synapses[proj.name].pre.delay = "delay_value"
            try:
                current = {}
                for first, end, change in segments(samples * spec.n_steps, changes or []):  # run(); G.v = ...; run() in the binary
                    set_values(self.net, spec, change, current)
                    self.net.network.run((end - first) * spec.dt * second, namespace={}, profile=bool(profile))
            except BrianObjectException as exc:
                raise BackendError(f"{spec.source}: {describe_object(spec, getattr(exc, '_brian_objname', '?'))}: {root_message(exc)}") from None
            try:
                device.build(directory=self.directory, compile=compile, run=False, with_output=False)
            except Exception as exc:
                what = "compilation" if compile else "code generation"
                raise BackendError(f"{spec.source}: {target} {what} failed in {self.directory} (run make there to see the compiler's messages): {root_message(exc)}") from None
        self._generation = new_build(target)
        #: results folder of this network's runs inside the project (one per process and build, so that
        #: processes running one project folder do not read each other's results)
        self.results_directory = f"results_{os.getpid()}_{self._generation}"
        #: seconds for building the Brian2 objects, generating and (if asked) compiling
        self.compile_time = time.perf_counter() - start
        self.runs = 0
        #: CPU seconds of the last binary run's simulation loop (``run``: one
        #: sample; ``run_samples``: all samples), Brian2's own timing
        #: (``std::clock`` around the loop, without loading and saving arrays)
        self.loop_time = None
        #: seconds of the last run's phases (`timing.read_phase_times`: init,
        #: setup, loop, finish, write, process, binary; wall clock, and CPU
        #: time as ``init_cpu`` ...) and ``read``, the reading of its results
        #: back into Python
        self.phase_times = None
        self.profile = bool(profile)
        #: ``code object -> seconds`` of the last run (``profile=True``)
        self.profiling_info = None

    def run(self, values: dict | None = None, weights: dict | None = None, delay_steps: dict | None = None, drive: dict | None = None, inputs: dict | None = None) -> SimulationResult:
        """Run the compiled binary, optionally with new values.

        Parameters
        ----------
        values : dict, optional
            ``population -> {variable: array (size,)}`` in SI units (parameters
            and initial states).
        weights : dict, optional
            ``projection -> array (n_synapses,)`` in SI units.
        delay_steps : dict, optional
            ``projection -> int array (n_synapses,)`` delays in steps.
        drive : dict, optional
            ``population -> {variable: array (n_steps, size)}`` in SI units
            (amperes for a current in ``amp``).
        inputs : dict, optional
            ``input population -> 0/1 array (n_steps, size)``.
        """
        if self.samples != 1:
            raise BackendError(f"This StandaloneNetwork runs {self.samples} samples per call; use run_samples.")
        return self._execute(values, weights, delay_steps, drive or {}, inputs or {}, 1, single=True)[0]

    def run_samples(self, inputs: dict | None = None, drive: dict | None = None, values: dict | None = None, weights: dict | None = None, delay_steps: dict | None = None) -> list:
        """Run up to ``samples`` samples in one call of the binary; one
        `SimulationResult` per sample, each equal to what a fresh `run` of
        that sample gives (for a network with noise, the samples of one call
        draw successive random numbers, so only the first sample equals its
        fresh run).

        ``inputs`` (``population -> array (n, n_steps, size)``) and ``drive``
        (``population -> {variable: array (n, n_steps, size)}``) hold the
        samples; ``values``, ``weights`` and ``delay_steps`` are shared (see
        `run`). With fewer samples than compiled, the binary still simulates
        all of them (the rest with no input spikes and zero drives) and only
        the first ``n`` are returned.
        """
        arrays = list((inputs or {}).values()) + [a for d in (drive or {}).values() for a in d.values()]
        counts = {np.shape(a)[0] if np.ndim(a) else 0 for a in arrays}
        if len(counts) > 1:
            raise BackendError(f"run_samples: inputs and drives hold different numbers of samples ({sorted(counts)}).")
        n = counts.pop() if counts else self.samples
        if not 1 <= n <= self.samples:
            raise BackendError(f"run_samples: {n} samples given; this network was compiled for at most {self.samples} (samples=...).")
        return self._execute(values, weights, delay_steps, drive or {}, inputs or {}, n)

    @property
    def superseded(self) -> bool:
        """Whether a later build of this target in this process replaced this one
        (Brian2 keeps one device per target: only the project built last runs)."""
        return self._generation != latest_build(self.target)

    def _execute(self, values, weights, delay_steps, drive, inputs, n, single=False) -> list:
        """Run the binary on ``n`` samples (``single``: drive and inputs are one
        sample's arrays, without the sample axis)."""
        if self.superseded:
            raise BackendError(f"This StandaloneNetwork was superseded by a later {self.target} build in this process (Brian2 keeps one device per target); build it again.")
        if not self.compiled:
            raise BackendError(f"This StandaloneNetwork was only generated (compile=False) in {self.directory}; build it with compile=True to run it.")
        if self.target == "cuda_standalone":
            from .cuda import require_gpu

            require_gpu()
        start = time.perf_counter()
        spec, net = self.spec, self.net
        steps, total = spec.n_steps, self.samples * spec.n_steps
        run_args = {}
        for pop, variables in (values or {}).items():
            group = self._group(pop)
            size = spec.populations[pop].size
            for var, value in variables.items():
                if var not in group.variables or var.startswith(INITIAL_PREFIX):
                    raise BackendError(f"run(values=...): '{var}' is not a variable of population '{pop}'.")
                value = Quantity(self._shaped(value, (size,), f"{pop}.{var}"), dim=group.variables[var].dim)
                run_args[getattr(group, var)] = value
                if var in net.restored.get(pop, ()):  # also the value every sample starts from
                    run_args[getattr(group, INITIAL_PREFIX + var)] = value
            system = net.linear_systems.get(pop)
            if system is not None:  # the exact scheme's propagators follow the parameters
                merged = dict(spec.populations[pop].values, **{k: np.asarray(v, dtype=float) for k, v in variables.items()})
                for var, value in system.propagators(merged, size, spec.dt).items():
                    run_args[getattr(group, var)] = value
        for name in list(weights or {}) + list(delay_steps or {}):
            if name in self.generated:
                raise BackendError(f"run: the synapses of '{name}' are generated by the binary (generated=...); their weights and delays are fixed in its code.")
        for name, value in (weights or {}).items():
            syn = self._synapses(name)
            run_args[syn.weight] = Quantity(self._shaped(value, (self._proj(name).size,), f"{name}.weight"), dim=syn.variables["weight"].dim)
        for name, value in (delay_steps or {}).items():
            syn = self._synapses(name)
            if not self.settable_delays:
                raise BackendError(f"run(delay_steps=...): this network was compiled with settable_delays=False (delays fixed); build it with settable_delays=True to set '{name}'.")
            if self._proj(name).several_pathways:
                raise BackendError(f"run(delay_steps=...): projection '{name}' has several on_pre pathways, whose delays are fixed in the binary; delays are settable for projections with one.")
            delays = np.asarray(value)
            if delays.shape != (self._proj(name).size,) or not np.issubdtype(delays.dtype, np.integer) or np.any(delays < 0):
                raise BackendError(f"run(delay_steps=...): '{name}' needs {self._proj(name).size} non-negative integers.")
            if self.samples > 1 and np.any(delays > 0):
                raise BackendError(f"run_samples(delay_steps=...): '{name}' would get delays; spikes in flight would reach the next sample. Compile with samples=1 for delays.")
            run_args[syn.delay_value] = delays * spec.dt * second
        for pop, variables in drive.items():
            for var, value in variables.items():
                key = (pop, var)
                if key not in net.timed_arrays:
                    raise BackendError(f"run(drive=...): '{pop}.{var}' was not declared in drive_vars when the network was compiled.")
                timed = net.timed_arrays[key]  # SI values get the variable's unit
                run_args[timed] = Quantity(self._stacked(value, n, (steps, spec.populations[pop].size), total, f"drive {pop}.{var}", single), dim=timed.dim)
        for pop, raster in inputs.items():
            if (pop, None) not in net.timed_arrays:
                raise BackendError(f"run(inputs=...): '{pop}' is not an input population.")
            run_args[net.timed_arrays[(pop, None)]] = self._stacked(raster, n, (steps, spec.populations[pop].size), total, f"inputs {pop}", single, binary=True)
        if n < self.samples:  # the samples not given: no input spikes (zero drives apply by default)
            for (pop, var), timed in net.timed_arrays.items():
                if timed not in run_args:
                    size = spec.populations[pop].size
                    default = np.zeros((n, steps, size)) if var is not None else np.broadcast_to(input_raster(spec.populations[pop], steps), (n, steps, size))
                    run_args[timed] = Quantity(self._stacked(default, n, (steps, size), total, ""), dim=timed.dim)
        try:
            self._device.run(directory=self.directory, results_directory=self.results_directory, with_output=False, run_args=run_args)
        except Exception as exc:
            raise BackendError(f"{spec.source}: the {self.target} binary failed in {self.directory}: {root_message(exc)}") from None
        self.runs += 1
        self.loop_time = float(getattr(self._device, "_last_run_time", float("nan")))
        results_dir = os.path.join(self.directory, self.results_directory)
        self.phase_times = read_phase_times(results_dir, self._device.timers.get("run_binary"))
        self.profiling_info = read_profiling_info(results_dir) if self.profile else None
        read_start = time.perf_counter()
        empty = np.zeros(0, dtype=np.int64)
        # every population (none spiking: empty), or only those whose spikes were recorded
        names = spec.populations if self.record_spikes is True else net.spike_monitors
        spikes = [{name: (empty, empty) for name in names} for _ in range(n)]
        for name, mon in net.spike_monitors.items():
            step = np.round(np.asarray(mon.t_) / spec.dt).astype(np.int64)
            index = np.asarray(mon.i[:])
            which = step // steps
            for k in range(n):
                mine = which == k
                spikes[k][name] = sort_spikes(index[mine], step[mine] - k * steps)
        traces = [{} for _ in range(n)]
        for name, mon in net.state_monitors.items():
            for var in self.record[name]:
                values_ = np.asarray(getattr(mon, var + "_"))  # (size, samples * n_steps / record_every)
                rows = -(-steps // self.record_every)  # a sample's steps are whole intervals when samples > 1
                for k in range(n):
                    traces[k].setdefault(name, {})[var] = values_[:, k * rows : (k + 1) * rows].T.copy()
        end = time.perf_counter()
        self.phase_times["read"] = end - read_start
        wall = (end - start) / n
        return [SimulationResult(spikes=spikes[k], traces=traces[k], backend=self.target, dt=spec.dt, n_steps=steps, wall_time=wall, sizes=spec.sizes(), record_every=self.record_every) for k in range(n)]

    def synapses(self, name: str) -> dict:
        """The synapses of projection ``name`` in the binary after a run:
        ``i``, ``j``, ``weight`` (SI) and ``delay_steps`` arrays (a dict by
        pathway for several on_pre pathways; for generated synapses, what
        the binary drew), and the variables of its
        synapse model at the end of the run (plastic weights, traces; SI)."""
        if not self.runs:
            raise BackendError("synapses: run the network first; the binary creates its synapses when it runs.")
        syn = self._synapses(name)
        if not len(syn):
            return {"i": np.zeros(0, np.int64), "j": np.zeros(0, np.int64), "weight": np.zeros(0), "delay_steps": np.zeros(0, np.int64)}
        out = {"i": np.asarray(syn.i[:], dtype=np.int64), "j": np.asarray(syn.j[:], dtype=np.int64), "weight": np.asarray(syn.weight_[:], dtype=np.float64)}
        proj = self._proj(name)
        steps = {}
        for pathway, _, _ in proj.pathways:  # S.delay, or S.up.delay, S.down.delay for several pathways
            delay = np.broadcast_to(np.asarray(getattr(syn, pathway).delay_[:], dtype=np.float64), out["i"].shape)
            steps[pathway] = np.round(delay / self.spec.dt).astype(np.int64)
        if steps:
            out["delay_steps"] = steps if proj.several_pathways else steps["pre"]
        for var in proj.settable[1:]:  # the synapse model's variables (weight is above)
            out[var] = np.array(syn.variables[var].get_value(), dtype=np.float64)
        return out

    def default_inputs(self) -> dict:
        """The config's input spikes as 0/1 rasters (n_steps, size)."""
        return {p.name: input_raster(p, self.spec.n_steps) for p in self.spec.populations.values() if p.is_input}

    def close(self):
        """Remove a temporary project folder."""
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _group(self, pop):
        if pop not in self.net.groups or self.spec.populations[pop].is_input:
            raise BackendError(f"'{pop}' is not a neuron population of this network.")
        return self.net.groups[pop]

    def _proj(self, name):
        for proj in self.spec.projections:
            if proj.name == name:
                return proj
        raise BackendError(f"'{name}' is not a projection of this network ({', '.join(p.name for p in self.spec.projections)}).")

    def _synapses(self, name):
        self._proj(name)
        return self.net.synapses[name]

    @classmethod
    def _stacked(cls, value, n, shape, total, what, single=False, binary=False):
        """``n`` samples ``(n, *shape)`` (``single``: one sample ``shape``) as
        one array over all compiled samples (``total`` rows; samples not given
        are zeros)."""
        array = cls._shaped(value, shape, what, binary) if single else cls._shaped(value, (n, *shape), what, binary)
        if n * shape[0] == total:
            return array.reshape(total, shape[1])
        out = np.zeros((total, shape[1]))
        out[: n * shape[0]] = array.reshape(-1, shape[1])
        return out

    @staticmethod
    def _shaped(value, shape, what, binary=False):
        array = np.asarray(value, dtype=np.float64)
        if array.shape != shape:
            raise BackendError(f"{what}: expected shape {shape}, got {array.shape}.")
        if np.any(np.isnan(array)):
            raise BackendError(f"{what}: contains NaN.")
        if binary and not np.all((array == 0) | (array == 1)):
            raise BackendError(f"{what}: expected 0/1 spikes; a Brian2 spike raster cannot carry counts or other values (the twin weights events by such values).")
        return array
