"""An event-driven reference integrator, independent of any time grid.

Between events the model's ODEs are integrated with scipy's DOP853 at tight
tolerances (``rtol=1e-12``, ``atol=1e-14`` by default: spike times to about
1e-13 s, 1e-9 of a 0.1 ms step); a threshold crossing is
located by scipy's event detection (root finding on the dense output) in
continuous time, then the reset is applied, the neuron is held refractory for
its refractory period (variables flagged ``unless refractory`` are frozen and
synaptic writes to them dropped), and its spikes are scheduled on its outgoing
synapses at spike time + delay. Input spikes act at their time stamp + delay.

The network and the input spikes are those the backends use (the same
`NetworkSpec`). Supported: one population of a model given by ODEs
(no discrete-time programs, which have no continuous limit), input
populations, and ``on_pre`` statements ``X_post += expr`` /
``X_post -= expr`` whose expression uses the synaptic ``weight`` and
constants.

One-step input variables (impulse variables, `bioadapt.network.transfer`:
``I`` and ``z`` of ``adlif``, cleared by its ``[every_step]`` code) are the
continuous-time limit of a network on ever finer grids: a value ``v``
written into such a variable ``X`` (by ``on_pre`` code or by the reset) is a
Dirac impulse of charge ``v*dt0`` (``dt0``: the time step the values were
written for), so each state variable ``y`` jumps by ``v*dt0*d(dy/dt)/dX``
(the equations are linear in ``X``; the coefficient must not depend on the
state). Synaptic effects arrive after the projection's latency
(`transfer.latency_seconds`: ``(d + 1)*dt0`` into impulse variables with
``timing="trained"``, else ``d*dt``), and such a population without a
refractory period of its own gets one of ``dt0`` under ``"trained"``
(`transfer.limit_refractory`). A refractory condition that is the threshold condition itself
(``refractory = "V > V_th"``) counts upward crossings as events without reset.
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from dataclasses import dataclass

import numpy as np
import sympy as sp
from brian2.equations.equations import DIFFERENTIAL_EQUATION
from brian2.parsing.sympytools import str_to_sympy
from brian2.units import fundamentalunits as fu
from scipy.integrate import solve_ivp

from ..errors import BackendError
from ..network import transfer
from ..network.spec import NetworkSpec
from ..quantities import parse_quantity, unit_namespace

__all__ = ["ReferenceResult", "reference_run"]

_STATEMENT = re.compile(r"^\s*(?P<var>[A-Za-z_]\w*)\s*(?P<op>[+\-*/]?=)\s*(?P<expr>.+?)\s*$")
_ON_PRE = re.compile(r"^\s*(?P<var>[A-Za-z_]\w*)_post\s*(?P<op>[+-])=\s*(?P<expr>.+?)\s*$")
#: consecutive zero-length segments before the reference gives up
MAX_STALLS = 1000
#: restarts of one segment with a smaller maximum step before the reference gives up
MAX_RESTARTS = 40

_APPLY = {
    "=": lambda old, value: value,
    "+=": lambda old, value: old + value,
    "-=": lambda old, value: old - value,
    "*=": lambda old, value: old * value,
    "/=": lambda old, value: old / value,
}
_UNITS = {name: float(value) for name, value in unit_namespace().items()}
_MODULES = [{"clip": np.clip, "exprel": lambda x: np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x)), "int": lambda x: np.asarray(x, dtype=float)}, "numpy"]


@dataclass
class ReferenceResult:
    """Spike times (continuous, seconds) and traces sampled at given times."""

    spike_times: dict  # population -> (i, t)
    traces: dict  # population -> {var: (n_samples, size)}
    sample_times: np.ndarray


def _lambdify(expr_text: str, names: list[str], where: str):
    expr = str_to_sympy(expr_text)
    expr = expr.subs({sp.Symbol(k, real=True): sp.Symbol(k) for k in {s.name for s in expr.free_symbols}})
    unknown = {s.name for s in expr.free_symbols} - set(names)
    if unknown:
        raise BackendError(f"{where}: the reference integrator does not know {sorted(unknown)} in '{expr_text}'.")
    return sp.lambdify([sp.Symbol(n) for n in names], expr, modules=_MODULES)


class _Population:
    def __init__(self, spec: NetworkSpec, pop, cap: float | None = None):
        model = pop.model
        where = f"reference: population '{pop.name}' (model {model.name})"
        if pop.scheme in model.programs:
            raise BackendError(f"{where}: the model runs a discrete-time program; it has no continuous-time reference.")
        self.impulse = transfer.impulse_variables(pop)
        problems = transfer.transfer_problems(dataclasses.replace(spec, populations={pop.name: pop}, projections=()))
        if problems:
            raise BackendError(f"reference: {problems[0]}; it has no continuous-time reference.")
        eqs = model.brian_equations
        self.size = pop.size
        self.state_names = [n for n in eqs if eqs[n].type == DIFFERENTIAL_EQUATION]
        self.param_names = [n for n in eqs.names if n not in self.state_names and n not in eqs.subexpr_names]
        self.held = [n for n in self.state_names if "unless refractory" in eqs[n].flags]
        self.names = self.state_names + self.param_names + ["t"] + list(_UNITS)
        substituted = dict(eqs.get_substituted_expressions())
        self.rhs = [_lambdify(substituted[n].code, self.names, where) for n in self.state_names]
        # the jump of every state variable per unit of charge in each impulse variable
        self.jumps = {}
        for var in self.impulse:
            coefficients = []
            for n in self.state_names:
                slope = sp.diff(str_to_sympy(substituted[n].code), sp.Symbol(var, real=True))
                depends = sorted({s.name for s in slope.free_symbols} & (set(self.state_names) | set(self.impulse)))
                if depends:
                    raise BackendError(f"{where}: the effect of an impulse into '{var}' on '{n}' depends on {depends}; the reference needs it to depend on parameters only.")
                coefficients.append(_lambdify(str(slope), self.names, where))
            self.jumps[var] = coefficients
        self.values = {n: np.zeros(pop.size) for n in self.state_names + self.param_names}
        for name, value in pop.values.items():
            self.values[name] = np.array(value, dtype=float) if np.ndim(value) else np.full(pop.size, float(value))
        threshold = model.threshold
        self.threshold = None
        if threshold:
            match = re.match(r"^\s*(.+?)\s*>=?\s*(.+)$", threshold)
            if match is None:
                raise BackendError(f"{where}: the reference needs a threshold of the form 'lhs > rhs', got '{threshold}'.")
            self.threshold = _lambdify(self._substitute(f"({match[1]}) - ({match[2]})", eqs), self.names, where)
        self.charge_time = spec.base_dt if spec.base_dt is not None else spec.dt
        self.reset = []
        for line in (model.reset or "").strip().splitlines():
            if not line.strip():
                continue
            match = _STATEMENT.match(line)
            if match is None:
                raise BackendError(f"{where}: cannot read reset statement '{line}'.")
            self.reset.append((match["var"], match["op"], _lambdify(match["expr"], self.names, where)))
        self.crossing_only = False
        self.t_ref = np.zeros(pop.size) if cap is None else np.full(pop.size, cap)  # the one spike per dt0 of `transfer`
        ref = model.refractory
        if ref:
            if threshold and re.sub(r"\s", "", ref) == re.sub(r"\s", "", threshold):
                self.crossing_only = True
            elif ref in self.values:
                self.t_ref = self.values[ref].copy()
            else:
                try:
                    quantity = parse_quantity(ref, f"{where}: refractory")
                except Exception:
                    raise BackendError(f"{where}: the reference supports a refractory period (time) or the threshold condition itself, got '{ref}'.") from None
                if fu.get_dimensions(quantity) is not fu.get_dimensions(fu.Quantity(1, dim=fu.get_or_create_dimension(s=1))):
                    raise BackendError(f"{where}: refractory '{ref}' is not a time.")
                self.t_ref = np.full(pop.size, float(quantity))
        self.refractory_until = np.full(pop.size, -np.inf)
        self.spikes_i, self.spikes_t = [], []

    @staticmethod
    def _substitute(text, eqs):
        for name in eqs.subexpr_names:
            text = re.sub(rf"\b{name}\b", f"({eqs[name].expr.code})", text)
        return text

    def args(self, y, t):
        state = y.reshape(len(self.state_names), self.size)
        values = [state[k] for k in range(len(self.state_names))] + [self.values[n] for n in self.param_names] + [t] + list(_UNITS.values())
        return values

    def kick(self, var: str, targets: np.ndarray, value: np.ndarray, t: float):
        """An impulse ``value`` (per target) into the one-step input ``var``:
        every state variable jumps by its coefficient times the charge
        ``value*dt0`` (frozen variables of refractory neurons do not)."""
        args = self.args(self.y(), t)
        for name, coefficient in zip(self.state_names, self.jumps[var]):
            slope = np.broadcast_to(np.asarray(coefficient(*args), dtype=float), (self.size,))[targets]
            allowed = ~(t < self.refractory_until[targets]) if name in self.held else np.ones(len(targets), dtype=bool)
            np.add.at(self.values[name], targets[allowed], (slope * value * self.charge_time)[allowed])

    def y(self):
        return np.concatenate([self.values[n] for n in self.state_names])

    def set_y(self, y):
        state = y.reshape(len(self.state_names), self.size)
        for k, n in enumerate(self.state_names):
            self.values[n] = state[k].copy()


class _NotFinite(Exception):
    """The model's right-hand side is not finite at ``(t, y)``."""

    def __init__(self, t, y):
        super().__init__(t)
        self.t, self.y = t, np.array(y)


