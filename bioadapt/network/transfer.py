"""How a network's values depend on the time step: the one rule behind `at_dt`.

`bioadapt.at_dt`, `robustness(refine=...)`, `compare`, the reference
integrator and the command line all put networks on other time grids through
this module.

One-step inputs are impulses
----------------------------
The discrete-time models hold one step of synaptic input in a variable that
is cleared every step (``I`` of ``adlif`` and ``li``; ``z``, the spike carrier
of ``adlif``, set to 1 by the reset). A value ``v`` written into such an
*impulse variable* acts for one step of the time step ``dt0`` the values
were written for (the network's own dt, `NetworkSpec.base_dt` after a
retiming): it delivers the charge ``v*dt0``. At another ``dt`` the same
charge is ``v*(dt0/dt)`` held for one step, so what spikes write into impulse
variables (``on_pre`` code of projections, reset code) is multiplied by
`charge` ``= dt0/dt`` (the constant ``bioadapt_charge`` in the Brian2 code,
which the twin reads from it). As dt shrinks, a network trained at dt0
converges to one continuous-time network whose synapses are Dirac impulses of
charge ``weight*dt0`` (and the adaptation jump of ``adlif`` to ``b*dt0/tau_w``).
At the network's own dt nothing is rewritten, so its code and results stay
bit for bit what they were.

Which variables are impulses: those a model file declares (``[retime] impulse
= [...]``), else those its ``[every_step]`` code sets to zero every step.
They must enter the differential equations linearly (the effect of an impulse
is then the charge times the coefficient) and not the threshold.

Timing
------
Two properties of the network at dt0 are properties of its grid, not of its
equations: in Brian2's schedule a spike of step n reaches an impulse variable
in the synapses slot of step n + delay and acts on the update of the next
step (one step of latency per projection, 1 ms at dt0 = 1 ms), and a neuron
spikes at most once per step. ``timing="trained"`` (the default) keeps both
as physical constraints: a projection into an impulse variable with ``d``
steps of delay acts ``(d + 1)*dt0`` after the spike at every dt (``(d +
1)*dt0/dt - 1`` steps of delay), and a population with impulse variables and
no refractory period of its own gets one of ``dt0`` (its threshold is not
tested for ``dt0`` after a spike, Brian2's ``refractory``; its state keeps
evolving). The limit is a continuous-time network with impulse synapses,
delays ``(d + 1)*dt0`` and an absolute refractory period ``dt0``.
``timing="declared"`` keeps only the delays ``d*dt0`` and the refractory
periods the files declare: the step of latency and the one spike per step
shrink with dt, and the limit has zero-delay impulses (recurrent excitation
then fires in cascades that the grid of dt0 capped). Measured on the trained
demo network (`examples/dt_convergence.py`), ``"trained"`` keeps its
accuracy far better. Other projections (into variables with their own
dynamics, e.g. ``lif``'s ``I``) keep their delays ``d*dt0``.

What cannot be retimed
----------------------
A discrete-time program is a map per step: it is accepted only when its model
file declares its impulse variables (the author states that the program is a
discretization consistent in dt, as ``li``'s exponential readout is); a
program that does not use ``dt`` at all (``stc``) and a model whose file
declares ``[retime] per_step = "why"`` (``cadlif``) are refused, as are
neurons that fire every step (threshold ``True``, ``relay``: their spikes
carry a value per step) and ``[every_step]`` code other than the clearing of
impulse variables. `at_dt` refuses such networks with one error naming the
population and the reason.
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp
from brian2.parsing.sympytools import str_to_sympy
from brian2.utils.stringtools import get_identifiers

from ..errors import ConfigError, ParameterError
from ..quantities import parse_quantity
from .spec import NetworkSpec, PopulationSpec, ProjectionSpec

__all__ = ["TIMINGS", "CHARGE", "impulse_variables", "transfer_problems", "charge", "on_pre_code", "on_post_code", "poisson_input_code", "reset_code", "refractory", "limit_refractory", "is_impulse_projection", "latency_seconds", "grid_delays"]

#: what becomes of the one-step timing of the network at dt0 (see the module)
TIMINGS = ("trained", "declared")
#: name of the constant ``dt0/dt`` in generated code
CHARGE = "bioadapt_charge"
#: relative tolerance of a time-step ratio that is a whole number
WHOLE_RATIO = 1e-9

_STATEMENT = re.compile(r"^\s*(?P<var>[A-Za-z_]\w*)\s*(?P<op>\+=|-=|\*=|/=|=)(?!=)\s*(?P<expr>.+?)\s*$")


def _statements(code: str) -> list:
    """Non-empty lines of abstract code, comments removed."""
    lines = [line.split("#", 1)[0].rstrip() for line in (code or "").splitlines()]
    return [line for line in lines if line.strip()]


def _is_zero(expr: str) -> bool:
    try:
        value = parse_quantity(expr.strip(), "")
    except ParameterError:
        return False
    return float(np.asarray(value, dtype=np.float64)) == 0.0


#: ``(id(model), scheme) -> (model, rule)``: the rule of a model under a scheme, found once
_RULES: dict = {}


def _rule(pop: PopulationSpec) -> tuple:
    """``(impulse variables, reason)`` of a neuron population: the variables
    whose event writes scale with dt, and why it cannot be retimed (None: it can)."""
    key = (id(pop.model), pop.scheme)
    cached = _RULES.get(key)
    if cached is None or cached[0] is not pop.model:
        cached = _RULES[key] = (pop.model, _find_rule(pop.model, pop.scheme))
    impulse, reason = cached[1]
    return impulse, None if reason is None else f"population '{pop.name}' (model {pop.model.name}, {pop.model.path}){reason}"


def _find_rule(model, scheme) -> tuple:
    """`_rule` of ``model`` under ``scheme``; the reason without the population's name."""
    declared = model.retime
    if "per_step" in declared:
        return (), f" is defined per step: {declared['per_step']} (its [retime] key 'per_step')"
    if (model.threshold or "").strip() == "True":
        return (), " fires every step (threshold 'True'): its spikes carry a value per step, not events"
    if scheme in model.programs:
        if "impulse" in declared:
            return tuple(declared["impulse"]), None
        code = "\n".join(model.programs[scheme].values())
        if "dt" not in get_identifiers(code):
            return (), f" runs the '{scheme}' program, a map per step that does not use dt"
        return (), (f" runs the '{scheme}' program, a map per step; whether it is a discretization consistent in dt "
                    "cannot be inferred (a model file that is one declares its one-step input variables: [retime] impulse = [...])")
    equations = model.brian_equations
    cleared, other = [], []
    for slot, code in model.every_step.items():
        for line in _statements(code):
            match = _STATEMENT.match(line)
            if match and match["op"] == "=" and _is_zero(match["expr"]):
                cleared.append(match["var"])
            else:
                other.append(line.strip())
    if other:
        return (), f" runs [every_step] code {other[0]!r} every step, a map per step"
    impulse = tuple(declared.get("impulse", cleared))
    for var in impulse:
        if var in equations.diff_eq_names:
            return (), f": impulse variable '{var}' has a differential equation; an impulse variable holds one step of input"
        if model.threshold and var in get_identifiers(model.threshold):
            return (), f": the threshold reads the one-step input '{var}', whose value depends on dt"
        for line in _statements(model.reset):
            match = _STATEMENT.match(line)
            if match and var in get_identifiers(match["expr"]):
                return (), f": the reset '{line.strip()}' reads the one-step input '{var}', whose value depends on dt"
    if impulse and scheme is not None:
        for name, expr in equations.get_substituted_expressions():
            rhs = str_to_sympy(expr.code)
            for var in impulse:
                symbol = sp.Symbol(var, real=True)
                if sp.simplify(sp.diff(rhs, symbol, 2)) != 0:
                    return (), f": d{name}/dt depends non-linearly on the one-step input '{var}', so the effect of an impulse would depend on dt"
    return impulse, None


