"""The twin's step: what each kind of block does, as functions, and the table that dispatches them.

The executors are functions of the twin's `layout.Layout` (``net``: the tables
built once from the program: plans, synapse orders, index arrays), the values
fixed over a forward call (`env.Call`: the parameters, derived constants,
fixed writes, the surrogate) and the step's working values (`env.Step`: state,
spike history, this step's spikes), which they update: no executor reads the
`Twin` module. ``EXECUTORS`` maps each kind of schedule entry to the function
that binds an entry to its executor, ``executor(step)``; `executors` binds a
whole schedule once per forward call, so no step branches on kind strings, and
`step` runs it as a function of the state: ``(state, history) -> (state,
history, spikes)``.

The binding is made for the call's mode (`mode`): with gradients or off the
CPU, torch throughout (every synapse every step); without gradients on the
CPU, pathways run for the synapses a spike reaches only (`run_arriving`), and
in a float64 twin the neuron and synapse code the numpy target translates runs
with numpy (`run_neurons_numpy`, `run_arriving` with ``numpy``,
`run_summed_numpy`). The same operations on the same values in every mode:
the modes give the same results bit for bit.

The executors follow Brian2's semantics bit for bit (see `twin` for the list):
statement order, conditional writes, threshold and reset, spike-queue order of
synaptic contributions, summed variables into zero.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import BackendError
from ...program import INDEX_POST as _POST, INDEX_PRE as _PRE, INDEX_SELF as _SELF, Block
from .env import Call, Step, arrival_env, as_numpy, block_shape, cast_array, cast_value, combine, evaluate, evaluate_numpy, expand, fixed_arrays, read_array, read_var, step_env
from .arrivals import positions, seed
from .pathways import run_dense
from .plan import BlockPlan
from .spikes import spike, spike_where

__all__ = ["EXECUTORS", "TORCH", "EVENTS", "NUMPY", "Schedule", "executors", "mode", "step", "run_neurons", "run_pathway", "run_arriving", "run_neurons_numpy", "run_statements", "run_statements_numpy", "run_summed", "run_summed_numpy", "Views"]



def run_statements(net, plan: BlockPlan, call: Call, env: dict, state: dict, shape, device, written: dict):
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
            new = cast_value(net, value if stmt.op == "=" else combine(stmt.op, env[stmt.var], value), ref, block_shape(ref, shape), device)
        if ref.conditional is not None and ref.conditional not in plan.block.override:
            new = torch.where(_condition(net, plan, call, state, env, ref), new, expand(env[stmt.var], new.shape))
        env[stmt.var] = new
        written[stmt.var] = ref


def _condition(net, plan: BlockPlan, call: Call, state: dict, env: dict, ref):
    """The condition of a conditional write (``unless refractory``): from the
    block's names, else its owner's variable (a subgroup's neurons of it)."""
    cond = env.get(ref.conditional)
    if cond is None:
        cond = read_var(net, call, state, ref.owner, ref.conditional)
        if plan.block.group in net.subgroups:  # code over a subgroup: its neurons' conditions
            cond = cond[..., net.subgroups[plan.block.group]]
    return cond

#: numpy's dtype of a `Ref`'s dtype kind in a float64 twin (`run_statements_numpy`)
_NUMPY_DTYPES = {"float": np.dtype(np.float64), "int": np.dtype(np.int64), "bool": np.dtype(np.bool_)}


def run_statements_numpy(net, plan: BlockPlan, call: Call, state: dict, shape, t, written: dict, views: "Views") -> dict:
    """`run_statements` with numpy, on views of the tensors: the same
    operations on the same values (`numpy_target.NUMPY_FUNCTIONS`), for a body
    the numpy target translates (``plan.numpy``), reading through the
    block's index arrays ``views.index``. Returns the block's names as numpy
    arrays (or numbers), its written variables among them (numpy's
    floating-point warnings are off in the steps of the numpy mode: `step`)."""
    name = plan.block.name
    refs = plan.block.refs
    env = step_env(net, plan, call, state, t, numpy=True, gather=views.index)
    for index, (stmt, value_name) in enumerate(plan.body):
        value = env[value_name] if value_name is not None else evaluate_numpy(stmt, env)
        if stmt.op == ":=":
            env[stmt.var] = value
            continue
        ref = refs[stmt.var]
        new = cast_array(call, (name, index)) if value_name is not None else None
        if new is None:  # (`combine` on arrays: numpy's operators)
            new = _numpy_cast(value if stmt.op == "=" else combine(stmt.op, env[stmt.var], value), _NUMPY_DTYPES[ref.dtype], block_shape(ref, shape))
        if ref.conditional is not None and ref.conditional not in plan.block.override:
            cond = _condition(net, plan, call, state, env, ref)
            new = np.where(as_numpy(cond) if isinstance(cond, torch.Tensor) else cond, new, env[stmt.var])
        env[stmt.var] = new
        written[stmt.var] = ref
    return env


def run_neurons_numpy(net, plan: BlockPlan, call: Call, state, fired, history, t, masks, views: "Views"):
    """`run_neurons` with numpy (`run_statements_numpy`), the threshold's and
    the reset's own operations included. The variables it writes go into
    ``state`` as new numpy arrays (`env.read_array`; `env.read_var` reads them
    as tensors); the spikes are tensors. The threshold finds the flat
    positions of the spikes once and keeps them with the spikes' other facts
    in the call's cache (`arrivals.seed`: the pathways' senders, the
    reset, the call's spike events read them); its refractory
    variables and the reset are written at those positions only (without
    gradients, `spike_where` is ``where(s > 0, new, old)``: the same values).
    ``t`` is the step's time as a numpy array (`Step.now`); ``views`` the
    block's index arrays as numpy (`Views`)."""
    block = plan.block
    kind = block.kind
    shape = (call.batch, net.program.sizes[block.group])
    written = {}
    env = run_statements_numpy(net, plan, call, state, shape, t, written, views)
    if kind == "code":
        part = views.part
        for name, ref in written.items():
            if part is None:
                state[(ref.owner, ref.var)] = env[name]
            else:  # the subgroup's neurons only, at their places in the population
                full = read_array(net, call, state, ref.owner, ref.var)
                out = np.empty((call.batch, net.program.sizes[ref.owner]), full.dtype)
                out[...] = full
                out[:, part] = env[name]
                state[(ref.owner, ref.var)] = out
        return
    if kind == "threshold":
        cond = env["_cond"]  # a constant condition ("True") is a Python bool
        cond = _numpy_cast(cond, _NUMPY_DTYPES["bool"], shape)
        view = cond.astype(np.float64)
        s = torch.from_numpy(view)
        fired[block.group] = s
        masks[block.group] = torch.from_numpy(cond)
        history[block.group] = history[block.group][1:] + [s]
        where = cond.ravel().nonzero()[0]
        seed(call.events, s, view, where)
        if block.threshold.refractory:  # written for the neurons that spike only, as Brian2 does
            for var, value in (("lastspike", t), ("not_refractory", False)):
                key = (block.group, var)
                state[key] = _written_at(read_array(net, call, state, *key), shape, where, value)
        return
    if kind == "reset":
        where = positions(call.events, fired[block.group])  # (found by the threshold, or now if torch ran it)
        for name, ref in written.items():
            new = env[name]
            new = new.reshape(-1)[where] if new.shape == shape else np.broadcast_to(new, shape).reshape(-1)[where]
            state[(ref.owner, ref.var)] = _written_at(read_array(net, call, state, ref.owner, ref.var), shape, where, new)
        return
    raise BackendError(f"unknown block kind '{kind}'")


def _written_at(old: np.ndarray, shape, where: np.ndarray, new) -> np.ndarray:
    """A new array of ``shape``: ``old`` (broadcast), with ``new`` written at the
    flat positions ``where``: ``where(mask, new, old)`` for ``where =
    flatnonzero(mask)``, in a copy and a write of those positions only
    (``old`` itself where there are none: arrays of the state are never
    written in place)."""
    if old.shape == shape:
        if not len(where):
            return old
        out = old.copy()
    else:
        out = np.empty(shape, old.dtype)
        out[...] = old
    out.put(where, new)
    return out


def _numpy_cast(value, dtype: np.dtype, shape) -> np.ndarray:
    """`cast_value` for numpy: ``value`` as an array of ``dtype`` and ``shape`` (broadcast into a new array where its shape differs)."""
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype != dtype:
        array = array.astype(dtype)
    if array.shape != shape:
        out = np.empty(shape, dtype)
        out[...] = array
        array = out
    return array


def run_neurons(net, plan: BlockPlan, call: Call, state, fired, history, t, masks):
    """A block of neuron code: state update or program block, threshold, reset.

    ``masks`` carries each group's boolean spikes of this step from its
    threshold to its reset.
    """
    block = plan.block
    kind = block.kind
    writes = net.constant_writes.get(block.name)
    if writes is not None:
        for index, key in writes:
            state[key] = call.casts[(block.name, index)]
        return
    device = call.dt.device
    shape = (call.batch, net.program.sizes[block.group])
    written = {}
    env = step_env(net, plan, call, state, t)
    run_statements(net, plan, call, env, state, shape, device, written)
    if kind == "code":
        part = net.subgroups.get(block.group)
        for name, ref in written.items():
            if part is None:
                state[(ref.owner, ref.var)] = env[name]
            else:  # the subgroup's neurons only, at their places in the population
                full = expand(read_var(net, call, state, ref.owner, ref.var), (call.batch, net.program.sizes[ref.owner]))
                state[(ref.owner, ref.var)] = full.index_copy(1, part, expand(env[name], shape).to(full.dtype))
        return
    if kind == "threshold":
        cond = env["_cond"]  # a constant condition ("True") is a Python bool
        cond = expand(cond, shape) if isinstance(cond, torch.Tensor) else torch.full(shape, bool(cond), device=device)
        surrogate = plan.surrogate
        if surrogate is not None and torch.is_grad_enabled():
            left, right = surrogate
            s = spike(left(env) - right(env), cond, call.surrogate)
        else:
            s = cond.to(net.float_dtype)
        fired[block.group] = s
        masks[block.group] = cond
        if history is not None:  # (a compiled segment: the caller appends the spikes)
            history[block.group] = history[block.group][1:] + [s]
        if block.threshold.refractory:
            lastspike = read_var(net, call, state, block.group, "lastspike")
            state[(block.group, "lastspike")] = torch.where(cond, t.to(lastspike.dtype), lastspike)
            state[(block.group, "not_refractory")] = torch.where(cond, torch.zeros((), dtype=torch.bool, device=device), read_var(net, call, state, block.group, "not_refractory"))
        return
    if kind == "reset":
        s = fired[block.group]
        mask = masks[block.group]
        detach = net.detach.get(block.group, set())
        for name, ref in written.items():
            old = read_var(net, call, state, ref.owner, ref.var)
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

def sent(net, call: Call, source: str, fired: dict, history: dict) -> list:
    """The spike history of ``source`` that a pathway reads, this step's spikes
    last: zeros for this step where the group has not fired (an input group, or
    a group without threshold)."""
    if source not in fired:
        fired_now = torch.zeros(call.batch, net.program.sizes[source], dtype=net.float_dtype, device=call.dt.device)
        history[source] = history[source][1:] + [fired_now]
    return history[source]


def run_pathway(net, plan: BlockPlan, call: Call, state, fired, history, stacks, t, k, inputs=None):
    block = plan.block
    source = block.pathway.source
    batch, device = call.batch, call.dt.device
    sent(net, call, source, fired, history)
    if block.name in call.dense:
        run_dense(net, block, call, state, history[source], k, inputs)
        return
    path = net.routes[block.name]
    # the spike history stacked once per source and step, shared by its pathways
    entry = stacks.get(source)
    if entry is None or entry[0] is not history[source]:
        entry = stacks[source] = (history[source], torch.stack(history[source]))
    hist = entry[1]  # (depth, batch, n_source); last entry is this step
    gather = net.gathers[block.name]
    s_syn = hist[hist.shape[0] - 1 - path["delay"], :, path["spiker"]].transpose(0, 1)  # (batch, n_syn) in queue order
    env = step_env(net, plan, call, state, t)
    shape = (batch, s_syn.shape[1])
    for stmt, value_name in plan.body:
        value = env[value_name] if value_name is not None else evaluate(stmt, env)
        if stmt.op == ":=":
            env[stmt.var] = value
            continue
        ref = block.refs[stmt.var]
        if ref.index in (_PRE, _POST):
            contribution = _contribution(net, call, state, block, stmt, ref, value, shape, gather)
            zero = torch.zeros((), dtype=contribution.dtype, device=device)
            contribution = spike_where(s_syn, contribution, zero)
            key = (ref.owner, ref.var)
            current = torch.broadcast_to(read_var(net, call, state, *key), (batch, net.program.sizes[ref.owner]))
            state[key] = current.index_add(1, gather[ref.index], contribution)
        else:
            new = cast_value(net, combine(stmt.op, env[stmt.var], value), ref, shape, device)
            env[stmt.var] = spike_where(s_syn, new, torch.broadcast_to(env[stmt.var], shape))
            state[(ref.owner, ref.var)] = env[stmt.var][..., path["inverse"]]


class Views:
    """What a block of the numpy or events modes indexes with in every step,
    as numpy views, made once per forward call by its binder (the layout's
    tensors may be elsewhere between calls): ``index`` its index arrays (a
    pathway's pre- and postsynaptic indices and synapse order, in queue
    order; a neuron block's linked variables' indices), ``part`` the neurons
    of a subgroup its code runs over (else None) and ``n_syn`` a pathway's
    number of synapses (else None)."""

    __slots__ = ("index", "part", "n_syn")

    def __init__(self, net, block: Block):
        self.index = {how: as_numpy(value) for how, value in (net.index_arrays(block.name) or {}).items()}
        part = net.subgroups.get(block.group)
        self.part = None if part is None else as_numpy(part)
        route = net.routes.get(block.name)
        self.n_syn = None if route is None else len(route["perm"])


def run_arriving(net, plan: BlockPlan, call: Call, state, history, arrivals, t, k, views: Views, numpy: bool = False):
    """`run_pathway` without gradients on the CPU: the synapses a spike reaches
    this step only, in queue order, as Brian2 runs them (`arrivals.Arrivals`).

    A presynaptic contribution is summed into its target with numpy's
    ``add.at`` on a copy of the target: one addition per synapse in queue
    order, as ``index_add`` does on the CPU; samples of a batch the spike did
    not reach add +0, as every synapse does in the gradient path. A value
    fixed over the call added to a target (``w`` in ``g_post += w``,
    ``plan.additions``) is taken from its numpy view for the arriving
    synapses; the block's names are made (`arrival_env`) only where a
    statement evaluates an expression or writes a synaptic variable. With
    ``numpy`` (the numpy mode, for a body the numpy target translates:
    ``plan.numpy``; ``t`` is then `Step.now`), the statements are evaluated
    by numpy (`numpy_target`) on numpy arrays, the synaptic variables
    written into new arrays: the same operations on the same values."""
    arriving = arrivals(history, call.events, k)
    if arriving is None:
        return
    block = plan.block
    name = block.name
    batch, device = call.batch, call.dt.device
    active = arriving.active
    shape = (batch, len(active))
    spikes = arriving.spikes  # None for one sample: every arriving synapse receives a positive spike
    fixed = fixed_arrays(call, name)
    n_syn = views.n_syn
    env = None
    for (stmt, value_name), addition in zip(plan.body, plan.additions):
        ref = block.refs.get(stmt.var)
        if addition:
            value = fixed[value_name]
            if isinstance(value, np.ndarray) and value.ndim and value.shape[-1] == n_syn:  # one per synapse
                value = value[..., active]
        else:
            if env is None:
                env = arrival_env(net, plan, call, state, t, active, views.index if numpy else None)
            value = env[value_name] if value_name is not None else evaluate_numpy(stmt, env) if numpy else evaluate(stmt, env)
        if stmt.op == ":=":
            env[stmt.var] = value
            continue
        key = (ref.owner, ref.var)
        if ref.index in (_PRE, _POST):
            current = read_array(net, call, state, *key)
            index = views.index[ref.index][active]
            # what `_contribution` gives, as numpy, without its tensor of the block's shape
            contribution = _signed(stmt.op, as_numpy(value) if isinstance(value, torch.Tensor) else np.asarray(value))
            if contribution.dtype != current.dtype:
                contribution = contribution.astype(current.dtype)
            if not addition and ref.conditional is not None and ref.conditional not in block.override:
                cond = read_array(net, call, state, ref.owner, ref.conditional)[..., index]
                contribution = np.where(cond, contribution, np.zeros((), contribution.dtype))
            if spikes is not None:
                contribution = np.where(spikes > 0, contribution, np.zeros((), contribution.dtype))
            target = np.empty((batch, net.program.sizes[ref.owner]), current.dtype)
            target[...] = current
            _add_at(target, index, contribution)
            state[key] = target
        elif numpy:  # a synaptic variable, as below, with numpy
            new = _numpy_cast(combine(stmt.op, env[stmt.var], value), _NUMPY_DTYPES[ref.dtype], shape)
            if spikes is not None:
                new = np.where(spikes > 0, new, env[stmt.var])
            env[stmt.var] = new
            full = read_array(net, call, state, *key)
            out = np.empty((batch, n_syn), full.dtype)
            out[...] = full
            out[:, env.gather[_SELF]] = new
            state[key] = out
        else:  # a synaptic variable: written back for the synapses that received a spike, at their places in synapse order
            new = cast_value(net, combine(stmt.op, env[stmt.var], value), ref, shape, device)
            if spikes is not None:
                new = torch.where(torch.from_numpy(spikes > 0), new, torch.broadcast_to(env[stmt.var], shape))
            env[stmt.var] = new
            full = expand(read_var(net, call, state, *key), (batch, n_syn))
            state[key] = full.index_copy(1, env.gather[_SELF], new)


def _signed(op: str, value):
    """What a synapse's ``op`` (``+=``, ``-=``) adds to its target: ``value`` or ``-value``."""
    return value if op == "+=" else -value


def _contribution(net, call: Call, state, block, stmt, ref, value, shape, gather):
    """What a synapse adds to its pre- or postsynaptic target (``+=``, ``-=``),
    at the block's shape, zero where a conditional write (``unless refractory``) is off."""
    contribution = cast_value(net, _signed(stmt.op, value), ref, shape, call.dt.device)
    if ref.conditional is not None and ref.conditional not in block.override:
        cond = read_var(net, call, state, ref.owner, ref.conditional)[..., gather[ref.index]]
        zero = torch.zeros((), dtype=contribution.dtype, device=call.dt.device)
        contribution = torch.where(torch.broadcast_to(cond, shape), contribution, zero)
    return contribution


def run_summed(net, plan: BlockPlan, call: Call, state, t):
    block = plan.block
    path = net.pathways[block.group]
    env = step_env(net, plan, call, state, t)
    shape = (call.batch, len(path["i"]))
    for stmt, value_name in plan.body:
        env[stmt.var] = env[value_name] if value_name is not None else evaluate(stmt, env)
    value = env["_synaptic_var"]
    value = torch.broadcast_to(value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=net.float_dtype), shape).to(net.float_dtype)
    target = block.summed.target
    zeros = torch.zeros(call.batch, net.program.sizes[target], dtype=net.float_dtype, device=call.dt.device)
    state[(target, block.summed.var)] = zeros.index_add(1, path["j"], value)


