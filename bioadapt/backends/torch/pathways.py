"""Spike-triggered pathways off the event-driven path: the synapses in Brian2's
spike-queue order (`spike_queue_routes`), and the dense mode, in which a
pathway's contributions are matrix products of the spikes with per-delay
weight matrices built once per call (`dense_plan`, `dense_weights`,
`dense_inputs`, `run_dense`), computed from the spikes' events where that pays
(`pathway_product`, `.events`)."""

from __future__ import annotations

import re

import numpy as np
import torch

from ...program import INDEX_POST as _POST, INDEX_PRE as _PRE, Block, Kind, Program, Ref
from .env import Call, evaluate, expand, read_var
from .events import Events, pays, spike_product

__all__ = ["spike_queue_routes", "dense_plan", "dense_weights", "dense_inputs", "run_dense", "pathway_product", "is_binary"]


def spike_queue_routes(program: Program) -> dict:
    """Every pathway block's synapses in its spike-queue order: on_pre (each
    pathway with its own delays) by descending delay (earlier pushes first),
    presynaptic index, synapse index; on_post (triggered by the postsynaptic
    spikes) by descending delay, postsynaptic index, synapse index.

    Returns ``block name -> {perm, pre, post, delay, inverse, spiker}``: the
    synapse indices in queue order, their pre- and postsynaptic neurons and
    delays, the inverse permutation, and whose spikes trigger the code.
    """
    routes = {}
    for block in program.blocks:
        if block.kind != Kind.PATHWAY:
            continue
        syn = program.synapses[block.group]
        pre = block.pathway.prepost == "pre"
        i, j = syn["i"], syn["j"]
        d = syn["pre_delays"][block.pathway.name] if pre else syn["post_delay_steps"]
        order = np.lexsort((np.arange(len(i)), i if pre else j, -d))
        routes[block.name] = route = {
            "perm": torch.as_tensor(order, dtype=torch.int64),
            "pre": torch.as_tensor(i[order], dtype=torch.int64),
            "post": torch.as_tensor(j[order], dtype=torch.int64),
            "delay": torch.as_tensor(d[order], dtype=torch.int64),
            "inverse": torch.as_tensor(np.argsort(order), dtype=torch.int64),
        }
        route["spiker"] = route["pre"] if pre else route["post"]
    return routes


def dense_plan(program: Program, block: Block, statements: tuple, route: dict) -> dict | None:
    """How the dense mode runs an on_pre pathway (``statements``: its compiled
    statements, `BlockPlan.statements`, ``route``: its `spike_queue_routes` entry): the target
    statements, when the contributions depend on synaptic values only, and the
    synapses of each distinct delay; None when it cannot run densely."""
    targets = []
    for stmt in statements:  # (compiled: the targets are evaluated once per call)
        used = [block.refs.get(name) for name in re.findall(r"[A-Za-z_]\w*", stmt.expr)]
        if any(isinstance(r, Ref) and r.index in (_PRE, _POST) for r in used):
            return None
        if any(isinstance(r, Ref) and r.owner == program.clock and r.var == "t" for r in used):
            return None
        if any(isinstance(r, Ref) and (r.owner, r.var) in program.written for r in used):
            return None  # the weight matrices are built once per call from fixed values
        if stmt.op == ":=":
            continue
        ref = block.refs[stmt.var]
        if ref.index != _POST or stmt.op not in ("+=", "-="):
            return None
        targets.append(stmt)
        delays = route["delay"]
    # synapses of each distinct delay, found once (queue-order positions,
    # presynaptic and postsynaptic indices), and whether a (pre, post)
    # pair occurs twice there (then contributions must be accumulated)
    groups = []
    distinct = sorted(set(delays.tolist()))
    for d in distinct:
        where = torch.nonzero(delays == d).flatten() if len(distinct) > 1 else None
        pre = route["pre"] if where is None else route["pre"][where]
        post = route["post"] if where is None else route["post"][where]
        n_post = program.sizes[block.pathway.target]
        unique = len(torch.unique(pre * n_post + post)) == len(pre)
        groups.append((d, where, pre, post, unique))
    return {"targets": targets, "delays": groups}


def dense_weights(net, block: Block, dense: dict, fixed_env: dict, device) -> list:
    """Per target statement, ``[(delay, W_d)]``: built once per call (the
    contributions depend on synaptic values only, constant over a run)."""
    path = net.routes[block.name]
    n_pre, n_post = net.program.sizes[block.pathway.source], net.program.sizes[block.pathway.target]
    env = dict(fixed_env)
    for stmt in net.plans[block.name].statements:
        if stmt.op == ":=" and stmt.var not in env:
            env[stmt.var] = evaluate(stmt, env)
    matrices = []
    relaxed = dense.get("relaxed")
    if relaxed is not None:  # (n_syn, taps) in queue order, and each synapse's (pre, post) slot
        kernel = relaxed.kernel()[path["perm"].to(device)]
        slots = (path["pre"] * n_post + path["post"]).to(device)
    for stmt in dense["targets"]:
        value = evaluate(stmt, env)
        value = value.to(device=device, dtype=net.float_dtype) if isinstance(value, torch.Tensor) else torch.full((), value, dtype=net.float_dtype, device=device)
        value = torch.broadcast_to(value, (len(path["perm"]),))
        if stmt.op == "-=":
            value = -value
        if relaxed is not None:  # W_d = sum over synapses of value * kernel(d), every tap
            flat = torch.zeros(kernel.shape[1], n_pre * n_post, dtype=net.float_dtype, device=device)
            flat = flat.index_add(1, slots, (value[:, None] * kernel).T)
            matrices.append((stmt, list(enumerate(flat.reshape(-1, n_pre, n_post).unbind(0)))))
            continue
        per_delay = []
        for d, where, pre, post, unique in dense["delays"]:
            weights = torch.zeros(n_pre, n_post, dtype=net.float_dtype, device=device)
            per_delay.append((d, weights.index_put((pre, post), value if where is None else value[where], accumulate=not unique)))
        matrices.append((stmt, per_delay))
    return matrices

def dense_inputs(net, call: Call, history: dict, inputs: dict, n: int) -> dict:
    """Dense contributions of input populations for the call's ``n`` steps,
    one matrix product per delay over all steps (input spikes are known in
    advance): ``block name -> [per target statement: tuple of (batch, n_post)]``."""
    out = {}
    for name in net.from_inputs:
        block = net.dense_blocks[name][0]
        source = block.pathway.source
        x = inputs[source][:n].to(net.float_dtype)
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

def run_dense(net, block: Block, call: Call, state, hist, k, inputs=None):
    """``X_post += sum_d spikes[t - d] @ W_d``, one matrix per distinct delay
    (``inputs``: the step's precomputed contributions of an input
    population, given by a compiled segment, which has no step index ``k``)."""
    n_post = net.program.sizes[block.pathway.target]
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
            total = torch.where(read_var(net, call, state, ref.owner, ref.conditional), total, torch.zeros((), dtype=total.dtype, device=total.device))
        current = read_var(net, call, state, *key)
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