def impulse_variables(pop: PopulationSpec) -> tuple:
    """The impulse variables of a neuron population (empty for inputs)."""
    return () if pop.is_input else _rule(pop)[0]


def transfer_problems(spec: NetworkSpec, timing: str = "trained") -> list:
    """Why ``spec`` cannot be put on another time grid: one description per
    population or projection (empty: it can)."""
    problems = [reason for pop in spec.populations.values() if not pop.is_input for reason in [_rule(pop)[1]] if reason]
    impulses = {name: impulse_variables(pop) for name, pop in spec.populations.items()}
    for proj in spec.projections:
        read = _read_impulses(proj, impulses)
        if read:
            problems.append(f"projection '{proj.name}' reads the one-step input '{read}', whose value depends on dt")
        for pathway, code, _ in proj.pathways:
            key = "on_pre" if not proj.several_pathways else f"on_pre.{pathway}"
            written, others = _written(proj, impulses, code)
            for var, op in written:
                if op not in ("+=", "-=", "="):
                    problems.append(f"projection '{proj.name}': {key} '{var} {op} ...' changes the one-step input by a factor; only '+=', '-=' and '=' carry a charge")
            if written and others and timing == "trained":
                problems.append(f"projection '{proj.name}' writes the one-step input {written[0][0]!r} and {others[0]!r} at once ({key}); "
                                "with timing='trained' the two need different delays: write them in two pathways")
    return problems


