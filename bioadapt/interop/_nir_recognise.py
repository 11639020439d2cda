"""Read a population's model as a NIR neuron node, from the structure of its code.

Nothing here looks at model names: the equations (Brian2's linear-system
analysis of the differential equations) or the discrete-time program
(executed symbolically with sympy) are matched against NIR's primitives.

Under the ``bioadapt`` convention a model is a primitive when its
differential equations are NIR's (one membrane ``v``: LIF, LI, IF, I; a
membrane driven by a decaying current ``I``: CubaLIF, CubaLI), synapses add
``weight*k`` to a state variable as a Dirac impulse, the threshold is
``v > value`` and the reset ``v = value``, with no refractory period and no
code run every step. Under a same-step convention (``snntorch``, ``norse``)
a model is a primitive when its program is one Euler step of NIR's equation
with box inputs: ``v' = c_v*v + c_x*x + c_0`` with every input variable ``x``
cleared after use, read as ``tau = dt/(1 - c_v)``, ``r = c_x*tau/dt``.

What does not match is still read as far as it goes (threshold, reset, the
membrane's leak) for the node other tools see, with the reasons it is not
exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from brian2.parsing.sympytools import str_to_sympy

from ..program.analysis import assigned_names
from ..models.spec import SLOTS

__all__ = ["Reading", "read_population"]

_STATEMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(=|\+=|-=|\*=|/=)\s*(.+?)\s*$")
#: a start-time gate of a same-step program (`_nir_models`): read in the running regime
_GATE = re.compile(r"int\(\s*t\s*>=\s*[A-Za-z_]\w*\s*\)")
#: slots whose code runs before the threshold (the rest is outside one Euler step)
_BEFORE_THRESHOLD = SLOTS[: SLOTS.index("before_thresholds") + 1]


@dataclass
class Reading:
    """A population read as a NIR neuron node.

    ``params``: NIR parameter -> float64 array per neuron; ``bias``: constant
    input per neuron (an Affine bias on an incoming edge), or None;
    ``issues``: why the node is not exactly the model (empty: it is).
    """

    kind: str
    params: dict
    bias: np.ndarray | None = None
    issues: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.issues


def _statements(code: str) -> list:
    out = []
    for line in code.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _STATEMENT.match(line)
        if match is None:
            raise ValueError(line)
        out.append(match.groups())
    return out


def _tidy(expr):
    """``expr`` as one cancelled fraction: enough to see ``dt/(1 - (1 - dt/tau))`` is
    ``tau`` (so that its value is the parameter itself), far cheaper than simplify."""
    return sp.cancel(sp.together(sp.expand(expr)))


def _plain(expr):
    """``expr`` with symbols by name only (Brian2 makes some real, some not)."""
    return expr.subs({s: sp.Symbol(s.name) for s in expr.free_symbols})


class _Evaluator:
    """Per-neuron values of sympy expressions in a population's parameters."""

    def __init__(self, pop, dt: float):
        self.pop, self.dt = pop, dt

    def __call__(self, expr) -> np.ndarray:
        expr = _plain(sp.sympify(expr)).subs(sp.Symbol("dt"), self.dt)
        names = sorted(s.name for s in expr.free_symbols)
        args = [np.broadcast_to(np.asarray(self.pop.values.get(n, 0.0), dtype=np.float64), (self.pop.size,)) for n in names]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = sp.lambdify([sp.Symbol(n) for n in names], expr, modules="numpy")(*args)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (self.pop.size,)).copy()