def run_summed_numpy(net, plan: BlockPlan, call: Call, state, t, views: Views):
    """`run_summed` with numpy (``t`` is `Step.now`), for a body the numpy
    target translates: the synapses' values summed into zeros of the target
    with numpy's ``add.at``, one addition per synapse in synapse order, as
    ``index_add`` does on the CPU."""
    block = plan.block
    env = step_env(net, plan, call, state, t, numpy=True, gather=views.index)
    for stmt, value_name in plan.body:
        env[stmt.var] = env[value_name] if value_name is not None else evaluate_numpy(stmt, env)
    value = _numpy_cast(env["_synaptic_var"], _NUMPY_DTYPES["float"], (call.batch, len(views.index[_POST])))
    target = block.summed.target
    total = np.zeros((call.batch, net.program.sizes[target]), np.float64)
    _add_at(total, views.index[_POST], value)
    state[(target, block.summed.var)] = total


def _add_at(target: np.ndarray, index: np.ndarray, values: np.ndarray):
    """``target[:, index[n]] += values[..., n]`` for every n in order (numpy's
    ``add.at``: one addition at a time, as ``index_add`` on the CPU), in place
    on ``target`` (batch, size); ``values`` (batch or 1, len(index)) or (len(index),)."""
    if target.shape[0] == 1:
        np.add.at(target[0], index, values[0] if values.ndim == 2 else values)
    else:
        np.add.at(target, (slice(None), index), values)