def _integrate(rhs, t0: float, t1: float, y0: np.ndarray, rtol: float, atol: float, events_for, name: str):
    """One segment between events with DOP853, up to the first threshold crossing.

    A trial step of the adaptive solver can reach far past a spike of an
    exponential model (a step chosen on the slow approach to threshold, taken
    across the upswing), where the model overflows (``exp`` of EIF/AdEx); the
    solver would reject that step, but only after computing its stages with
    infinite derivatives. The reference never evaluates such a state: the
    segment is restarted from its start with a maximum step four times smaller
    until every trial state of the segment is finite. A right-hand side that
    is not finite at the segment's start is the model's, and an error.
    """
    max_step = np.inf
    for _ in range(MAX_RESTARTS):
        try:
            return solve_ivp(rhs, (t0, t1), y0, method="DOP853", rtol=rtol, atol=atol, events=events_for(), dense_output=True, max_step=max_step)
        except _NotFinite as exc:
            if exc.t == t0 and np.array_equal(exc.y, y0):
                raise BackendError(f"reference: population '{name}': the model's derivatives are not finite at t = {t0:.9g} s (state {exc.y.tolist()}).") from None
            max_step = min(max_step, t1 - t0) / 4
    raise BackendError(f"reference: population '{name}': the model's derivatives are not finite after t = {t0:.9g} s, even with steps of {max_step:.3g} s.")