def _inputs(spec, pop, issues: list) -> tuple:
    """The state variable incoming synapses write and their factor ``k`` (``Y_post += weight*k``)."""
    targets, factors = set(), []
    for proj in spec.projections:
        if proj.target != pop.name:
            continue
        if proj.summed is not None:
            issues.append(f"projection '{proj.name}' is graded (summed)")
            continue
        if proj.several_pathways:
            issues.append(f"projection '{proj.name}' has several on_pre pathways")
            continue
        try:
            statements = _statements(proj.on_pre)
        except ValueError:
            statements = []
        if len(statements) != 1 or statements[0][1] != "+=" or not statements[0][0].endswith("_post"):
            issues.append(f"projection '{proj.name}' does not add to one variable ('{proj.on_pre}')")
            continue
        target, _, rhs = statements[0]
        k = _tidy(_plain(str_to_sympy(rhs)) / sp.Symbol("weight"))
        if sp.Symbol("weight") in k.free_symbols or any(not s.name.endswith("_post") for s in k.free_symbols):
            issues.append(f"projection '{proj.name}': '{proj.on_pre}' is not weight times a value of the target")
            continue
        targets.add(target[: -len("_post")])
        factors.append(k.subs({s: sp.Symbol(s.name[: -len("_post")]) for s in k.free_symbols}))
    if len(targets) > 1:
        issues.append(f"synapses write several variables ({', '.join(sorted(targets))})")
    if any(_tidy(f - factors[0]) != 0 for f in factors[1:]):
        issues.append("synapses add with different factors")
    return (sorted(targets)[0] if targets else None), (factors[0] if factors else sp.Integer(1))


def _threshold(model, issues: list):
    """(membrane variable, threshold expression) of ``v > expr``, or (None, None)."""
    if not model.threshold:
        return None, None
    expr = str_to_sympy(model.threshold)
    if isinstance(expr, sp.StrictGreaterThan) and isinstance(expr.lhs, sp.Symbol):
        return expr.lhs.name, _plain(expr.rhs)
    issues.append(f"threshold '{model.threshold}' is not 'v > value'")
    names = sorted(s.name for s in getattr(expr, "free_symbols", ()))
    return (names[0] if names else None), None


def _reset(model, v: str, issues: list):
    value = None
    try:
        statements = _statements(model.reset or "")
    except ValueError:
        issues.append(f"reset '{model.reset}' is not a list of assignments")
        return None
    for var, op, rhs in statements:
        if var == v and op == "=":
            value = _plain(str_to_sympy(rhs))
        else:
            issues.append(f"reset '{var} {op} {rhs}' is more than setting the membrane")
    if model.threshold and value is None:
        issues.append("the reset does not set the membrane to a value")
    return value


def _constant(expr, pop, spec, issues: list, what: str) -> bool:
    """``expr`` may only read parameters no code writes (else it is not one NIR value)."""
    written = assigned_names(spec, pop) | set(pop.model.brian_equations.diff_eq_names)
    bad = sorted({s.name for s in expr.free_symbols} & written)
    if bad:
        issues.append(f"{what} depends on {', '.join(bad)}, which code changes during a run")
        return False
    return True


def _refractory(model, pop, issues: list):
    if not model.refractory:
        return
    name = str(model.refractory).strip()
    value = pop.values.get(name)
    if value is None or np.any(np.asarray(value) != 0):
        issues.append(f"a refractory period ('{model.refractory}')")


def read_population(spec, pop, convention: str) -> Reading:
    """The NIR node of ``pop`` under ``convention`` (`Reading.issues` empty when exact)."""
    issues = []
    model = pop.model
    membrane, theta = _threshold(model, issues)
    spiking = bool(model.threshold)
    target, k = _inputs(spec, pop, issues)
    _refractory(model, pop, issues)
    evaluate = _Evaluator(pop, spec.dt)
    if convention == "bioadapt":
        linear = _ode(spec, pop, membrane, target, k, evaluate, issues)
    else:
        linear = _program(spec, pop, membrane, target, k, evaluate, issues)
    kind, params, bias = linear
    if spiking:
        reset = _reset(model, membrane, issues) if membrane else None
        params["v_threshold"] = evaluate(theta) if theta is not None else np.ones(pop.size)
        params["v_reset"] = evaluate(reset) if reset is not None else np.zeros(pop.size)
        if theta is not None:
            _constant(theta, pop, spec, issues, "the threshold")
    return Reading(kind, params, bias, issues)


def _fallback(spiking: bool, size: int) -> tuple:
    """Neutral LIF/LI parameters where the model has no such structure."""
    one = np.ones(size)
    return ("LIF" if spiking else "LI"), {"tau": one.copy(), "r": one.copy(), "v_leak": np.zeros(size)}, None