# ------------------------------------------------------------- the table
# Each entry binds one block of the schedule, once per forward call, to a
# function of the step's working values: the loop over steps only calls them.
def _generator(net, block: Block, plan, mode: str):
    def run(step: Step):
        x = step.feeds["steps"][block.group][step.k]
        step.fired[block.group] = x
        step.history[block.group] = step.history[block.group][1:] + [x]
    return run


def _drive(net, block: Block, plan, mode: str):
    key, group, var = (block.group, block.drive_var), block.group, block.drive_var

    def run(step: Step):
        step.state[key] = step.feeds["drive"][group][var][step.k]
    return run


def _pathway(net, block: Block, plan: BlockPlan, mode: str):
    arrivals = net.event_driven.get(block.name) if mode != TORCH and block.name not in net.dense_blocks else None
    if arrivals is not None and mode == NUMPY and plan.numpy:  # only the synapses a spike reaches, with numpy
        source, views = block.pathway.source, Views(net, block)

        def run(step: Step):
            run_arriving(net, plan, step.call, step.state, sent(net, step.call, source, step.fired, step.history), arrivals, step.now, step.k, views, numpy=True)
        return run
    if arrivals is not None:  # only the synapses a spike reaches
        source, views = block.pathway.source, Views(net, block)

        def run(step: Step):
            run_arriving(net, plan, step.call, step.state, sent(net, step.call, source, step.fired, step.history), arrivals, step.t, step.k, views)
        return run

    def run(step: Step):
        run_pathway(net, plan, step.call, step.state, step.fired, step.history, step.stacks, step.t, step.k)
    return run


