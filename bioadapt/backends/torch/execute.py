"""The twin's step: what each kind of block does, as functions, and the table that dispatches them.

`Twin` (``twin.py``) holds the parameters and the tables built once from the
program (synapse orders, gathers, plans); the functions here run one block of
one step on them. ``EXECUTORS`` maps each kind of schedule entry to the
function that binds an entry to its executor, ``executor(step)``, called with
the step's working values (`Step`); `executors` binds a whole schedule once
per forward call, so no step branches on kind strings.

The executors follow Brian2's semantics bit for bit (see `twin` for the list):
statement order, conditional writes, threshold and reset, spike-queue order of
synaptic contributions, summed variables into zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import BackendError
from .events import Events, pays, spike_product
from ...program import INDEX_POST as _POST, INDEX_PRE as _PRE, INDEX_SELF as _SELF, Block, Ref
from .plan import SCALAR, BlockPlan, torch_dtype
from .spikes import spike, spike_where
from .translate import divide

__all__ = ["Call", "Step", "EXECUTORS", "executors", "read_var", "run_neurons", "run_pathway"]



@dataclass
class Call:
    """Values fixed over one forward call (see `Twin._prepare`)."""

    batch: int
    dt: torch.Tensor
    fixed: dict  # (owner, var) -> tensor: derived constants (exact propagators, symplectic_euler decays)
    envs: dict  # block name -> {name: value} for the block's fixed names and hoisted expressions
    casts: dict  # (block name, body index) -> fixed value of a write, at the block's shape
    # ids of the casts (constants, no gradient) that are finite, +0 everywhere, 1 everywhere (`run_dense`, the reset)
    finite: set = field(default_factory=set)
    zeros: set = field(default_factory=set)
    ones: set = field(default_factory=set)
    dense: dict = field(default_factory=dict)  # pathway block name -> [(statement, [(delay, W)])]
    binary: dict = field(default_factory=dict)  # population -> its spikes are all 0 or 1 (`is_binary`)
    input_spikes: dict = field(default_factory=dict)  # input population -> spikes of the call
    events: dict = field(default_factory=dict)  # id(spikes) -> [spikes, Events or None, last step read]
    inputs: dict = field(default_factory=dict)  # pathway block name -> precomputed input contributions per step
    per_synapse: dict = field(default_factory=dict)  # pathway block name -> its fixed values split (`arrival_env`)


class Step:
    """The working values of the steps of one forward call: the call's fixed
    values, the state and spike history (updated in place), the feeds, and the
    current step's time ``t``, index ``k``, spikes ``fired``, threshold
    ``masks`` and stacked histories ``stacks``."""

    __slots__ = ("call", "state", "history", "feeds", "start_step", "t", "k", "fired", "masks", "stacks")

    def __init__(self, call: Call, state: dict, history: dict, feeds: dict, start_step: int):
        self.call, self.state, self.history, self.feeds, self.start_step = call, state, history, feeds, start_step
        self.t, self.k, self.fired, self.masks, self.stacks = None, 0, {}, {}, {}


def expand(value: torch.Tensor, shape) -> torch.Tensor:
    """``broadcast_to`` that skips the view (and its autograd node) when the shape is already right."""
    return value if value.shape == shape else torch.broadcast_to(value, shape)


def block_shape(ref: Ref, shape) -> tuple:
    """The shape a write of ``ref`` takes in a block of ``shape`` (batch, size):
    a shared variable keeps one value per sample."""
    return (*shape[:-1], 1) if ref.scalar else shape


def take(value, how, gather):
    """``value`` as a block reads it: whole, its first element, or gathered for synapses."""
    if how == SCALAR:  # a shared variable: one value per sample, (batch, 1) or (1,)
        return value[..., :1]
    if how is not None and gather is not None and how in gather:
        return value[..., gather[how]]
    return value


class Selection(dict):
    """Index arrays of a pathway (`Twin._gathers`) for its synapses ``active``, each made when first read."""

    def __init__(self, full: dict, active: torch.Tensor):
        super().__init__()
        self.full, self.active = full, active

    def __missing__(self, how):
        value = self[how] = self.full[how][self.active]
        return value

    def __contains__(self, how):  # what `_take` asks: does the pathway gather through ``how``
        return how in self.full


class ArrivalEnv(dict):
    """The names of a pathway's code for the synapses a spike reaches (`arrival_env`):
    fixed values alike for all synapses are there from the start; per-synapse fixed
    values and state are selected or gathered for those synapses when first read."""

    def __missing__(self, name):
        twin, call, state, per_synapse, steps, active = self.sources
        if name in per_synapse:
            value = per_synapse[name][..., active]
        elif name in steps:
            owner, var, how = steps[name]
            value = state.get((owner, var))
            if value is None:
                value = read_var(twin, state, owner, var, call.fixed)
            value = take(value, how, self.gather)
        else:
            raise KeyError(name)
        self[name] = value
        return value


def read_var(twin, state: dict, owner: str, var: str, fixed: dict | None = None):
    key = (owner, var)
    if key in state:
        return state[key]
    if fixed and key in fixed:
        return fixed[key]
    if owner in twin.params and var in twin.params[owner]:
        return twin.params[owner][var]
    if key in twin._constants:
        return twin._constants[key]
    value = twin.program.initial[key]
    return torch.as_tensor(np.asarray(value))

def step_env(twin, plan: BlockPlan, call: Call, state: dict, t) -> dict:
    """The block's names for this step: fixed values of the call, state, ``t``."""
    env = call.envs[plan.block.name].copy()
    gather = twin._gathers.get(plan.block.name)
    if gather is None:
        gather = twin._indexed.get(plan.block.name)
    for name, owner, var, how in plan.step:
        value = state.get((owner, var))
        if value is None:
            value = read_var(twin, state, owner, var, call.fixed)
        env[name] = take(value, how, gather)
    for name in plan.clock_t:
        env[name] = t
    return env