def _written(proj: ProjectionSpec, impulses: dict, code: str) -> tuple:
    """``([(X_post or X_pre, op)] written into impulse variables, [other names written])`` by ``code`` of ``proj``."""
    written, others = [], []
    for line in _statements(code):
        match = _STATEMENT.match(line)
        if match is None:
            continue
        name = match["var"]
        for suffix, owner in (("_post", proj.target), ("_pre", proj.source)):
            if name.endswith(suffix) and name[: -len(suffix)] in impulses.get(owner, ()):
                written.append((name, match["op"]))
                break
        else:
            others.append(name)
    return written, others


def _read_impulses(proj: ProjectionSpec, impulses: dict) -> str | None:
    """The first impulse variable (``X_pre``/``X_post``) that ``proj``'s code reads, or None."""
    codes = [code for _, code, _ in proj.pathways] or [proj.summed]
    for line in (line for code in codes for line in _statements(code)):
        match = _STATEMENT.match(line)
        expr = match["expr"] if match else line
        for name in sorted(get_identifiers(expr)):
            for suffix, owner in (("_post", proj.target), ("_pre", proj.source)):
                if name.endswith(suffix) and name[: -len(suffix)] in impulses.get(owner, ()):
                    return name
    return None


def charge(spec: NetworkSpec) -> float:
    """``dt0/dt``: the factor on what spikes write into impulse variables
    (exactly 1.0 at the network's own dt; a whole number when it is one within
    `WHOLE_RATIO`)."""
    base = spec.base_dt if spec.base_dt is not None else spec.dt
    if base == spec.dt:
        return 1.0
    ratio = base / spec.dt
    return float(round(ratio)) if abs(ratio - round(ratio)) <= WHOLE_RATIO * ratio else ratio


def _scaled(code: str, names: set) -> str:
    """``code`` with every statement writing one of ``names`` as ``X op (expr)*bioadapt_charge``."""
    lines = []
    for line in (code or "").splitlines():
        statement = line.split("#", 1)[0]
        match = _STATEMENT.match(statement)
        if match and match["var"] in names:
            line = f"{match['var']} {match['op']} ({match['expr']})*{CHARGE}"
        lines.append(line)
    return "\n".join(lines)


def on_pre_code(spec: NetworkSpec, proj: ProjectionSpec) -> str | dict | None:
    """``proj``'s on_pre code as Brian2 gets it (a dict for several pathways):
    writes into impulse variables times `CHARGE` when the network is not at its
    own dt (unchanged otherwise)."""
    if proj.on_pre is None or charge(spec) == 1.0:
        return proj.on_pre
    impulses = {name: impulse_variables(pop) for name, pop in spec.populations.items()}

    def scaled(code):
        written = {name for name, _ in _written(proj, impulses, code)[0]}
        return _scaled(code, written) if written else code

    return {name: scaled(code) for name, code in proj.on_pre.items()} if proj.several_pathways else scaled(proj.on_pre)


def on_post_code(spec: NetworkSpec, proj: ProjectionSpec) -> str | None:
    """``proj``'s on_post code as Brian2 gets it, scaled as `on_pre_code` scales on_pre."""
    if proj.on_post is None or charge(spec) == 1.0:
        return proj.on_post
    impulses = {name: impulse_variables(pop) for name, pop in spec.populations.items()}
    written = {name for name, _ in _written(proj, impulses, proj.on_post)[0]}
    return _scaled(proj.on_post, written) if written else proj.on_post


def poisson_input_code(spec: NetworkSpec, poisson, increment: str) -> str:
    """A PoissonInput's ``target_var += increment`` as Brian2 gets it: times
    `CHARGE` into an impulse variable off the network's own dt (its spikes
    deliver what spikes of a projection deliver)."""
    code = f"{poisson.target_var} += {increment}"
    if charge(spec) != 1.0 and poisson.target_var in impulse_variables(spec.populations[poisson.target]):
        return _scaled(code, {poisson.target_var})
    return code


def reset_code(spec: NetworkSpec, pop: PopulationSpec) -> str | None:
    """``pop``'s reset code as Brian2 gets it: writes into impulse variables
    (``z = 1``) times `CHARGE` when the network is not at its own dt."""
    reset = pop.model.reset
    if not reset or charge(spec) == 1.0:
        return reset
    impulse = set(impulse_variables(pop))
    return _scaled(reset, impulse) if impulse else reset


def constants(spec: NetworkSpec) -> dict:
    """Names the rewritten code reads (``{CHARGE: dt0/dt}``), empty at the network's own dt."""
    value = charge(spec)
    return {} if value == 1.0 else {CHARGE: value}