def _summed(net, block: Block, plan: BlockPlan, mode: str):
    if mode == NUMPY and plan.numpy:
        views = Views(net, block)

        def run(step: Step):
            run_summed_numpy(net, plan, step.call, step.state, step.now, views)
        return run

    def run(step: Step):
        run_summed(net, plan, step.call, step.state, step.t)
    return run


def _neurons(net, block: Block, plan: BlockPlan, mode: str):
    """The executor of a block of neuron code: `run_neurons_numpy` in the
    numpy mode for a block the numpy target translates (constant writes
    aside), `run_neurons` otherwise."""
    if mode == NUMPY and plan.numpy and block.name not in net.constant_writes:
        views = Views(net, block)

        def run(step: Step):
            run_neurons_numpy(net, plan, step.call, step.state, step.fired, step.history, step.now, step.masks, views)
    else:
        def run(step: Step):
            run_neurons(net, plan, step.call, step.state, step.fired, step.history, step.t, step.masks)
    return run


def _regular(net, block: Block, plan: BlockPlan, mode: str):
    """run_regularly on a clock of its own: every k steps (its code reads the group's t and dt)."""
    every = block.every
    runner = _neurons(net, block, plan, mode)

    def run(step: Step):
        if (step.start_step + step.k) % every == 0:
            runner(step)
    return run


