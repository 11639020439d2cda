"""The twin's layout: everything its step reads that is fixed when it is built.

`build_layout` makes, once from the program, the tables the executors
(`execute`) read besides the call's values (`env.Call`: the parameters, the
derived constants, the surrogate) and the step's state: each block's plan, the
synapses in spike-queue order and their index arrays, the dense mode's plans,
the spike histories' depths, subgroups, the schedule. A `Layout` holds no
parameter: those are the `Twin` module's, the only thing training changes.

It also refuses, naming the projection and its code, ``on_pre`` code that the
twin cannot run as Brian2 does (`check_on_pre`, `check_order_independent`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import BackendError
from ...network.spec import NetworkSpec
from ...program import INDEX_POST as _POST, INDEX_PRE as _PRE, INDEX_SELF as _SELF, Block, Kind, Program, Ref
from ...schemes.exact import DERIVED_PREFIX
from .arrivals import Arrivals
from .pathways import dense_plan, spike_queue_routes
from .plan import SCALAR, WHOLE, BlockPlan, plan_block

__all__ = ["Layout", "build_layout", "check_on_pre", "check_order_independent"]


@dataclass
class Layout:
    """The twin's tables, fixed when it is built (see the module docstring).

    Moved to a device with the twin (`Twin._apply`); ``max_delay`` and the
    dense plans change when `Twin.learn_delays` deepens a pathway.
    """

    spec: NetworkSpec
    program: Program
    float_dtype: torch.dtype
    constants: dict  # (owner, var) -> read-only values that are not parameters (indices, flags, derived constants)
    systems: dict  # population -> its derived-constant system (exact propagators, decays), the very objects Brian2's build used
    plans: dict  # block name -> BlockPlan
    schedule: tuple  # (kind, block, plan) per block, in Brian2's order; kind "regular" for run_regularly on a clock of its own
    pathways: dict  # projection -> {"i", "j"}: its synapses' neurons in synapse order
    routes: dict  # pathway block -> its synapses in spike-queue order (`spike_queue_routes`)
    gathers: dict  # synapse block -> index name -> synapse-ordered indices
    indexed: dict  # neuron block -> index name -> indices (linked variables read through an index array)
    subgroups: dict  # subgroup -> its neurons' indices in the population
    dense: dict  # on_pre block -> `dense_plan` (synapses="dense"), None where it cannot run densely
    dense_blocks: dict  # on_pre block -> (block, dense plan), the pathways that run densely
    event_driven: dict  # pathway block -> `Arrivals` (without gradients, only the synapses a spike reaches run)
    detach: dict  # group -> thresholded variables whose reset is detached from the spike
    constant_writes: dict  # code block -> ((body index, (owner, var)), ...) when it writes only fixed values
    max_delay: dict  # spiking group -> the deepest delay its spikes are read at (steps)
    generators: frozenset  # input populations
    emitting: tuple  # groups whose spikes a step emits (not inputs)
    from_inputs: frozenset  # dense pathways from input populations, whose contributions are computed for all steps at once
    uses_t: bool  # whether any block reads the time (or a threshold records lastspike)

    def index_arrays(self, block_name: str) -> dict | None:
        """The index arrays a block reads variables through: a pathway's
        (`gathers`), else a neuron block's linked variables' (`indexed`), else None."""
        found = self.gathers.get(block_name)
        return found if found is not None else self.indexed.get(block_name)


def build_layout(spec: NetworkSpec, program: Program, math: str, synapses: str, float_dtype: torch.dtype) -> Layout:
    """The `Layout` of ``program`` (extracted from ``spec``) with the elementary
    functions of ``math`` and the synaptic mode ``synapses``; refuses pathway
    code the twin cannot run (`check_on_pre`, `check_order_independent`)."""
    prog = program
    constants = {}
    for (owner, var), value in prog.initial.items():
        if (owner, var) in prog.written or owner == prog.clock:
            continue
        tensor = torch.as_tensor(np.asarray(value))
        if tensor.is_floating_point() and not var.startswith(DERIVED_PREFIX):
            continue  # a parameter (the module's)
        if tensor.is_floating_point():  # derived constants (propagators): not trainable
            constants[(owner, var)] = tensor.to(float_dtype)
        else:
            constants[(owner, var)] = tensor.to(torch.int64 if tensor.dtype != torch.bool else torch.bool)
    # per block, what is fixed over a call and what is read every step, and
    # its statements, each compiled once with the elementary functions of ``math``
    plans = {b.name: plan_block(b, prog, math, gathered=b.kind in ("pathway", "summed") or b.group in prog.synapses)
             for b in prog.blocks if b.kind not in ("generator", "drive")}
    pathways = {name: {"i": torch.as_tensor(syn["i"], dtype=torch.int64), "j": torch.as_tensor(syn["j"], dtype=torch.int64)}
                for name, syn in prog.synapses.items()}
    routes = spike_queue_routes(prog)
    on_pre = [block for block in prog.blocks if block.kind == Kind.PATHWAY and block.pathway.prepost == "pre"]
    dense = {block.name: dense_plan(prog, block, plans[block.name].statements, routes[block.name]) for block in on_pre} if synapses == "dense" else {}
    max_delay = {}
    for syn in prog.synapses.values():
        for steps in syn["pre_delays"].values():
            if len(steps):
                max_delay[syn["source"]] = max(max_delay.get(syn["source"], 0), int(steps.max()))
        if len(syn["post_delay_steps"]) and syn["post_delay_steps"].max() > 0:  # on_post reads the postsynaptic spikes that many steps back
            max_delay[syn["target"]] = max(max_delay.get(syn["target"], 0), int(syn["post_delay_steps"].max()))
    # variables written by a reset are detached from the spike when they are
    # thresholded variables (the published convention: the reset of u is
    # detached, the spike feeding other variables is not)
    detach = {block.group: set(block.threshold.thresholded) for block in prog.blocks if block.kind == Kind.THRESHOLD and block.threshold.left is not None}
    # a code block on a clock of its own (run_regularly(dt=k*dt)) is told apart here, once, not every step
    schedule = tuple(("regular" if b.every is not None else b.kind.value, b, plans.get(b.name)) for b in prog.blocks)
    # code over part of a population (a Brian2 subgroup, G[:800].run_regularly):
    # subgroup -> its neurons' indices in the population (Brian2's _sub_idx)
    subgroups = {b.group: torch.as_tensor(np.asarray(prog.initial[(b.group, "_sub_idx")]), dtype=torch.int64)
                 for b in prog.blocks if b.kind not in ("generator", "drive") and b.group not in prog.synapses and b.group not in spec.populations}
    # code blocks that only write values fixed over a call (I = 0, z = 0):
    # per step they just put the call's prepared values into the state
    constant_writes = {}
    for name, plan in plans.items():
        refs = plan.block.refs
        if plan.block.kind == "code" and plan.block.group not in prog.synapses and plan.block.group not in subgroups and all(value is not None and stmt.op == "=" and refs[stmt.var].conditional in (None, *plan.block.override) for stmt, value in plan.body):
            constant_writes[name] = tuple((index, (refs[stmt.var].owner, refs[stmt.var].var)) for index, (stmt, _) in enumerate(plan.body))
    gathers = {}
    for b in prog.blocks:
        if b.kind == "pathway":
            path = routes[b.name]
            gathers[b.name] = {_PRE: path["pre"], _POST: path["post"], _SELF: path["perm"]}
        elif b.kind == "summed" or (b.kind == "code" and b.group in prog.synapses):  # synapse order
            path = pathways[b.group]
            gathers[b.name] = {_PRE: path["i"], _POST: path["j"]}
    # neuron code reading another group's variable through an index array of
    # its own group (Brian2's linked_var(..., index=...)): block -> index name -> indices
    indexed = {}
    for name, plan in plans.items():
        if name not in gathers:
            for *_, how in plan.fixed + plan.step:
                if how not in (WHOLE, SCALAR):
                    indexed.setdefault(name, {})[how] = torch.as_tensor(np.asarray(prog.initial[(plan.block.group, how)]), dtype=torch.int64)
    for plan in plans.values():
        if plan.block.kind == "pathway":
            reads = [frozenset(re.findall(r"[A-Za-z_]\w*", stmt.expr)) for stmt, _ in plan.body]  # the names each statement reads
            check_order_independent(spec, plan.block, routes[plan.block.name], reads)
            check_on_pre(spec, plan, reads)
    # without gradients, pathways run for the synapses whose spike arrives in a
    # step only (as in Brian2); synaptic variables they write (plasticity) are
    # written back for those synapses (shared ones would be written by all: not so)
    event_driven = {name: Arrivals(routes[name]["delay"], routes[name]["spiker"], prog.sizes[plan.block.pathway.source])
                    for name, plan in plans.items() if plan.block.kind == "pathway"
                    and not any(stmt.op != ":=" and plan.block.refs[stmt.var].scalar for stmt, _ in plan.body)}
    uses_t = any(plan.clock_t for plan in plans.values()) or any(b.kind == Kind.THRESHOLD and b.threshold.refractory for b in prog.blocks)
    dense_blocks = {b.name: (b, dense[b.name]) for b in on_pre if dense.get(b.name) is not None}
    # dense pathways from input populations whose spikes enter the history
    # before the pathway runs: their contributions of all steps are one
    # matrix product per delay (the input spikes are known in advance)
    position = {b.name: k for k, b in enumerate(prog.blocks)}
    generators = {b.group: position[b.name] for b in prog.blocks if b.kind == "generator"}
    return Layout(
        spec=spec, program=prog, float_dtype=float_dtype, constants=constants, systems=dict(prog.systems), plans=plans, schedule=schedule,
        pathways=pathways, routes=routes, gathers=gathers, indexed=indexed, subgroups=subgroups, dense=dense, dense_blocks=dense_blocks,
        event_driven=event_driven, detach=detach, constant_writes=constant_writes, max_delay=max_delay, generators=frozenset(generators),
        emitting=tuple(g for g in prog.spiking if g not in generators),
        from_inputs=frozenset(name for name, (b, _) in dense_blocks.items() if generators.get(b.pathway.source, len(prog.blocks)) < position[name]),
        uses_t=uses_t,
    )


def code_key(spec: NetworkSpec, block: Block) -> str:
    """The network file's key of a pathway block's code: ``on_pre`` (``on_pre.NAME`` of several) or ``on_post``."""
    if block.pathway.prepost == "post":
        return "on_post"
    return next(p for p in spec.projections if p.name == block.group).pathway_key(block.pathway.name)


def check_on_pre(spec: NetworkSpec, plan: BlockPlan, reads: list):
    """Refuse on_pre code the twin cannot run as Brian2 does: a neuron variable
    assigned (not ``+=``/``-=``), or read after the code wrote it (``reads``:
    the names each statement of the body reads)."""
    block, touched = plan.block, set()
    for (stmt, _), used in zip(plan.body, reads):
        read_after_write = touched & used
        if read_after_write:
            raise BackendError(f"{spec.source}: projection '{block.group}': {code_key(spec, block)} reads {sorted(read_after_write)} after writing it; the twin supports {code_key(spec, block)} code that writes neuron variables with += or -= only at its end.")
        if stmt.op != ":=" and block.refs[stmt.var].index in (_PRE, _POST):
            if stmt.op not in ("+=", "-="):
                raise BackendError(f"{spec.source}: projection '{block.group}': {code_key(spec, block)} statement '{stmt}' assigns a neuron variable; the twin supports '+=' and '-=' on *_pre/*_post variables.")
            touched.add(stmt.var)


def check_order_independent(spec: NetworkSpec, block: Block, route: dict, reads: list):
    """Refuse on_pre code whose result depends on the order of the synapses.

    Code that adds to a neuron variable and also reads that variable
    (``v_post += w*(E - v_post)`` with several synapses onto one neuron, or
    ``x_post += w*x_pre`` within one group) is applied by Brian2 one synapse
    after another, each synapse seeing the changes of the earlier ones
    (Brian2 warns that such code "may not be well-defined"). The twin adds
    the contributions of all synapses of a step at once, so it refuses such
    code instead of silently differing. ``route`` is the block's
    `spike_queue_routes` entry, ``reads`` the names each statement reads.
    """
    statements = block.scalar + block.vector
    # neurons of which no two synapses touch one (then the order cannot matter);
    # the spiking neurons' own variables are touched by all their synapses at once
    one_each = {_POST: _once_each(route["post"]), _PRE: _once_each(route["pre"])}
    written = {(block.refs[s.var].owner, block.refs[s.var].var) for s in statements
               if s.op in ("+=", "-=") and s.var in block.refs and block.refs[s.var].index in (_PRE, _POST)}
    for used in reads:
        for name in sorted(used):
            ref = block.refs.get(name)
            if isinstance(ref, Ref) and (ref.owner, ref.var) in written and not (ref.index in one_each and one_each[ref.index] and ref.index != {"pre": _PRE, "post": _POST}[block.pathway.prepost]):
                raise BackendError(
                    f"{spec.source}: projection '{block.group}': {code_key(spec, block)} reads '{name}' while adding to "
                    f"'{ref.owner}.{ref.var}'; Brian2 applies such code synapse by synapse (the result depends on "
                    "their order) and the twin adds all contributions of a step at once. Make the change "
                    "independent of the variable it changes (e.g. add to a conductance that the neuron's "
                    "equations use).")


def _once_each(index: torch.Tensor) -> bool:
    """Whether no value occurs twice in ``index`` (neuron indices, >= 0): one counting pass (`torch.unique` sorts)."""
    return not len(index) or int(torch.bincount(index).max()) <= 1