def arrival_env(twin, plan: BlockPlan, call: Call, state: dict, t, active: torch.Tensor) -> "ArrivalEnv":
    """`_env` for the synapses ``active`` only, each name made when first read."""
    name = plan.block.name
    parts = call.per_synapse.get(name)
    if parts is None:  # the call's fixed values: alike for all synapses, or one per synapse
        n_syn = len(twin._routes[name]["perm"])
        fixed = call.envs[name]
        per_synapse = {key: value for key, value in fixed.items() if isinstance(value, torch.Tensor) and value.dim() and value.shape[-1] == n_syn}
        shared = {key: value for key, value in fixed.items() if key not in per_synapse}
        parts = call.per_synapse[name] = (shared, per_synapse, {step[0]: step[1:] for step in plan.step})
    shared, per_synapse, steps = parts
    env = ArrivalEnv(shared)
    for clock in plan.clock_t:
        env[clock] = t
    env.sources = (twin, call, state, per_synapse, steps, active)
    env.gather = Selection(twin._gathers[name], active)
    return env

def evaluate(stmt, env):
    if stmt.where_bool is not None:
        cond = env[stmt.where_bool]
        a, b = stmt.fn_true(env), stmt.fn_false(env)
        ref = next((x for x in (a, b) if isinstance(x, torch.Tensor) and x.is_floating_point()), None)
        dtype = ref.dtype if ref is not None else torch.float64
        a = a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=dtype)
        b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=dtype)
        return torch.where(cond, a, b)
    return stmt.fn(env)

def combine(op: str, old, value):
    if op == "=":
        return value
    if op == "+=":
        return old + value
    if op == "-=":
        return old - value
    if op == "*=":
        return old * value
    if op == "/=":
        return divide(old, value)
    raise BackendError(f"unsupported operator '{op}'")

def cast_value(twin, value, ref: Ref, shape, device):
    dtype = torch_dtype(ref.dtype, twin.float_dtype)
    if not isinstance(value, torch.Tensor):
        return torch.full(shape, value, dtype=dtype, device=device)
    if value.dtype != dtype:
        value = value.to(dtype)
    return expand(value, shape)