def _segment(net, segment, plan, mode: str):
    """Compiled code blocks (``execution="compiled"``; the entry's block is the `compiled.Segment`)."""
    def run(step: Step):
        segment(step.call, step.state, step.fired, step.masks, step.history, step.t, step.k)
    return run


#: schedule entry kind -> ``(net, block, plan) -> executor(step)``
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


#: How a forward call runs its blocks (`mode`): with torch throughout; without
#: gradients on the CPU, the synapses a spike reaches only (`run_arriving`);
#: and, for a float64 twin, neuron and synapse code with numpy (`run_neurons_numpy`,
#: `run_arriving` with ``numpy``, `run_summed_numpy`).
TORCH, EVENTS, NUMPY = "torch", "events", "numpy"


def mode(net, device: torch.device) -> str:
    """The mode of a forward call of ``net`` on ``device`` now (gradients on or off): decided once per call."""
    if device.type != "cpu" or torch.is_grad_enabled():
        return TORCH
    return NUMPY if net.float_dtype == torch.float64 else EVENTS


class Schedule(tuple):
    """The executors of a schedule for one mode (`executors`)."""

    mode: str = TORCH


def executors(net, schedule: tuple, mode: str = TORCH) -> Schedule:
    """``schedule`` (``(kind, block, plan)`` entries) of the layout ``net`` as
    one executor per entry, each called with the `Step`, for the call's
    ``mode`` (`mode`)."""
    try:
        bound = Schedule(EXECUTORS[kind](net, block, plan, mode) for kind, block, plan in schedule)
    except KeyError as exc:
        raise BackendError(f"unknown block kind {exc.args[0]!r}") from None
    bound.mode = mode
    return bound