def _ode(spec, pop, v, target, k, evaluate, issues) -> tuple:
    """Match the differential equations (Brian2's linear-system analysis)."""
    from brian2.stateupdaters.base import UnsupportedEquationsException
    from brian2.stateupdaters.exact import get_linear_system

    model = pop.model
    spiking = bool(model.threshold)
    if pop.scheme in model.programs:
        issues.append(f"a discrete-time program ('{pop.scheme}'): export it with a same-step convention")
        return _fallback(spiking, pop.size)
    if model.every_step:
        issues.append("code run every step ([every_step])")
    eqs = model.brian_equations
    if not eqs.diff_eq_names:
        issues.append("no differential equations (no dynamics of its own)")
        return _fallback(spiking, pop.size)
    if eqs.subexpr_names:
        issues.append(f"subexpressions ({', '.join(sorted(eqs.subexpr_names))})")
    try:
        names, A, b = get_linear_system(eqs, None)
    except (UnsupportedEquationsException, ValueError, KeyError, TypeError):
        issues.append("differential equations that are not linear")
        return _fallback(spiking, pop.size)
    names = list(names)
    A, b = A.applyfunc(_plain), b.applyfunc(_plain)
    states = {sp.Symbol(n) for n in names}
    if any((e.free_symbols & states) for e in list(A) + list(b)):
        issues.append("differential equations that are not linear")
        return _fallback(spiking, pop.size)
    if v not in names:  # no threshold: the membrane is the state synapses do not write (or the only one)
        v = next((n for n in names if n != target), names[0])
    iv = names.index(v)
    for expr, what in [(e, "the dynamics") for e in list(A) + list(b)]:
        if not _constant(expr, pop, spec, issues, what):
            break
    if target is not None and target not in names:
        issues.append(f"synapses write '{target}', which is not a state variable (a box input, not an impulse)")
    kind_suffix = "LIF" if spiking else "LI"
    if len(names) == 1:
        a, c = A[0, 0], b[0]
        if a == 0:
            kind = "IF" if spiking else "I"
            params = {"r": evaluate(k)}
            bias = evaluate(c / k) if c != 0 else None
            return kind, params, bias
        tau = _tidy(-1 / a)
        return kind_suffix, {"tau": evaluate(tau), "r": evaluate(_tidy(k * tau)), "v_leak": evaluate(_tidy(-c / a))}, None
    if len(names) == 2 and target in names and target != v:
        ii = names.index(target)
        if A[ii, iv] != 0:
            issues.append(f"'{target}' depends on '{v}'")
        tau_mem, tau_syn = _tidy(-1 / A[iv, iv]), _tidy(-1 / A[ii, ii])
        w_in = _tidy(k * tau_syn)
        params = {"tau_syn": evaluate(tau_syn), "tau_mem": evaluate(tau_mem), "r": evaluate(_tidy(A[iv, ii] * tau_mem)), "v_leak": evaluate(_tidy(-b[iv] / A[iv, iv])), "w_in": evaluate(w_in)}
        bias = evaluate(_tidy(b[ii] * tau_syn / w_in)) if b[ii] != 0 else None
        return "Cuba" + kind_suffix, params, bias
    issues.append(f"{len(names)} state variables ({', '.join(names)})")
    a = A[iv, iv]
    tau = _tidy(-1 / a) if a != 0 else sp.oo
    return kind_suffix, {"tau": evaluate(tau) if tau != sp.oo else np.full(pop.size, np.inf), "r": np.ones(pop.size), "v_leak": evaluate(_tidy(-b[iv] / a)) if a != 0 else np.zeros(pop.size)}, None


def _execute(blocks: list) -> tuple[dict, set]:
    """Symbolic result of running ``blocks`` (code strings) once: var -> expression in the old values."""
    env, temporaries = {}, set()
    for code in blocks:
        for var, op, rhs in _statements(_GATE.sub("1", code)):
            value = _plain(str_to_sympy(rhs)).subs(env, simultaneous=True)
            old = env.get(sp.Symbol(var), sp.Symbol(var))
            value = {"=": value, "+=": old + value, "-=": old - value, "*=": old * value, "/=": old / value}[op]
            env[sp.Symbol(var)] = value
            if var.startswith("_"):
                temporaries.add(var)
    return {s.name: e for s, e in env.items() if s.name not in temporaries}, temporaries