def run_statements(twin, plan: BlockPlan, call: Call, env: dict, state: dict, shape, device, written: dict):
    name = plan.block.name
    refs = plan.block.refs
    for index, (stmt, value_name) in enumerate(plan.body):
        value = env[value_name] if value_name is not None else (stmt.fn(env) if stmt.where_bool is None else evaluate(stmt, env))
        if stmt.op == ":=":
            env[stmt.var] = value
            continue
        ref = refs[stmt.var]
        new = call.casts.get((name, index)) if value_name is not None else None
        if new is None:
            new = cast_value(twin, value if stmt.op == "=" else combine(stmt.op, env[stmt.var], value), ref, block_shape(ref, shape), device)
        if ref.conditional is not None and ref.conditional not in plan.block.override:
            cond = env.get(ref.conditional)
            if cond is None:
                cond = read_var(twin, state, ref.owner, ref.conditional)
                if plan.block.group in twin._subgroups:  # code over a subgroup: its neurons' conditions
                    cond = cond[..., twin._subgroups[plan.block.group]]
            new = torch.where(cond, new, expand(env[stmt.var], new.shape))
        env[stmt.var] = new
        written[stmt.var] = ref

def run_neurons(twin, plan: BlockPlan, call: Call, state, fired, history, t, masks):
    """A block of neuron code: state update or program block, threshold, reset.

    ``masks`` carries each group's boolean spikes of this step from its
    threshold to its reset.
    """
    block = plan.block
    kind = block.kind
    writes = twin._constant_writes.get(block.name)
    if writes is not None:
        for index, key in writes:
            state[key] = call.casts[(block.name, index)]
        return
    device = call.dt.device
    shape = (call.batch, twin.program.sizes[block.group])
    env = step_env(twin, plan, call, state, t)
    written = {}
    run_statements(twin, plan, call, env, state, shape, device, written)
    if kind == "code":
        part = twin._subgroups.get(block.group)
        for name, ref in written.items():
            if part is None:
                state[(ref.owner, ref.var)] = env[name]
            else:  # the subgroup's neurons only, at their places in the population
                full = expand(read_var(twin, state, ref.owner, ref.var), (call.batch, twin.program.sizes[ref.owner]))
                state[(ref.owner, ref.var)] = full.index_copy(1, part, expand(env[name], shape).to(full.dtype))
        return
    if kind == "threshold":
        cond = env["_cond"]  # a constant condition ("True") is a Python bool
        cond = expand(cond, shape) if isinstance(cond, torch.Tensor) else torch.full(shape, bool(cond), device=device)
        surrogate = plan.surrogate
        if surrogate is not None and torch.is_grad_enabled():
            left, right = surrogate
            s = spike(left(env) - right(env), cond, twin.surrogate)
        else:
            s = cond.to(twin.float_dtype)
        fired[block.group] = s
        masks[block.group] = cond
        if history is not None:  # (a compiled segment: the caller appends the spikes)
            history[block.group] = history[block.group][1:] + [s]
        if block.threshold.refractory:
            state[(block.group, "lastspike")] = torch.where(cond, t.to(state[(block.group, "lastspike")].dtype), state[(block.group, "lastspike")])
            state[(block.group, "not_refractory")] = torch.where(cond, torch.zeros((), dtype=torch.bool, device=device), state[(block.group, "not_refractory")])
        return
    if kind == "reset":
        s = fired[block.group]
        mask = masks[block.group]
        detach = twin._detach.get(block.group, set())
        for name, ref in written.items():
            old = read_var(twin, state, ref.owner, ref.var)
            new = env[name]
            if ref.var in detach or not new.is_floating_point():
                state[(ref.owner, ref.var)] = torch.where(mask, new, expand(old, shape))
            elif not torch.compiler.is_compiling() and id(old) in call.zeros and id(new) in call.finite:
                # a spike variable cleared every step and set to a constant
                # by the reset (z = 1): where(s > 0, c, +0) is s*c bit for
                # bit (s is 0 or 1, c finite), and d/ds = c = new - old, the
                # gradient spike_where gives, without a Python autograd node;
                # s*1 is s itself
                state[(ref.owner, ref.var)] = s if id(new) in call.ones else s * new
            else:
                state[(ref.owner, ref.var)] = spike_where(s, new, expand(old, shape), mask)
        return
    raise BackendError(f"unknown block kind '{kind}'")