def _limit_refractory(spec: NetworkSpec, pop: PopulationSpec, timing: str) -> float | None:
    """The refractory period (s) `timing` gives ``pop`` (one step of dt0), or None."""
    if timing != "trained" or pop.is_input or not pop.model.threshold or pop.model.refractory or not impulse_variables(pop):
        return None
    return spec.base_dt if spec.base_dt is not None else spec.dt


def limit_refractory(spec: NetworkSpec, pop: PopulationSpec, timing: str = "trained") -> float | None:
    """In the continuous-time limit of ``spec`` with ``timing``: the refractory
    period (s) added to ``pop`` (``dt0`` for a population with impulse
    variables and none of its own under ``"trained"``), or None."""
    _check_timing(timing)
    return _limit_refractory(spec, pop, timing)


def refractory(spec: NetworkSpec, pop: PopulationSpec):
    """``pop``'s refractory period as Brian2 gets it: the model's own, else
    one step of dt0 when the network is off its own dt with
    ``timing="trained"`` (at dt0 a neuron cannot spike twice in a step
    anyway), else False."""
    if pop.model.refractory:
        return pop.model.refractory
    if spec.base_dt is None or spec.base_dt == spec.dt:
        return False
    period = _limit_refractory(spec, pop, spec.timing)
    return False if period is None else f"{period!r}*second"


def _pathway(proj: ProjectionSpec, pathway: str | None) -> tuple:
    """``(code, delay_steps)`` of ``proj``'s on_pre pathway ``pathway`` (None: its only one)."""
    found = {name: (code, steps) for name, code, steps in proj.pathways}
    if not found and pathway is None:  # graded: no delays (zeros)
        return proj.summed, proj.delay_steps
    if pathway is None:
        if len(found) > 1:
            raise ConfigError(f"projection '{proj.name}' has several on_pre pathways ({', '.join(found)}); name one (pathway=...).")
        pathway = next(iter(found), None)
    if pathway not in found:
        raise ConfigError(f"projection '{proj.name}' has no on_pre pathway {pathway!r}" + (f" (it has {', '.join(found)})." if found else " (it is graded, 'summed')."))
    return found[pathway]


def is_impulse_projection(spec: NetworkSpec, proj: ProjectionSpec, pathway: str | None = None) -> bool:
    """Whether ``proj``'s on_pre (pathway ``pathway`` of several) writes an
    impulse variable (its spikes act one step late)."""
    if proj.on_pre is None:
        return False
    impulses = {name: impulse_variables(pop) for name, pop in spec.populations.items()}
    return bool(_written(proj, impulses, _pathway(proj, pathway)[0])[0])


def latency_seconds(spec: NetworkSpec, proj: ProjectionSpec, timing: str = "trained", pathway: str | None = None) -> np.ndarray:
    """Per synapse, the delay of ``proj`` (its pathway ``pathway``, if several)
    in the continuous-time limit (seconds): ``(d + 1)*dt`` for an impulse
    projection with ``timing="trained"``, else ``d*dt``."""
    _check_timing(timing)
    extra = 1 if timing == "trained" and is_impulse_projection(spec, proj, pathway) else 0
    return (np.asarray(_pathway(proj, pathway)[1], dtype=np.float64) + extra) * spec.dt


def grid_delays(spec: NetworkSpec, proj: ProjectionSpec, dt: float, timing: str = "trained", pathway: str | None = None) -> tuple:
    """``(steps, seconds missed)``: ``proj``'s delays (of its pathway
    ``pathway``, if several) in whole steps of ``dt`` whose latency is
    `latency_seconds` (an impulse projection with ``timing="trained"`` acts
    one step after its delay, so it gets one step less), and how far each
    misses it (non-zero where the latency is not a whole number of steps)."""
    physical = latency_seconds(spec, proj, timing, pathway)
    extra = 1 if timing == "trained" and is_impulse_projection(spec, proj, pathway) else 0
    steps = np.maximum(np.floor(physical / dt + 0.5).astype(np.int64) - extra, 0)
    return steps, (steps + extra) * dt - physical


def _check_timing(timing: str):
    if timing not in TIMINGS:
        raise ConfigError(f"timing must be one of {', '.join(repr(x) for x in TIMINGS)}, got {timing!r}.")


def per_step_values(spec: NetworkSpec) -> list:
    """What in ``spec`` is defined per time step, so that `at_dt` cannot put it
    on another dt (a discrete-time map such as ``stc``, a neuron that fires
    every step): one description per finding, naming the population and why
    (`transfer_problems`). One-step inputs held in impulse variables are not
    among them: at another dt they keep their charge."""
    return transfer_problems(spec)