def step(schedule: tuple, call: Call, state: dict, history: dict, feeds: dict, k: int, t=None, start_step: int = 0, now=None) -> tuple[dict, dict, dict]:
    """One step of the twin, as a function.

    Runs the executors of ``schedule`` (`executors`) in order on copies of
    ``state`` (``(owner, var) -> tensor``) and ``history`` (group -> its spikes
    of the last steps, oldest first) at step ``k`` (time ``t``, a 0-d tensor,
    where the program reads it) with the inputs of ``feeds``, and returns the
    new ``(state, history, fired)``, ``fired`` the spikes of this step by group.
    The arguments are left as they were: the executors write new tensors into
    the step's own dicts, never into a tensor in place (the call's caches of
    spike events aside, which hold no result: `arrivals.found_positions`
    reads there the flat positions of the spikes of the groups whose threshold
    numpy ran). ``now``, if given, is ``t`` as a numpy array (`Step.now`).

    In the numpy and events modes (`mode`), the state returned holds the
    numpy arrays its executors wrote (`env.read_array`; `env.read_var` reads
    them as tensors, ``torch.from_numpy``, as the twin does at the end of a
    call), and numpy's floating-point warnings are off during the step, as
    torch gives none.
    """
    work = Step(call, dict(state), dict(history), feeds, start_step)
    work.t, work.k = t, k
    if getattr(schedule, "mode", TORCH) == TORCH:
        for run in schedule:
            run(work)
    else:
        work.now = now if now is not None or t is None else as_numpy(t)
        with np.errstate(all="ignore"):
            for run in schedule:
                run(work)
    return work.state, work.history, work.fired