def _program(spec, pop, v, target, k, evaluate, issues) -> tuple:
    """Match a discrete-time program as one Euler step of NIR's equation (box inputs)."""
    model = pop.model
    spiking = bool(model.threshold)
    dt = sp.Symbol("dt")
    if pop.scheme not in model.programs:
        issues.append("differential equations, not a discrete-time program: export it with convention='bioadapt'")
        return _fallback(spiking, pop.size)
    blocks = {**{s: [c] for s, c in model.programs[pop.scheme].items()}}
    for slot, code in model.every_step.items():
        blocks.setdefault(slot, []).append(code)
    late = [s for s in blocks if s not in _BEFORE_THRESHOLD]
    if late:
        issues.append(f"code after the threshold ({', '.join(late)})")
    try:
        new, _ = _execute([c for s in SLOTS if s in blocks and s in _BEFORE_THRESHOLD for c in blocks[s]])
    except (ValueError, SyntaxError, TypeError):
        issues.append("a program bioadapt cannot read")
        return _fallback(spiking, pop.size)
    inputs = sorted({target} if target else set())
    # every variable synapses write must be a one-step input, cleared after use
    for x in inputs:
        if new.get(x, sp.Symbol(x)) != 0:
            issues.append(f"'{x}' is not cleared every step (not a one-step input)")
    if v is None or v not in new:
        names = sorted(n for n, e in new.items() if e != 0)
        v = names[0] if names else None
        if v is None:
            return _fallback(spiking, pop.size)
    update = sp.expand(new[v])
    symbols = {sp.Symbol(x) for x in inputs} | {sp.Symbol(v)}
    others = sorted(n for n, e in new.items() if n not in inputs and n != v and e != sp.Symbol(n))
    if others:
        issues.append(f"the program also changes {', '.join(others)}")
    c_v = update.coeff(sp.Symbol(v))
    c_x = [update.coeff(sp.Symbol(x)) * k for x in inputs]
    rest = sp.expand(update - c_v * sp.Symbol(v) - sum(update.coeff(sp.Symbol(x)) * sp.Symbol(x) for x in inputs))
    if any((e.free_symbols & symbols) for e in [c_v, rest] + c_x):
        issues.append(f"the update of '{v}' is not linear in '{v}' and its inputs")
        return _fallback(spiking, pop.size)
    state_like = {sp.Symbol(n) for n in new} - symbols
    if rest.free_symbols & state_like or c_v.free_symbols & state_like:
        issues.append(f"the update of '{v}' reads other state ({', '.join(sorted(s.name for s in (rest.free_symbols | c_v.free_symbols) & state_like))})")
    for expr in [c_v, rest] + c_x:
        if not _constant(expr, pop, spec, issues, f"the update of '{v}'"):
            break
    gain = c_x[0] if c_x else sp.Integer(1)
    # constant inputs: parameters entering exactly like the input (an Affine bias); where the
    # input enters like the leak potential (r = 1: c_x = 1 - c_v), constants are the leak's
    same_as_leak = _tidy(gain - (1 - c_v)) == 0
    biases = [] if same_as_leak else [s for s in rest.free_symbols if s != dt and _tidy(sp.diff(rest, s) - gain) == 0]
    leak_part = _tidy(rest - gain * sum(biases)) if biases else _tidy(rest)
    bias = evaluate(sum(biases)) if biases else None
    integrator = _tidy(c_v - 1) == 0
    kind = ("IF" if spiking else "I") if integrator else ("LIF" if spiking else "LI")
    if integrator:
        if leak_part != 0:
            issues.append(f"a constant drive of '{v}' ({leak_part}) without a leak")
        return kind, {"r": evaluate(_tidy(gain / dt))}, bias
    tau = _tidy(dt / (1 - c_v))  # Euler's tau: exp(-dt/tau0) gives the tau whose Euler step is that decay
    params = {"tau": evaluate(tau), "r": evaluate(_tidy(gain * tau / dt)), "v_leak": evaluate(_tidy(leak_part * tau / dt))}
    if np.any(~np.isfinite(params["tau"])) or np.any(params["tau"] <= 0):
        issues.append(f"the update of '{v}' is not a leak toward rest (its factor {c_v} is not 1 - dt/tau with tau > 0)")
    return kind, params, bias