def run_pathway(twin, plan: BlockPlan, call: Call, state, fired, history, stacks, t, k, inputs=None):
    block = plan.block
    path = twin._routes[block.name]
    source = block.pathway.source
    batch, device = call.batch, call.dt.device
    if source not in fired:  # an input group or a group without threshold this step
        fired_now = torch.zeros(batch, twin.program.sizes[source], dtype=twin.float_dtype, device=device)
        history[source] = history[source][1:] + [fired_now]
    if block.name in call.dense:
        run_dense(twin, block, call, state, history[source], k, inputs)
        return
    # the spike history stacked once per source and step, shared by its pathways
    entry = stacks.get(source)
    if entry is None or entry[0] is not history[source]:
        entry = stacks[source] = (history[source], torch.stack(history[source]))
    hist = entry[1]  # (depth, batch, n_source); last entry is this step
    depth = hist.shape[0]
    gather = twin._gathers[block.name]
    arrivals = twin._event_driven.get(block.name) if device.type == "cpu" and not torch.is_grad_enabled() else None
    if arrivals is not None:
        # without gradients only the synapses whose spike arrives run (as in Brian2),
        # in queue order: every sum adds the same terms in the same order (the
        # other synapses would add zeros)
        if not bool(hist.any()):
            return
        active, s_syn = arrivals(hist)  # (n_active,), (batch, n_active)
        if len(active) == 0:
            return
        env = arrival_env(twin, plan, call, state, t, active)
        gather = env.gather
    else:
        s_syn = hist[depth - 1 - path["delay"], :, path["spiker"]].transpose(0, 1)  # (batch, n_syn) in queue order
        env = step_env(twin, plan, call, state, t)
    shape = (batch, s_syn.shape[1])
    zero = None
    for stmt, value_name in plan.body:
        value = env[value_name] if value_name is not None else evaluate(stmt, env)
        if stmt.op == ":=":
            env[stmt.var] = value
            continue
        ref = block.refs[stmt.var]
        if ref.index in (_PRE, _POST):
            contribution = value if stmt.op == "+=" else -value
            contribution = cast_value(twin, contribution, ref, shape, device)
            zero = torch.zeros((), dtype=contribution.dtype, device=device)
            if ref.conditional is not None and ref.conditional not in block.override:
                cond = read_var(twin, state, ref.owner, ref.conditional)[..., gather[ref.index]]
                contribution = torch.where(torch.broadcast_to(cond, shape), contribution, zero)
            contribution = spike_where(s_syn, contribution, zero)
            key = (ref.owner, ref.var)
            current = torch.broadcast_to(read_var(twin, state, *key), (batch, twin.program.sizes[ref.owner]))
            state[key] = current.index_add(1, gather[ref.index], contribution)
        else:
            new = cast_value(twin, combine(stmt.op, env[stmt.var], value), ref, shape, device)
            new = spike_where(s_syn, new, torch.broadcast_to(env[stmt.var], shape))
            env[stmt.var] = new
            key = (ref.owner, ref.var)
            if arrivals is not None:  # the synapses that received a spike, at their places in synapse order
                full = expand(read_var(twin, state, *key), (batch, len(path["perm"])))
                state[key] = full.index_copy(1, gather[_SELF], new)
            else:
                state[key] = new[..., path["inverse"]]

