"""Build Brian2 objects from a `NetworkSpec`.

The same builder serves the numpy runtime, cpp_standalone and the torch twin,
which reads the per-step program out of the objects built here. Every object
shares one `Clock`; spike-triggered synapses get explicit ``i``/``j`` arrays and
delays that are exact multiples of ``dt``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np
from brian2 import (
    Clock,
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    Function,
    linked_var,
    TimedArray,
    second,
)
from brian2.units import fundamentalunits as fu

from ...errors import BackendError, ConfigError, SchemeNotApplicable
from ...schemes.symplectic_euler import after_reset_code
from ...network import transfer
from ...network.record import check_record
from ...network.spec import NetworkSpec, PopulationSpec, ProjectionSpec
from ...noise import NOISE_PREFIX, XI_NAME, NoiseSource, rewrite_noise
from ...program.analysis import check_drives, check_samples, restored_names
from .scheme import scheme_result
from ...quantities import parse_quantity, unit_text

__all__ = ["BrianNetwork", "GeneratedSynapses", "build_network", "set_values", "segments"]

#: Order of program blocks inside their slot: after the group's state updater
#: (order 0), so that refractoriness is updated before a program reads it.
PROGRAM_ORDER = 1
#: Order of [every_step] blocks: after the scheme's and program's code of their slot.
EVERY_STEP_ORDER = 2
#: Order of external drives in the ``start`` slot: before anything else.
DRIVE_ORDER = -10
#: Order of the restore of the initial state between samples: before the drives.
RESTORE_ORDER = -20


@dataclass
class BrianNetwork:
    """The Brian2 objects of one network, by role."""

    network: Network
    clock: Clock
    groups: dict = field(default_factory=dict)
    synapses: dict = field(default_factory=dict)
    spike_monitors: dict = field(default_factory=dict)
    state_monitors: dict = field(default_factory=dict)
    #: names of run_regularly objects that apply external drives (``{pop}_drive_{var}``)
    drive_objects: dict = field(default_factory=dict)
    #: TimedArrays by ``(population, variable)`` (drives) and ``(population, None)`` (input spikes)
    timed_arrays: dict = field(default_factory=dict)
    #: derived-constant systems by population (exact propagators, symplectic_euler decays)
    linear_systems: dict = field(default_factory=dict)
    #: variables set back to their initial values between samples (``build_network(samples > 1)``)
    #: by population; each has a copy ``bioadapt_initial_<name>``
    restored: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedSynapses:
    """Synapses of a projection that Brian2 creates itself, in the generated
    code, instead of from the spec's explicit ``i``/``j`` arrays.

    A standalone binary then draws them with its own random numbers when it
    starts (`StandaloneNetwork` ``generated=``), instead of loading arrays
    written at build time: a network too large to pass as arrays, or a
    measurement of that loading. The binary's synapses are not the spec's
    (it has none for such a projection), so the twin and other targets do not
    simulate the same network; `StandaloneNetwork.synapses` reads back what
    the binary made.

    Parameters
    ----------
    connect : dict
        Keyword arguments of Brian2's ``Synapses.connect``: ``condition``,
        ``i``, ``j`` (generator syntax, e.g. ``{"i": "k for k in
        sample(N_pre, size=100)"}`` for 100 synapses into every target
        neuron), ``p``, ``n``.
    weight : str or float
        Brian2 code (or a number) for the synaptic variable ``weight``, in its
        unit (``randn()``, ``rand()``, ``i``, ``j``, ``N_incoming`` ...).
    delay_steps : int or str
        One delay in steps for every synapse (Brian2's scalar pathway delay),
        or Brian2 code giving an integer number of steps per synapse, e.g.
        ``"int(rand() * 6)"``.
    """

    connect: dict
    weight: str | float
    delay_steps: int | str = 0

    CONNECT_KEYS = frozenset({"condition", "i", "j", "p", "n"})

    def __post_init__(self):
        unknown = set(self.connect) - self.CONNECT_KEYS
        if not isinstance(self.connect, dict) or not self.connect or unknown:
            raise BackendError(f"GeneratedSynapses: connect must be a non-empty dict of Synapses.connect arguments ({', '.join(sorted(self.CONNECT_KEYS))}); got {self.connect!r}.")
        if isinstance(self.delay_steps, bool) or not (isinstance(self.delay_steps, str) or (isinstance(self.delay_steps, (int, np.integer)) and self.delay_steps >= 0)):
            raise BackendError(f"GeneratedSynapses: delay_steps must be a non-negative integer or Brian2 code, got {self.delay_steps!r}.")


def root_message(exc: BaseException) -> str:
    """The innermost message of a (chained) Brian2 exception, on one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, KeyError) and exc.args:  # Brian2 looking up a name its code uses
        found = re.search(r'identifier "(\w+)" could not be resolved', str(exc.args[0]))
        name = found.group(1) if found else exc.args[0]
        return (f"unknown name {name!r}: not a variable, constant or function known there (a function of time, as "
                f"a TimedArray of a Brian2 script, is given in the network's [timed_arrays.{name}] table; other "
                "time-varying input: drive= or an input population)")
    if isinstance(exc, SyntaxError) and exc.text:
        return f"{exc.msg} in {exc.text.strip()!r}"
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__


def describe_object(spec: NetworkSpec, name: str) -> str:
    """Map a Brian2 object name back to the population, projection or network entry it belongs to."""
    for regular in spec.run_regularly:
        if name == regular.name:
            return f"run_regularly '{regular.name}' of '{regular.target}'"
    for poisson in spec.poisson_inputs:
        if name == f"{poisson.name}_poisson_input":
            return f"poisson input '{poisson.name}' of '{poisson.target}'"
    for proj in spec.projections:
        if name == proj.name or name.startswith(proj.name + "_"):
            return f"projection '{proj.name}'"
    for pop in spec.populations.values():
        if name == pop.name or name.startswith(pop.name + "_"):
            where = f" (model file {pop.model.path})" if pop.model is not None else ""
            return f"population '{pop.name}'{where}"
    return f"object '{name}'"


def _fail(pop_or_proj: str, what: str, exc: Exception, source: str):
    raise BackendError(f"{source}: {pop_or_proj}: Brian2 rejected the {what}: {root_message(exc)}") from None


#: prefix of the copies of initial values kept for the restore between samples
INITIAL_PREFIX = "bioadapt_initial_"



def _add_restore(group: NeuronGroup, pop: PopulationSpec, spec: NetworkSpec, clock: Clock, restored: list):
    """Code that sets ``group`` back to the state a run starts from, at the
    start of every sample (``n_steps``): refractoriness ended first (so that
    the write protection of ``(unless refractory)`` variables lets the
    restore through), then every restored variable from its copy."""
    every = spec.n_steps * clock.dt
    if "lastspike" in group.variables:  # Brian2's initial values
        group.run_regularly("lastspike = -1e4*second\nnot_refractory = True", dt=every, when="start", order=RESTORE_ORDER - 1, name=f"{pop.name}_restore_refractory")
    if restored:
        code = "\n".join(f"{name} = {INITIAL_PREFIX}{name}" for name in restored)
        group.run_regularly(code, dt=every, when="start", order=RESTORE_ORDER, name=f"{pop.name}_restore")


def noise_function(source: NoiseSource) -> Function:
    """A Brian2 function of ``(t, i)`` drawing ``source``'s numbers: the same
    numpy, C++ and CUDA implementations of one counter-based generator."""

    def draw(t, i):
        return source.numpy(t, i)

    function = Function(draw, arg_units=[second, 1], return_unit=1, arg_types=["float", "integer"], return_type="float", stateless=False)
    function.implementations.add_implementation("numpy", code=draw)
    function.implementations.add_implementation("cpp", code=source.cpp(), name=source.name)
    function.implementations.add_implementation("cuda", code=source.cpp("__host__ __device__ static inline"), name=source.name)
    function.bioadapt_noise = source  # read by the twin
    return function


_DEFINED = re.compile(r"^\s*(?:d(?P<diff>\w+)\s*/\s*dt|(?P<name>\w+))\s*(?:\+=|-=|\*=|/=|=)")


def _noisy(code: str, pop: PopulationSpec, spec: NetworkSpec, sources: list, period: int, xi: dict | None = None) -> str:
    """``code`` (lines of equations or statements) with its noise replaced by
    counter-based sources (`bioadapt.noise`); code of shared variables draws
    one number per step."""
    return _rewritten_noise(code, pop.name, pop.model.brian_equations, "i", spec, sources, period, xi)


def _rewritten_noise(code: str | None, owner: str, declared, index: str, spec: NetworkSpec, sources: list, period: int, xi: dict | None, stream: str | None = None) -> str | None:
    """`_noisy` for the code of ``owner`` (a population or projection) whose
    variables ``declared`` (Equations, or None) declares; ``index`` names each
    element's index in that code; ``stream`` keys the numbers (`rewrite_noise`)."""
    if code is None or not ("rand" in code or (xi is not None and XI_NAME.search(code))):
        return code
    lines = []
    for line in code.split("\n"):
        found = _DEFINED.match(line)
        name = (found["diff"] or found["name"]) if found else None
        shared = declared is not None and name in declared.names and "shared" in declared[name].flags
        # the network's seed as Brian2 takes it (modulo 2**32, `device`)
        lines.append(rewrite_noise(line, owner, spec.seed % 2**32, spec.dt, sources, shared=shared, xi=xi, period=period, index=index, stream=stream))
    return "\n".join(lines)


#: Synaptic variable holding each synapse's index: the element index of noise drawn in synapse code.
SYNAPSE_INDEX = "bioadapt_synapse"


def _noisy_synapses(code: str | None, proj: ProjectionSpec, spec: NetworkSpec, sources: list, period: int, xi: dict | None = None) -> str | None:
    """`_noisy` for a projection's code and model: the numbers of synapse ``k`` at
    step ``n`` come from ``(seed, projection, source, n, k)``, wherever they are drawn
    (all synapses or those a spike reaches)."""
    return _rewritten_noise(code, proj.name, proj.equations, SYNAPSE_INDEX, spec, sources, period, xi)


def _neuron_group(pop: PopulationSpec, spec: NetworkSpec, clock: Clock, namespace: dict, net: "BrianNetwork", driven=(), keep_initial: bool = False, period: int = 0) -> NeuronGroup:
    model = pop.model
    scheme_name = pop.scheme
    scheme = scheme_result(spec, pop, driven)
    equations, method, options, later, system, program = scheme.equations, scheme.method, scheme.method_options, list(scheme.after_resets), scheme.system, scheme.program
    if keep_initial:
        restored = restored_names(spec, pop, driven)
        declared = model.brian_equations
        equations += "\n" + "\n".join(f"{INITIAL_PREFIX}{name} : {unit_text(declared[name].dim)} ({'constant, shared' if 'shared' in declared[name].flags else 'constant'})" for name in restored)
        net.restored[pop.name] = restored
    # noise drawn alike in every backend: rand()/randn() everywhere, and xi
    # where Euler integrates it (Euler-Maruyama); other methods keep Brian2's
    # xi (heun, milstein: Brian2's generator, seeded; the twin refuses them)
    sources, xi = [], ({} if method == "euler" and scheme_name not in model.programs else None)
    equations = _noisy(equations, pop, spec, sources, period, xi)
    threshold = _noisy(model.threshold, pop, spec, sources, period)
    reset = _noisy(transfer.reset_code(spec, pop), pop, spec, sources, period)  # impulses scaled off the network's own dt
    every_step = {slot: _noisy(code, pop, spec, sources, period) for slot, code in model.every_step.items()}
    namespace = {**namespace, **{source.name: noise_function(source) for source in sources}}
    try:
        group = NeuronGroup(
            pop.size,
            equations,
            threshold=threshold,
            reset=reset,
            refractory=transfer.refractory(spec, pop),  # a step of dt0 off the network's own dt
            method=method,
            method_options=options,
            clock=clock,
            name=pop.name,
            namespace={**namespace, **transfer.constants(spec)},
        )
        if later:
            code = after_reset_code(group.equations, group.variables, later, (options or {}).get("decays"))
            group.run_regularly(code, when="after_resets", order=PROGRAM_ORDER, name=f"{pop.name}_scheme_after_resets")
    except Exception as exc:  # Brian2 raises many exception types for bad models
        _fail(f"population '{pop.name}' (model file {model.path}, scheme '{scheme_name}')", "model", exc, spec.source)
    for var, values in pop.values.items():
        group.variables[var].set_value(values)
    if keep_initial:
        for name in restored:  # Brian2 starts variables the spec leaves out at 0
            group.variables[INITIAL_PREFIX + name].set_value(pop.values.get(name, 0.0))
        _add_restore(group, pop, spec, clock, restored)
    if system is not None:
        try:
            derived = system.propagators(pop.values, pop.size, spec.dt)
        except SchemeNotApplicable as exc:
            raise ConfigError(f"{spec.source}: [populations.{pop.name}] (model file {model.path}): {exc}") from None
        for var, values in derived.items():
            group.variables[var].set_value(values)
        net.linear_systems[pop.name] = system  # to recompute propagators for new values
    for slot, code in program.items():
        group.run_regularly(code, when=slot, order=PROGRAM_ORDER, name=f"{pop.name}_program_{slot}")
    for slot, code in every_step.items():
        try:
            group.run_regularly(code, when=slot, order=EVERY_STEP_ORDER, name=f"{pop.name}_every_step_{slot}")
        except Exception as exc:
            _fail(f"population '{pop.name}' (model file {model.path}, [every_step] {slot})", "code", exc, spec.source)
    return group


def _synapses(proj: ProjectionSpec, spec: NetworkSpec, groups: dict, clock: Clock, settable_delays: bool = False, generated: GeneratedSynapses | None = None, period: int = 0) -> Synapses:
    source, target = groups[proj.source], groups[proj.target]
    model = f"weight : {proj.weight_unit}"
    if generated is not None:
        return _generated_synapses(proj, spec, source, target, clock, model + ("\n" + proj.model if proj.model is not None else ""), generated)
    # noise in synapse code drawn alike in every backend (rand()/randn(); xi under
    # an explicit method 'euler'), per synapse index
    sources, xi = [], ({} if proj.method == "euler" else None)
    if proj.model is not None:
        model += "\n" + _noisy_synapses(proj.model, proj, spec, sources, period, xi)
    on_pre = transfer.on_pre_code(spec, proj)  # impulses scaled off the network's own dt
    if isinstance(on_pre, dict):  # several pathways, Brian2's on_pre={name: code}; their delays are fixed
        settable_delays = False
        on_pre = {name: _noisy_synapses(code, proj, spec, sources, period) for name, code in on_pre.items()}
    else:
        on_pre = _noisy_synapses(on_pre, proj, spec, sources, period)
    on_post = _noisy_synapses(transfer.on_post_code(spec, proj), proj, spec, sources, period)
    if settable_delays and proj.on_pre is not None:
        # delays cannot be run_args themselves; a constant variable can, and
        # the delay is assigned from it after the run_args are applied
        model += "\ndelay_value : second (constant)"
    if proj.summed is not None:
        lhs, expr = proj.summed.split("=", 1)
        lhs = lhs.strip()
        var = lhs[: -len("_post")]
        if var not in target.variables:
            raise ConfigError(f"{spec.source}: projection '{proj.name}': key 'summed' writes '{lhs}', but '{var}' is not a variable of population '{proj.target}'.")
        model += f"\n{lhs} = {_noisy_synapses(expr.strip(), proj, spec, sources, period)} : {unit_text(target.variables[var].dim)} (summed)"
    namespace = {**transfer.constants(spec), **{s.name: noise_function(s) for s in sources}}
    # each synapse's index: the element index of noise in its code and in run_regularly code over it
    indexed = bool(sources) or any(r.target == proj.name and "rand" in r.code for r in spec.run_regularly)
    if indexed:
        model += f"\n{SYNAPSE_INDEX} : integer (constant)"
    # one delay for all synapses: Brian2's pathway then keeps it as a scalar,
    # and its spike queue appends a neuron's synapses in one block per spike
    # (the same order as one push per synapse; the spike-queue pushes are a
    # fifth of the loop of a network firing at 20 Hz, `benchmarks/brian_options.py`)
    one_delay = {name: bool(proj.size and not settable_delays and np.all(steps == steps[0])) for name, _, steps in proj.pathways}
    try:
        delays = {name: float(steps[0]) * spec.dt * second for name, _, steps in proj.pathways if one_delay[name]}
        kwargs = {"delay": delays if proj.several_pathways else delays["pre"]} if delays else {}
        syn = Synapses(source, target, model=model, on_pre=on_pre, on_post=on_post, clock=clock, name=proj.name,
                       namespace=namespace, method=_synapse_method(proj), **kwargs)
        if proj.size:
            syn.connect(i=proj.i, j=proj.j)
        else:  # Brian2 rejects connect() with empty arrays, and running unconnected synapses
            syn.active = False
    except Exception as exc:
        _fail(f"projection '{proj.name}'", "synapses", exc, spec.source)
    syn.variables["weight"].set_value(proj.weight)
    for var, values in proj.values.items():
        syn.variables[var].set_value(values)
    if indexed:
        syn.variables[SYNAPSE_INDEX].set_value(np.arange(proj.size))
    if proj.on_pre is not None and settable_delays:
        syn.variables["delay_value"].set_value(proj.delay_steps * spec.dt)
    elif proj.size:
        for name, _, steps in proj.pathways:  # S.pre.delay, S.up.delay, ...: one per synapse
            if not one_delay[name]:
                getattr(syn, name).variables["delay"].set_value(steps * spec.dt)
    if proj.post_delay_steps is not None and proj.size:  # S.post.delay, one per synapse
        syn.post.variables["delay"].set_value(proj.post_delay_steps * spec.dt)
    return syn


#: Brian2's default method list of `Synapses` (its ``method`` argument's default).
_SYNAPSES_DEFAULT_METHODS = tuple(inspect.signature(Synapses.__init__).parameters["method"].default)


def _synapse_method(proj: ProjectionSpec):
    """The method of a projection's (clock-driven) equations: its ``method``, else
    Brian2's default list (what ``Synapses`` chooses without one)."""
    if proj.method is not None:
        return proj.method
    return _SYNAPSES_DEFAULT_METHODS if proj.model is not None else "euler"


def set_values(net: "BrianNetwork", spec: NetworkSpec, changes: dict, current: dict):
    """Set ``changes`` (``population or projection -> {variable: SI array}``) between two
    ``run()`` calls, as ``G.var = value`` in a Brian2 script, and the constants
    a scheme computes once from the parameters (propagators, decays); ``current``
    holds each population's values so far (updated)."""
    for name, variables in changes.items():
        if name in net.synapses:  # S.w = ...
            for var, value in variables.items():
                net.synapses[name].variables[var].set_value(value)
            continue
        group, pop = net.groups[name], spec.populations[name]
        for var, value in variables.items():
            group.variables[var].set_value(value)
        values = current.setdefault(name, dict(pop.values))
        values.update(variables)
        system = net.linear_systems.get(name)
        if system is not None and set(variables) & set(system.parameters):
            for var, value in system.propagators(values, pop.size, spec.dt).items():
                group.variables[var].set_value(value)


def segments(n_steps: int, changes: list) -> list:
    """``[(first step, last step + 1, changes at the first step or {})]`` covering ``n_steps``."""
    starts = [0] + [step for step, _ in changes if step > 0]  # a change at step 0 sets values before the first part
    given = dict(changes)
    return [(a, b, given.get(a, {})) for a, b in zip(starts, starts[1:] + [n_steps])]


def _run_regularly(regular, spec: NetworkSpec, net: "BrianNetwork", period: int = 0):
    """A ``[[run_regularly]]`` entry as Brian2's ``run_regularly`` of its
    population (noise drawn as in the model's code) or projection."""
    owner = net.groups[regular.target] if regular.target in net.groups else net.synapses[regular.target]
    if regular.part is not None:  # G[start:stop].run_regularly(...)
        owner = owner[regular.part[0]:regular.part[1]]
    code, where = regular.code, f"run_regularly '{regular.name}' of '{regular.target}'"
    # noise drawn as in the group's own code, from streams of its own (not the model's)
    sources, label, stream = [], f"{regular.target}_{regular.name}", f"{regular.target}/run_regularly/{regular.name}"
    if regular.target in net.groups:
        code = _rewritten_noise(code, label, spec.populations[regular.target].model.brian_equations, "i", spec, sources, period, None, stream)
    else:
        proj = next(p for p in spec.projections if p.name == regular.target)
        code = _rewritten_noise(code, label, proj.equations, SYNAPSE_INDEX, spec, sources, period, None, stream)
    owner.namespace.update({source.name: noise_function(source) for source in sources})
    if regular.dt is not None and abs(round(regular.dt / spec.dt) * spec.dt - regular.dt) > 1e-9 * regular.dt:
        raise ConfigError(f"{spec.source}: {where}: dt = {regular.dt * 1e3:g} ms is not a whole number of steps of dt = {spec.dt * 1e3:g} ms.")
    timing = {} if regular.dt is None else {"dt": regular.dt * second}
    try:
        return owner.run_regularly(code, when=regular.when, order=regular.order, name=regular.name, **timing)
    except Exception as exc:
        _fail(where, "code", exc, spec.source)


def _poisson_input(poisson, spec: NetworkSpec, group, period: int = 0):
    """Brian2's ``PoissonInput`` with the binomial numbers of `bioadapt.noise`:
    ``target_var += count*weight`` over the target's neurons, in the
    ``synapses`` slot at order 0 (between on_pre and on_post pathways), as
    Brian2 runs it; the count of neuron ``i`` at step ``k`` is a binomial number
    of ``N`` draws of probability ``rate*dt`` from the network's seed."""
    p = poisson.rate * spec.dt
    if p > 1:
        raise ConfigError(f"{spec.source}: poisson input '{poisson.name}': rate*dt = {p:g} > 1 at dt = {spec.dt * 1e3:g} ms.")
    source = NoiseSource(f"{NOISE_PREFIX}{poisson.name}", "binomial", spec.seed % 2**32, poisson.name, 0, spec.dt, period, trials=poisson.n, p=p)
    weight = f"{NOISE_PREFIX}{poisson.name}_weight"
    group.namespace[source.name] = noise_function(source)
    group.namespace[weight] = fu.Quantity(poisson.weight, dim=group.variables[poisson.target_var].dim)
    code = transfer.poisson_input_code(spec, poisson, f"{source.name}(t, i)*{weight}")
    return group.run_regularly(code, when="synapses", order=0, name=f"{poisson.name}_poisson_input")


def _drive_dimensions(pop: PopulationSpec, var: str):
    """The physical dimensions of a variable an external drive may write, or ConfigError."""
    equations = pop.model.brian_equations
    settable = sorted(n for n in equations.names if n not in equations.subexpr_names)
    if var not in settable:
        raise ConfigError(f"drive: '{var}' is not a variable of population '{pop.name}' ({', '.join(settable)}).")
    return equations[var].dim


def _generated_synapses(proj, spec, source, target, clock, model, rule: GeneratedSynapses) -> Synapses:
    """Synapses that Brian2 connects, weights and delays from ``rule``'s code."""
    if proj.size:
        raise BackendError(f"{spec.source}: projection '{proj.name}' has {proj.size} synapses in the spec and generated synapses; give it none (connect = {{ p = 0 }}) and let the generated code make them.")
    if proj.on_pre is None or proj.several_pathways:
        raise BackendError(f"{spec.source}: projection '{proj.name}': generated synapses need a spike-triggered projection with one on_pre pathway.")
    scalar = not isinstance(rule.delay_steps, str)
    try:
        kwargs = {"delay": float(rule.delay_steps) * spec.dt * second} if scalar else {}
        syn = Synapses(source, target, model=model, on_pre=proj.on_pre, on_post=proj.on_post, clock=clock, name=proj.name, namespace={}, method=_synapse_method(proj), **kwargs)
        syn.connect(**rule.connect)
        syn.weight = rule.weight
        if proj.values:
            raise BackendError(f"{spec.source}: projection '{proj.name}': generated synapses take their variables from the generated code; the spec's values ({', '.join(proj.values)}) are per synapse of the spec.")
        if not scalar:
            syn.delay = f"int({rule.delay_steps}) * dt"
    except Exception as exc:
        _fail(f"projection '{proj.name}'", "generated synapses", exc, spec.source)
    return syn


def input_raster(pop: PopulationSpec, n_steps: int) -> np.ndarray:
    """The spikes of an input population as a 0/1 array (n_steps, size)."""
    raster = np.zeros((n_steps, pop.size))
    raster[pop.input_steps, pop.input_indices] = 1.0
    return raster


def build_network(
    spec: NetworkSpec,
    record: dict | None = None,
    drive: dict | None = None,
    monitors: bool = True,
    standalone_inputs: bool = False,
    clock_name: str = "bioadapt_clock",
    samples: int = 1,
    record_spikes: bool | tuple = True,
    settable_delays: bool | None = None,
    generated: dict | None = None,
    record_every: int = 1,
) -> BrianNetwork:
    """Create the Brian2 objects of ``spec`` on the current device.

    Parameters
    ----------
    spec : NetworkSpec
    record : dict, optional
        ``population -> list of variables`` to record with a StateMonitor at the
        end of every step (every ``record_every`` steps: the monitor's clock
        has ``dt = record_every*dt``, as ``StateMonitor(..., dt=...)``).
    drive : dict, optional
        ``population -> {variable: array (n_steps, size)}``: values written into
        the variable at the start of every step (through a TimedArray). Values
        are SI numbers, as in a `NetworkSpec` (amperes for a current in
        ``amp``); the TimedArray gets the variable's unit.
    monitors : bool
        Create spike and state monitors (the twin builds without them).
    standalone_inputs : bool
        Build for a cpp_standalone binary that is rerun with new values:
        input populations become groups that fire where a TimedArray raster is
        1 (in the same ``thresholds`` slot as a spike generator), and synapses
        get a ``delay_value`` variable, so that inputs and delays can be
        changed through run_args.
    clock_name : str
        Name of the network's one clock (cuda_standalone needs its own, see
        `cuda.CUDA_CLOCK_NAME`).
    samples : int
        Build for this many samples run one after another in one run of
        ``samples * n_steps`` steps (with ``standalone_inputs``): input
        rasters and drives span all of them, and at the start of every
        sample each variable that code may change is set back to its initial
        value (a ``bioadapt_initial_`` copy) and refractoriness ends, so that
        every sample starts as a run does (`check_samples` refuses what
        cannot be restored so).
    record_spikes : bool or tuple of population names
        Spike monitors (with ``monitors``) on every spiking population (True),
        none (False), or the named ones.
    settable_delays : bool, optional
        Give every spike-triggered projection a ``delay_value`` variable to set
        its delays from through run_args (default: ``standalone_inputs``);
        otherwise a projection whose synapses share one delay gets it as
        Brian2's scalar pathway delay.
    generated : dict, optional
        ``projection -> GeneratedSynapses``: projections (without synapses
        in the spec) whose synapses the generated code creates.
    """
    if settable_delays is None:
        settable_delays = standalone_inputs
    record = record or {}
    drive = drive or {}
    total_steps = samples * spec.n_steps
    if samples > 1:
        if not standalone_inputs:
            raise BackendError("build_network(samples > 1) needs standalone_inputs=True (inputs as rasters over all samples).")
        check_samples(spec, spec.source)
    check_drives(spec, {pop: list(values) for pop, values in drive.items()})
    clock = Clock(dt=spec.dt * second, name=clock_name)
    # the network's timed arrays, one Brian2 TimedArray each, shared by the groups that call them
    timed = {name: TimedArray(fu.Quantity(ta.values, dim=fu.get_dimensions(parse_quantity(ta.unit, f"timed array '{name}'"))), dt=ta.dt * second, name=f"bioadapt_timed_{name}") for name, ta in spec.timed_arrays.items()}
    objects = []
    net = BrianNetwork(network=None, clock=clock)
    for pop in spec.populations.values():
        if pop.is_input and standalone_inputs:
            raster = TimedArray(np.tile(input_raster(pop, spec.n_steps), (samples, 1)), dt=spec.dt * second, name=f"{pop.name}_raster")
            group = NeuronGroup(pop.size, "", threshold="raster(t, i) > 0.5", reset="", clock=clock, name=pop.name, namespace={"raster": raster})
            net.timed_arrays[(pop.name, None)] = raster
        elif pop.is_input:
            group = SpikeGeneratorGroup(pop.size, pop.input_indices, pop.input_steps * spec.dt * second, clock=clock, name=pop.name)
        else:
            namespace = dict(timed)
            for var, values in drive.get(pop.name, {}).items():
                values = np.asarray(values, dtype=np.float64)
                if values.shape != (total_steps, pop.size):
                    rows = "samples * n_steps" if samples > 1 else "n_steps"
                    raise ConfigError(f"drive for '{pop.name}.{var}' must have shape ({rows}, size) = {(total_steps, pop.size)}, got {values.shape}.")
                # SI values, as everywhere in a NetworkSpec: they get the variable's unit here
                namespace[f"drive_{var}"] = TimedArray(fu.Quantity(values, dim=_drive_dimensions(pop, var)), dt=spec.dt * second, name=f"{pop.name}_drive_{var}_values")
                net.timed_arrays[(pop.name, var)] = namespace[f"drive_{var}"]
            group = _neuron_group(pop, spec, clock, namespace, net, driven=tuple(drive.get(pop.name, {})), keep_initial=samples > 1, period=spec.n_steps if samples > 1 else 0)
            for var in drive.get(pop.name, {}):
                name = f"{pop.name}_drive_{var}"
                runner = group.run_regularly(f"{var} = drive_{var}(t, i)", when="start", order=DRIVE_ORDER, name=name)
                net.drive_objects[name] = (pop.name, var)
                objects.append(runner)
        net.groups[pop.name] = group
        objects.append(group)
    for pop in spec.populations.values():  # Brian2's neurons.I = linked_var(input, "x")
        for var, (source, source_var) in pop.linked.items():
            setattr(net.groups[pop.name], var, linked_var(net.groups[source], source_var, index=pop.linked_index.get(var)))
    for poisson in spec.poisson_inputs:
        group = net.groups[poisson.target]
        objects.append(_poisson_input(poisson, spec, group if poisson.part is None else group[poisson.part[0]:poisson.part[1]], period=spec.n_steps if samples > 1 else 0))
    generated = generated or {}
    unknown = set(generated) - {p.name for p in spec.projections}
    if unknown:
        raise BackendError(f"{spec.source}: generated synapses for {sorted(unknown)}, which are not projections of the network ({', '.join(p.name for p in spec.projections)}).")
    for proj in spec.projections:
        syn = _synapses(proj, spec, net.groups, clock, settable_delays=settable_delays, generated=generated.get(proj.name), period=spec.n_steps if samples > 1 else 0)
        net.synapses[proj.name] = syn
        objects.append(syn)
    for regular in spec.run_regularly:  # over populations and projections
        objects.append(_run_regularly(regular, spec, net, period=spec.n_steps if samples > 1 else 0))
    if monitors:
        if not isinstance(record_spikes, bool):
            record_spikes = tuple(record_spikes)
            spiking = [name for name, group in net.groups.items() if "spike" in group.events]
            unknown = [name for name in record_spikes if name not in spiking]
            if unknown:
                raise ConfigError(f"record_spikes: {unknown} not spiking populations ({', '.join(spiking)}).")
        for name, group in net.groups.items():
            if "spike" not in group.events:
                continue  # a non-spiking model (no threshold)
            if record_spikes is False or (record_spikes is not True and name not in record_spikes):
                continue
            mon = SpikeMonitor(group, record=True, name=f"{name}_spikes")
            net.spike_monitors[name] = mon
            objects.append(mon)
        owners = {**{name: group for name, group in net.groups.items() if name in spec.populations}, **net.synapses}
        for name, variables in check_record(spec, record, known=lambda name: (owners[name].variables, "")).items():
            owner = owners[name]
            timing = {"clock": clock} if record_every == 1 else {"dt": record_every * spec.dt * second}
            mon = StateMonitor(owner, list(variables), record=True, when="end", name=f"{name}_trace", **timing)
            net.state_monitors[name] = mon
            objects.append(mon)
    net.network = Network(*objects, name="bioadapt_network")
    return net
