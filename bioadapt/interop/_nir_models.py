"""Discretization conventions of NIR graphs, written out as bioadapt model files.

NIR describes neurons in continuous time; every simulator discretizes them
its own way. A convention here is one such way, and the model file generated
for a NIR node under a convention IS that discretization: Brian2 and the twin
run its code.

``bioadapt``
    NIR's equations in continuous time, spikes as Dirac impulses: a spike
    through weight ``w`` moves a LIF/LI membrane by ``r*w/tau`` (an IF/I one
    by ``r*w``) and a Cuba node's current by ``w_in*w/tau_syn``; an Affine
    bias is a constant input current. Integrated exactly between grid steps
    (scheme ``exact``); a spike acts at the end of the step that emits it
    (Brian2's synapses slot), so an edge adds no latency.
``snntorch``
    snnTorch's reading (``import_from_nir``): the input of a step is the value
    of the Linear/Affine output in that step (a box one step long), forward
    Euler with ``beta = 1 - dt/tau``, the input acting in the step it is sent
    (see `same_step`), reset after the threshold. The update is written in
    snnTorch's order of operations, so that float64 runs agree bit for bit:
    ``mem = beta*mem + input`` (Leaky), ``syn = alpha*syn + input;
    mem = beta*mem + syn`` (Synaptic), recurrent input added last (RLeaky).
    snnTorch itself assumes ``r*dt/tau = 1`` (``r = tau/dt``, what it exports)
    and ``v_leak = 0``; other values are integrated as Euler steps of NIR's
    equation (snnTorch refuses ``v_leak != 0`` and rescales the threshold
    instead of the input for other ``r``).
``norse``
    Norse's reading (``norse.torch.from_nir``, ``LIFBoxCell``): the same box
    inputs and timing, ``v += dt*(1/tau)*((r*input + v_leak) - v)`` in
    Norse's order of operations (Norse ignores ``r``: it equals Norse only
    for ``r = 1``), reset to ``v_reset``, initial ``v = v_leak`` (Norse's;
    the other conventions start at 0, as snnTorch and Brian2 do).

Same-step conventions: in snnTorch and Norse every edge of one time step is
evaluated in graph order, so a spike crosses the whole feed-forward graph in
one step; through Brian2's schedule every synapse takes one step. The
network gets a per-population latency ``L`` (its depth) and synaptic delays
``L_target - L_source - 1`` (plus the graph's Delay nodes), so that
population P at bioadapt step ``k + L_P`` holds exactly the framework's
values of step ``k`` (recurrent edges, which frameworks feed from the previous
step, get ``L_target - L_source``). A population's program writes its state
only from ``t_start = (L - 1/2)*dt`` on: before, the framework has not started.

Affine biases and the ``r`` and ``w_in`` of a node are read per neuron; a
same-step program writes a gain or a leak term only when a neuron of the population needs it
(``SNNTORCH_UNIT_GAIN``), so that snnTorch's graphs run exactly its
operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models.spec import ModelSpec

__all__ = ["Convention", "CONVENTIONS", "NEURON_TYPES", "SPIKING_TYPES", "NeuronModel", "neuron_model", "check_convention", "SNNTORCH_UNIT_GAIN"]


@dataclass(frozen=True)
class Convention:
    """How a continuous-time NIR graph becomes discrete-time code."""

    name: str
    #: edges act in the step they are sent (latency compensation, see module doc)
    same_step: bool
    #: the framework's own time step (seconds) when it fixes one
    default_dt: float | None
    summary: str


CONVENTIONS = {
    "bioadapt": Convention("bioadapt", False, None, "continuous time, Dirac spikes, exact integration; an edge acts at the end of the sending step"),
    "snntorch": Convention("snntorch", True, 1e-4, "snnTorch: box inputs, beta = 1 - dt/tau, same-step edges, dt = 1e-4 s as snnTorch exports and imports"),
    "norse": Convention("norse", True, 1e-3, "Norse: box inputs, v += dt*(1/tau)*((input + v_leak) - v), same-step edges, dt = 1e-3 s (Norse's default)"),
}

#: NIR neuron nodes bioadapt imports, and the spiking ones among them.
NEURON_TYPES = ("LIF", "CubaLIF", "LI", "CubaLI", "IF", "I")
SPIKING_TYPES = ("LIF", "CubaLIF", "IF")

#: The tolerance within which snnTorch's ``import_from_nir`` takes an input
#: gain ``r*dt/tau`` (``w_in*dt/tau_syn``) as 1 (its ``np.allclose`` call).
SNNTORCH_UNIT_GAIN = {"rtol": 1e-5, "atol": 1e-8}

#: NIR parameters of each neuron type, in NIR's order.
PARAMETERS = {
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "IF": ("r", "v_threshold", "v_reset"),
    "I": ("r",),
}


def check_convention(name: str) -> Convention:
    if name not in CONVENTIONS:
        raise ConfigError(f"Unknown NIR convention {name!r}; use one of {', '.join(CONVENTIONS)} (see bioadapt.interop.nir).")
    return CONVENTIONS[name]


@dataclass(frozen=True)
class NeuronModel:
    """A generated model file and how synapses reach it.

    ``on_pre`` maps an input port (``"same"``: sent in the same framework
    step; ``"previous"``: a recurrent edge, sent in the previous step) to the
    ``on_pre`` statement of projections into it; ``bias`` names the variable
    holding the constant input of each port; ``initial`` maps a state variable
    to the NIR parameter it starts from.
    """

    model: ModelSpec
    scheme: str
    on_pre: dict
    bias: dict
    initial: dict


def _declarations(items) -> str:
    return "\n".join(f"{name} : {unit}" for name, unit in items)


def _all_close_to_one(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool(values.size) and bool(np.allclose(values, 1.0, **SNNTORCH_UNIT_GAIN))


def _bioadapt(kind: str) -> tuple:
    """ODE model of ``kind`` under the bioadapt convention: (equations, on_pre, initial)."""
    cuba = kind.startswith("Cuba")
    leaky = kind in ("LIF", "LI") or cuba
    if cuba:
        eqs = [
            "dv/dt = (v_leak - v + r*I)/tau_mem : 1",
            "dI/dt = (w_in*bias - I)/tau_syn : Hz",
        ]
        params = [("tau_syn", "second"), ("tau_mem", "second"), ("r", "second"), ("v_leak", "1"), ("w_in", "1"), ("bias", "Hz")]
        # a temporary keeps the ratio one number (Brian2 would compute (weight*w_in)/tau_syn):
        # w_in = tau_syn (a Dirac of weight w moves I by w) then adds the weight exactly
        on_pre = "_jump = w_in_post/tau_syn_post\nI_post += weight*_jump"
        initial = {}
    elif leaky:
        eqs = ["dv/dt = (v_leak - v + r*bias)/tau : 1"]
        params = [("tau", "second"), ("r", "second"), ("v_leak", "1"), ("bias", "Hz")]
        on_pre = "_jump = r_post/tau_post\nv_post += weight*_jump"
        initial = {}
    else:  # IF, I: a pure integrator
        eqs = ["dv/dt = r*bias : 1"]
        params = [("r", "1"), ("bias", "Hz")]
        on_pre = "v_post += weight*r_post"
        initial = {}
    return eqs, params, on_pre, initial


def _box_program(kind: str, convention: str, values: dict, dt: float, recurrent: bool) -> tuple:
    """Discrete-time program of ``kind`` under a same-step convention, and the
    names of the optional terms it has (part of the model's name).

    The new state is computed into temporaries and written only from
    ``t_start`` on (the population's latency): before, the framework has not
    started, so a bias or a leak must not move the state yet. From then on
    ``v = 1*_v + 0*v`` is ``_v`` exactly.
    """
    cuba = kind.startswith("Cuba")
    integrator = kind in ("IF", "I")
    extras = []
    lines = ["_on = int(t >= t_start)", "_input = x + bias"]
    if recurrent:
        lines.append("_rec = x_rec + bias_rec")
        extras.append("rec")
    if convention == "snntorch":
        # snnTorch's operations: beta*mem + input, recurrent input added last;
        # a gain or a leak that snnTorch cannot have is written only where present
        if cuba:
            if not _all_close_to_one(values["w_in"] * dt / values["tau_syn"]):
                lines[1] = "_input = (w_in*dt/tau_syn)*(x + bias)"
                extras.append("gain")
            if recurrent:  # temporaries are assigned once (Brian2 declares them at the first)
                lines += ["_I0 = (1 - dt/tau_syn)*I + _input", "_I = _I0 + _rec"]
            else:
                lines.append("_I = (1 - dt/tau_syn)*I + _input")
            leak = " + (dt/tau_mem)*v_leak" if np.any(values["v_leak"]) else ""
            drive = "_I" if _all_close_to_one(values["r"] * dt / values["tau_mem"]) else "(r*dt/tau_mem)*_I"
            if drive != "_I" and "gain" not in extras:
                extras.append("gain")
            lines += [f"_decay = (1 - dt/tau_mem)*v{leak}", f"_v = _decay + {drive}"]
        elif integrator:
            if not _all_close_to_one(values["r"] * dt):
                lines[1] = "_input = (r*dt)*(x + bias)"
                extras.append("gain")
            lines.append("_v0 = v + _input" if recurrent else "_v = v + _input")
            if recurrent:
                lines.append("_v = _v0 + _rec")
        else:
            if not _all_close_to_one(values["r"] * dt / values["tau"]):
                lines[1] = "_input = (r*dt/tau)*(x + bias)"
                extras.append("gain")
            leak = " + (dt/tau)*v_leak" if np.any(values["v_leak"]) else ""
            lines += [f"_decay = (1 - dt/tau)*v{leak}", "_v0 = _decay + _input" if recurrent else "_v = _decay + _input"]
            if recurrent:
                lines.append("_v = _v0 + _rec")
        if "v_leak" in "\n".join(lines):
            extras.append("leak")
    else:  # norse: inputs summed before the neuron, v + (dt*(1/tau))*((r*input + v_leak) - v)
        drive = "_input"
        if recurrent:
            lines.append("_all = _input + _rec")
            drive = "_all"
        if cuba:
            lines += [
                "_rate_syn = 1/tau_syn",
                "_step_syn = dt*_rate_syn",
                f"_I = I + _step_syn*(w_in*{drive} - I)",
                "_rate = 1/tau_mem",
                "_step = dt*_rate",
                "_v = v + _step*((r*_I + v_leak) - v)",
            ]
        elif integrator:
            lines.append(f"_v = v + (r*dt)*{drive}")
        else:
            lines += ["_rate = 1/tau", "_step = dt*_rate", f"_v = v + _step*((r*{drive} + v_leak) - v)"]
    if cuba:
        lines.append("I = _on*_I + (1 - _on)*I")
    lines.append("v = _on*_v + (1 - _on)*v")
    lines.append("x = 0")
    if recurrent:
        lines.append("x_rec = 0")
    return "\n".join(lines), extras


def neuron_model(kind: str, convention: str, values: dict, dt: float, recurrent: bool = False) -> NeuronModel:
    """The generated model of a NIR neuron node of type ``kind``.

    ``values`` (NIR parameter -> float64 array per neuron) decide which terms
    a same-step program needs (a leak term only where ``v_leak`` is not 0, an
    input gain only where it is not 1), so that a graph snnTorch wrote runs
    exactly snnTorch's operations.
    """
    check_convention(convention)
    spiking = kind in SPIKING_TYPES
    threshold = "v > v_threshold" if spiking else None
    reset = "v = v_reset" if spiking else None
    spike_params = [("v_threshold", "1"), ("v_reset", "1")] if spiking else []
    name = f"{kind.lower()}_{convention}"
    if convention == "bioadapt":
        eqs, params, on_pre, initial = _bioadapt(kind)
        equations = "\n".join(eqs) + "\n" + _declarations(params + spike_params)
        model = ModelSpec(
            name=name,
            path=Path(f"<NIR {kind}, convention {convention}>"),
            equations=equations,
            threshold=threshold,
            reset=reset,
            default_scheme="exact",
            description=f"NIR {kind} node, convention '{convention}': {CONVENTIONS[convention].summary}.",
        )
        return NeuronModel(model, "exact", {"same": on_pre, "previous": on_pre}, {"same": "bias", "previous": "bias"}, initial)
    cuba = kind.startswith("Cuba")
    state = [("v", "1")] + ([("I", "1")] if cuba else [])
    inputs = [("x", "1"), ("bias", "1")] + ([("x_rec", "1"), ("bias_rec", "1")] if recurrent else []) + [("t_start", "second")]
    r_unit = "Hz" if kind in ("IF", "I") else "1"  # an integrator's r*input is a rate
    params = [(p, "second" if p.startswith("tau") else r_unit if p == "r" else "1") for p in PARAMETERS[kind] if p not in ("v_threshold", "v_reset")]
    program, extras = _box_program(kind, convention, values, dt, recurrent)
    model = ModelSpec(
        name="_".join([name] + extras),
        path=Path(f"<NIR {kind}, convention {convention}>"),
        equations=_declarations(state + inputs + params + spike_params),
        threshold=threshold,
        reset=reset,
        programs={convention: {"groups": program}},
        default_scheme=convention,
        description=f"NIR {kind} node, convention '{convention}': {CONVENTIONS[convention].summary}.",
    )
    on_pre = {"same": "x_post += weight", "previous": "x_rec_post += weight" if recurrent else "x_post += weight"}
    bias = {"same": "bias", "previous": "bias_rec" if recurrent else "bias"}
    # Norse starts a membrane at v_leak (LIFBoxCell.initial_state); snnTorch at 0
    initial = {"v": "v_leak"} if convention == "norse" and kind not in ("IF", "I") else {}
    return NeuronModel(model, convention, on_pre, bias, initial)