def dense_weights(twin, block: Block, dense: dict, fixed_env: dict, device) -> list:
    """Per target statement, ``[(delay, W_d)]``: built once per call (the
    contributions depend on synaptic values only, constant over a run)."""
    path = twin._routes[block.name]
    n_pre, n_post = twin.program.sizes[block.pathway.source], twin.program.sizes[block.pathway.target]
    env = dict(fixed_env)
    for stmt in twin._statements[block.name]:
        if stmt.op == ":=" and stmt.var not in env:
            env[stmt.var] = evaluate(stmt, env)
    matrices = []
    relaxed = dense.get("relaxed")
    if relaxed is not None:  # (n_syn, taps) in queue order, and each synapse's (pre, post) slot
        kernel = relaxed.kernel()[path["perm"].to(device)]
        slots = (path["pre"] * n_post + path["post"]).to(device)
    for stmt in dense["targets"]:
        value = evaluate(stmt, env)
        value = value.to(device=device, dtype=twin.float_dtype) if isinstance(value, torch.Tensor) else torch.full((), value, dtype=twin.float_dtype, device=device)
        value = torch.broadcast_to(value, (len(path["perm"]),))
        if stmt.op == "-=":
            value = -value
        if relaxed is not None:  # W_d = sum over synapses of value * kernel(d), every tap
            flat = torch.zeros(kernel.shape[1], n_pre * n_post, dtype=twin.float_dtype, device=device)
            flat = flat.index_add(1, slots, (value[:, None] * kernel).T)
            matrices.append((stmt, list(enumerate(flat.reshape(-1, n_pre, n_post).unbind(0)))))
            continue
        per_delay = []
        for d, where, pre, post, unique in dense["delays"]:
            weights = torch.zeros(n_pre, n_post, dtype=twin.float_dtype, device=device)
            per_delay.append((d, weights.index_put((pre, post), value if where is None else value[where], accumulate=not unique)))
        matrices.append((stmt, per_delay))
    return matrices

def dense_inputs(twin, call: Call, history: dict, inputs: dict, n: int) -> dict:
    """Dense contributions of input populations for the call's ``n`` steps,
    one matrix product per delay over all steps (input spikes are known in
    advance): ``block name -> [per target statement: tuple of (batch, n_post)]``."""
    out = {}
    for name in twin._from_inputs:
        block = twin._dense_blocks[name][0]
        source = block.pathway.source
        x = inputs[source][:n].to(twin.float_dtype)
        carried = history[source]  # spikes of the steps before the call, oldest first
        depth = len(carried)
        totals = []
        for _, per_delay in call.dense[name]:
            total = None
            for d, weights in per_delay:
                # spikes of steps k - d for k = 0 .. n - 1
                if d == 0:
                    delayed = x
                else:
                    earlier = torch.stack(carried[depth - d : depth - d + n]) if d <= depth else None
                    delayed = torch.cat([earlier, x[: max(n - d, 0)]]) if n > d else earlier
                product = spike_product(delayed, weights, pays(delayed, weights) and is_binary(call, source))
                total = product if total is None else total + product
            totals.append(total.unbind(0))
        out[name] = totals
    return out

def run_dense(twin, block: Block, call: Call, state, hist, k, inputs=None):
    """``X_post += sum_d spikes[t - d] @ W_d``, one matrix per distinct delay
    (``inputs``: the step's precomputed contributions of an input
    population, given by a compiled segment, which has no step index ``k``)."""
    n_post = twin.program.sizes[block.pathway.target]
    precomputed = call.inputs.get(block.name) if inputs is None else inputs
    depth = len(hist)
    for index, (stmt, per_delay) in enumerate(call.dense[block.name]):
        ref = block.refs[stmt.var]
        if precomputed is not None:
            total = precomputed[index] if inputs is not None else precomputed[index][k]
        else:
            total = None
            for d, weights in per_delay:
                product = pathway_product(call, hist[depth - 1 - d], weights, block.pathway.source, k)
                total = product if total is None else total + product
        key = (ref.owner, ref.var)
        if ref.conditional is not None and ref.conditional not in block.override:
            total = torch.where(read_var(twin, state, ref.owner, ref.conditional), total, torch.zeros((), dtype=total.dtype, device=total.device))
        current = read_var(twin, state, *key)
        # a target cleared this step (I = 0) takes the sum itself: +0 + x is
        # x except for x = -0 (the dense sums are not Brian2's order anyway)
        state[key] = expand(total, (call.batch, n_post)) if not torch.compiler.is_compiling() and id(current) in call.zeros else expand(current, (call.batch, n_post)) + total

def is_binary(call: Call, pop: str) -> bool:
    """Whether the spikes of ``pop`` are all 0 or 1: threshold spikes are;
    input spikes are as documented, or counts/weights (the event product
    then multiplies each event by its value). Looked at when an event
    product first needs it (on the CPU: nothing is read back from a GPU)."""
    known = call.binary.get(pop)
    if known is None:
        x = call.input_spikes.get(pop)
        known = call.binary[pop] = x is None or bool(((x == 0) | (x == 1)).all())
    return known