def reference_run(spec: NetworkSpec, record: dict | None = None, sample_times: np.ndarray | None = None, rtol: float = 1e-12, atol: float = 1e-14, timing: str | None = None) -> ReferenceResult:
    """Integrate ``spec`` without a time grid.

    Parameters
    ----------
    record : dict, optional
        ``population -> [variables]`` to sample.
    sample_times : array, optional
        Times (s) at which traces are sampled; defaults to the ends of the
        network's steps, ``(k + 1) * dt``, where the backends record.
    timing : {"trained", "declared"}, optional
        The limit of `bioadapt.at_dt` with this ``timing``: the delay of a
        projection into an impulse variable is ``(d + 1)*dt0`` or ``d*dt0``,
        and its target population is refractory for ``dt0`` or not. Default:
        the timing ``spec`` was put on its grid with (``spec.timing``).
    """
    timing = spec.timing if timing is None else timing
    neurons = [p for p in spec.populations.values() if not p.is_input]
    if len(neurons) != 1:
        raise BackendError(f"reference: supports networks with one neuron population, got {len(neurons)}.")
    pop = _Population(spec, neurons[0], transfer.limit_refractory(spec, neurons[0], timing))
    name = neurons[0].name
    record = record or {}
    duration = spec.duration
    samples = np.asarray(sample_times if sample_times is not None else (np.arange(spec.n_steps) + 1) * spec.dt)
    traces = {var: np.zeros((len(samples), pop.size)) for var in record.get(name, [])}
    for var in traces:
        if var not in pop.state_names:
            raise BackendError(f"reference: can sample state variables only ({', '.join(pop.state_names)}), not '{var}'.")

    # synaptic effects: per projection the target variable, sign and value per synapse
    effects = []
    if spec.poisson_inputs:
        raise BackendError(f"reference: poisson input '{spec.poisson_inputs[0].name}' is noise drawn per step; the reference has no noise.")
    for proj in spec.projections:
        if proj.summed is not None or proj.on_pre is None:
            raise BackendError(f"reference: graded projection '{proj.name}' is not supported.")
        if proj.model is not None or proj.on_post is not None:
            raise BackendError(f"reference: projection '{proj.name}' has a synapse model or on_post code; the reference has fixed synapses only.")
        for pathway, code, _ in proj.pathways:  # each pathway with its own delays
            for line in (line for line in code.strip().splitlines() if line.strip()):
                match = _ON_PRE.match(line)
                if match is None or match["var"] not in pop.state_names + pop.param_names:
                    raise BackendError(f"reference: projection '{proj.name}': on_pre must be 'X_post += expr' lines, got '{line}'.")
                value = _lambdify(match["expr"], ["weight"] + list(_UNITS), f"reference: projection '{proj.name}'")(proj.weight, *_UNITS.values())
                value = np.broadcast_to(np.asarray(value, dtype=float), (proj.size,)) * (1 if match["op"] == "+" else -1)
                effects.append((proj, match["var"], value, transfer.latency_seconds(spec, proj, timing, pathway if proj.several_pathways else None)))

    queue = []
    counter = [0]

    def push(time, payload):
        counter[0] += 1
        heapq.heappush(queue, (time, counter[0], payload))

    def schedule(source, neuron_ids, time):
        for proj, var, value, delays in effects:
            if proj.source != source:
                continue
            for n in np.atleast_1d(neuron_ids):
                syn = np.nonzero(proj.i == n)[0]
                for d in np.unique(delays[syn]):
                    chosen = syn[delays[syn] == d]
                    push(time + d, ("syn", var, proj.j[chosen], value[chosen]))

    for p in spec.populations.values():
        if p.is_input:
            for step in np.unique(p.input_steps):
                schedule(p.name, p.input_indices[p.input_steps == step], step * spec.dt)

    armed = np.ones(pop.size, dtype=bool)  # crossing-only mode: re-armed once below threshold

    cache = {}  # the threshold values of the last (t, y): the solver asks each neuron's event in turn

    def thresholds(t, y):
        key = (t, y.tobytes())
        if cache.get("key") != key:
            cache["key"], cache["values"] = key, np.broadcast_to(np.asarray(pop.threshold(*pop.args(y, t)), dtype=float), (pop.size,))
        return cache["values"]

    def events_for():
        functions = []
        if pop.threshold is None:
            return functions
        for n in range(pop.size):
            def value(t, y, n=n):
                return float(thresholds(t, y)[n])

            if pop.crossing_only and not armed[n]:
                def rearm(t, y, value=value):
                    return value(t, y)
                rearm.terminal = True
                rearm.direction = -1
                functions.append(rearm)
                continue

            def crossing(t, y, n=n, value=value):
                if t < pop.refractory_until[n] and not pop.crossing_only:
                    return -1.0
                return value(t, y)
            crossing.terminal = True
            crossing.direction = 1
            functions.append(crossing)
        return functions

    def rhs(t, y):
        with np.errstate(over="ignore", invalid="ignore"):
            derivs = np.stack([np.broadcast_to(np.asarray(f(*pop.args(y, t)), dtype=float), (pop.size,)) for f in pop.rhs])
        for var in pop.held:
            k = pop.state_names.index(var)
            derivs[k] = np.where(t < pop.refractory_until, 0.0, derivs[k])
        if not np.all(np.isfinite(derivs)):
            raise _NotFinite(t, y)
        return derivs.ravel()

    def fire(t, crossed):
        """Spike, reset and schedule every neuron that crossed or sits at threshold at t."""
        if pop.threshold is None:
            return
        above = np.broadcast_to(np.asarray(pop.threshold(*pop.args(pop.y(), t)), dtype=float), (pop.size,)) >= 0
        ready = pop.refractory_until <= t
        if pop.crossing_only:
            fired = sorted(set(crossed))
        else:
            fired = sorted(set(crossed) | set(np.nonzero(above & ready)[0].tolist()))
        for n in fired:
            pop.spikes_i.append(n)
            pop.spikes_t.append(t)
            if not pop.crossing_only:
                for var, op, fn in pop.reset:
                    value = np.broadcast_to(np.asarray(fn(*pop.args(pop.y(), t)), dtype=float), (pop.size,))[n]
                    if var in pop.jumps:  # z = 1: an impulse of the spike itself
                        pop.kick(var, np.array([n]), np.array([value]), t)
                    else:
                        pop.values[var][n] = _APPLY[op](pop.values[var][n], value)
                pop.refractory_until[n] = t + pop.t_ref[n]
        if fired:
            schedule(name, np.array(fired), t)

    t = 0.0
    next_sample = 0
    stalls = 0
    while t < duration:
        t_next = min(queue[0][0], duration) if queue else duration
        if t_next > t:
            t_start = t
            sol = _integrate(rhs, t, t_next, pop.y(), rtol, atol, events_for, name)
            t_end = sol.t[-1]
            while next_sample < len(samples) and samples[next_sample] < t_end:
                y = sol.sol(samples[next_sample]).reshape(len(pop.state_names), pop.size)
                for var in traces:
                    traces[var][next_sample] = y[pop.state_names.index(var)]
                next_sample += 1
            pop.set_y(sol.y[:, -1])
            t = t_end
            if sol.status == 1:  # a threshold crossing: fire it and any neuron at threshold now
                stalls = stalls + 1 if t_end <= t_start else 0
                if stalls > MAX_STALLS:
                    raise BackendError(f"reference: no progress at t = {t:.9g} s (events keep firing at the same instant).")
                hit = [n for n, ev in enumerate(sol.t_events) if len(ev)]
                if pop.crossing_only:
                    rearmed = [n for n in hit if not armed[n]]
                    armed[rearmed] = True
                    crossed = [n for n in hit if n not in rearmed]
                    armed[crossed] = False
                    fire(t, crossed)
                else:
                    fire(t, hit)
                continue
        # apply every event due now
        while queue and queue[0][0] <= t:
            _, _, (kind, var, targets, value) = heapq.heappop(queue)
            if var in pop.jumps:
                pop.kick(var, targets, value, t)
                continue
            allowed = ~(t < pop.refractory_until[targets]) if var in pop.held else np.ones(len(targets), dtype=bool)
            np.add.at(pop.values[var], targets[allowed], value[allowed])
        fire(t, [])  # a synaptic jump across threshold fires at once
        # samples at this instant see the state after its events
        while next_sample < len(samples) and samples[next_sample] <= t:
            for var in traces:
                traces[var][next_sample] = pop.values[var]
            next_sample += 1
    order = np.lexsort((pop.spikes_i, pop.spikes_t)) if pop.spikes_t else np.zeros(0, dtype=int)
    spike_times = {name: (np.asarray(pop.spikes_i, dtype=np.int64)[order], np.asarray(pop.spikes_t)[order])}
    for p in spec.populations.values():
        if p.is_input:
            spike_times[p.name] = (p.input_indices, p.input_steps * spec.dt)
    return ReferenceResult(spike_times=spike_times, traces={name: traces}, sample_times=samples)