def pathway_product(call: Call, spikes, weights, source: str, k: int):
    """``spikes @ weights`` from the spikes' events where that pays
    (`.events`); the events of a step's spikes are found once and shared
    by every pathway and delay that reads them."""
    if torch.compiler.is_compiling() or not pays(spikes, weights):  # (a compiled segment: a product the compiler sees)
        return spikes @ weights
    binary = is_binary(call, source)
    found = call.events.get(id(spikes))
    if found is None or found[0] is not spikes:
        found = [spikes, Events.find(spikes, binary), k]
        call.events[id(spikes)] = found
    found[2] = k
    return spikes @ weights if found[1] is None else spike_product(spikes, weights, binary, found[1])

def run_summed(twin, plan: BlockPlan, call: Call, state, t):
    block = plan.block
    path = twin._pathways[block.group]
    env = step_env(twin, plan, call, state, t)
    shape = (call.batch, len(path["i"]))
    for stmt, value_name in plan.body:
        env[stmt.var] = env[value_name] if value_name is not None else evaluate(stmt, env)
    value = env["_synaptic_var"]
    value = torch.broadcast_to(value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=twin.float_dtype), shape).to(twin.float_dtype)
    target = block.summed.target
    zeros = torch.zeros(call.batch, twin.program.sizes[target], dtype=twin.float_dtype, device=call.dt.device)
    state[(target, block.summed.var)] = zeros.index_add(1, path["j"], value)


# ------------------------------------------------------------- the table
# Each entry binds one block of the schedule, once per forward call, to a
# function of the step's working values: the loop over steps only calls them.
def _generator(twin, block: Block, plan):
    def run(step: Step):
        x = step.feeds["steps"][block.group][step.k]
        step.fired[block.group] = x
        step.history[block.group] = step.history[block.group][1:] + [x]
    return run


def _drive(twin, block: Block, plan):
    key, group, var = (block.group, block.drive_var), block.group, block.drive_var

    def run(step: Step):
        step.state[key] = step.feeds["drive"][group][var][step.k]
    return run


def _pathway(twin, block: Block, plan: BlockPlan):
    def run(step: Step):
        run_pathway(twin, plan, step.call, step.state, step.fired, step.history, step.stacks, step.t, step.k)
    return run


def _summed(twin, block: Block, plan: BlockPlan):
    def run(step: Step):
        run_summed(twin, plan, step.call, step.state, step.t)
    return run


def _neurons(twin, block: Block, plan: BlockPlan):
    def run(step: Step):
        run_neurons(twin, plan, step.call, step.state, step.fired, step.history, step.t, step.masks)
    return run


def _regular(twin, block: Block, plan: BlockPlan):
    """run_regularly on a clock of its own: every k steps (its code reads the group's t and dt)."""
    every = block.every

    def run(step: Step):
        if (step.start_step + step.k) % every == 0:
            run_neurons(twin, plan, step.call, step.state, step.fired, step.history, step.t, step.masks)
    return run


def _segment(twin, segment, plan):
    """Compiled code blocks (``execution="compiled"``; the entry's block is the `compiled.Segment`)."""
    def run(step: Step):
        segment(step.call, step.state, step.fired, step.masks, step.history, step.t, step.k)
    return run


#: schedule entry kind -> ``(twin, block, plan) -> executor(step)``
EXECUTORS = {
    "generator": _generator,
    "drive": _drive,
    "code": _neurons,
    "threshold": _neurons,
    "reset": _neurons,
    "regular": _regular,
    "pathway": _pathway,
    "summed": _summed,
    "segment": _segment,
}


def executors(twin, schedule: tuple) -> tuple:
    """``schedule`` (``(kind, block, plan)`` entries) as one executor per entry, each called with the `Step`."""
    try:
        return tuple(EXECUTORS[kind](twin, block, plan) for kind, block, plan in schedule)
    except KeyError as exc:
        raise BackendError(f"unknown block kind {exc.args[0]!r}") from None
