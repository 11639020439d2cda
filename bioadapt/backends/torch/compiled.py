"""The twin's compiled execution (``Twin(execution="compiled")``, a training option).

Where every block of the schedule can be traced (no noise, no timed array, no
``run_regularly`` on a clock of its own, pathways as matrix products:
`traceable`), ``STEPS_PER_GRAPH`` whole steps at a time become one function
compiled by `torch.compile` (`Chunks`): the twin's own step (`execute.step`,
its executors in the torch mode) run that many times, so nothing is written
per model, and the compiler fuses each step's arithmetic and pays its
per-call costs once per stretch of steps. Otherwise each run of consecutive
code blocks in a step (state updates, thresholds, resets; on GPUs also the
dense pathways between them) becomes one compiled function, and the blocks
that draw noise or read a timed array, and the CPU's event-driven pathways,
run eagerly between these segments (`segments`). On the CPU, torch's
compiler runs two passes of ours on every graph, which keep the thresholds'
booleans out of memory between kernels (`masks`).
"""

from __future__ import annotations

import copy
import re
import types
import warnings
from dataclasses import dataclass

import torch

from ...errors import BackendError
from ...noise import NoiseSource
from ...program import TimedInput
from .env import read_var
from .execute import TORCH, executors, run_neurons, run_pathway, step
from .masks import compiler_options
from .plan import torch_dtype

__all__ = ["Chunks", "STEPS_PER_GRAPH", "Segment", "compile_segment", "requiring_grad", "segments", "traceable"]

#: Steps per compiled function of `Chunks`, measured on the training-step
#: benchmark network (2 x 256 SE-adLIF, batch 64, 250 steps, float32, one CPU
#: thread; benchmarks/compiled_steps.py): with 1, 2 or 5 steps per graph a
#: training step takes 1.47x, 1.19x, 1.03x the time it takes with 10, with 25
#: no less; the first call's compile time grows with the steps per graph
#: (21 s at 10, 50 s at 25 on an empty cache).
STEPS_PER_GRAPH = 10


def compile_segment(net, entries: tuple, float_masks: bool = True) -> "Segment":
    """The blocks ``entries`` (consecutive in the schedule: code blocks and
    dense pathways) as one function compiled by `torch.compile` (see `Segment`;
    ``float_masks``: with the passes for booleans on the CPU, `masks`)."""
    writes = {}
    for _, block, plan in entries:
        statements = net.dense[block.name]["targets"] if block.kind == "pathway" else [stmt for stmt, _ in plan.body]
        for stmt in statements:
            if stmt.op != ":=":
                ref = block.refs[stmt.var]
                writes[(ref.owner, ref.var)] = torch_dtype(ref.dtype, net.float_dtype) == torch.bool
        if block.kind == "threshold" and block.threshold.refractory:
            writes[(block.group, "lastspike")], writes[(block.group, "not_refractory")] = False, True
    keys, groups = tuple(writes), tuple(block.group for _, block, _ in entries if block.kind == "threshold")
    float_dtype = net.float_dtype

    pathways = any(kind == "pathway" for kind, _, _ in entries)

    def segment(call, state, fired, masks, history, inputs, t):
        state, fired, masks = dict(state), dict(fired), dict(masks)
        history = dict(history) if pathways else None  # (the spike history: only pathways read it)
        for kind, block, plan in entries:
            if kind == "pathway":
                run_pathway(net, plan, call, state, fired, history, None, t, None, inputs.get(block.name))
            else:
                run_neurons(net, plan, call, state, fired, history, t, masks)
        # boolean results leave as floats: the CPU code torch generates
        # stores booleans slowly (a comparison's 0/1 is exact either way)
        values = tuple(state[key].to(float_dtype) if state[key].dtype == torch.bool else state[key] for key in keys)
        return values, tuple(fired[group] for group in groups)

    fn = _compiled(segment, "twin_segment_" + re.sub(r"\W", "_", entries[0][1].name), float_masks)
    return Segment(fn, keys, tuple(writes.values()), groups, tuple(block.name for kind, block, _ in entries if kind == "pathway" and block.name in net.from_inputs))


def _eager_only(kind: str, plan) -> bool:
    """Whether a code block of the schedule runs eagerly: it draws noise or reads a timed array."""
    return kind in ("code", "threshold", "reset", "regular") and any(isinstance(value, (NoiseSource, TimedInput)) for _, value in plan.constants)


def traceable(schedule: tuple, dense) -> bool:
    """Whether whole steps of ``schedule`` can be compiled (`Chunks`): no block
    draws noise or reads a timed array (drawn and looked up on the host),
    none runs on a clock of its own (``run_regularly`` every k steps, which
    depends on the absolute step, not a value of the graph), and every
    pathway is a matrix product (its name in ``dense``).

    Sums into neurons synapse by synapse (``index_add`` in Brian2's order:
    pathways of ``synapses="exact"``, summed variables) stay out: in graphs of
    several steps, torch 2.13's inductor computed them wrongly on the CPU
    (cadlif's membrane from the second step on; lif's gradients), where
    torch's own operators traced the same graph (``aot_eager``) gave the
    exact execution's numbers. Such twins run compiled segments."""
    return not any(kind in ("regular", "summed") or _eager_only(kind, plan) or (kind == "pathway" and block.name not in dense)
                   for kind, block, plan in schedule)


class Chunks:
    """Whole steps of a traceable schedule (`traceable`), ``steps`` at a time,
    each stretch one function compiled by `torch.compile`: `execute.step`
    with the schedule's executors in the torch mode (dense products as matrix
    products, which the graph holds), run for every step of the stretch.

    Called with the call's values, the state and spike history before step
    ``begin``, the feeds of the whole call and the times of steps ``begin ..
    end - 1`` (or None), it returns, for those steps, each step's spikes of
    the ``emitting`` groups (None where a group did not fire), each step's
    values of the variables ``record`` names, and the state and history after
    the last step. One compiled function per length of stretch and recorded
    variables (the last stretch of a call may be shorter), each with a code
    object of its own (torch keeps its graphs per code object), and within it
    one graph per batch size, device, dtype and gradient mode.
    """

    def __init__(self, net, steps: int = STEPS_PER_GRAPH, float_masks: bool = True):
        self.net, self.steps, self.float_masks = net, steps, float_masks
        self.schedule = executors(net, net.schedule, TORCH)
        self._functions = {}

    def _function(self, n: int, record: tuple):
        fn = self._functions.get((n, record))
        if fn is None:
            net, schedule, emitting = self.net, self.schedule, self.net.emitting

            def chunk(call, state, history, feeds, times):
                spikes, values = [], []
                for k in range(n):
                    state, history, fired = step(schedule, call, state, history, feeds, k, None if times is None else times[k])
                    spikes.append(tuple(fired.get(group) for group in emitting))
                    values.append(tuple(read_var(net, call, state, owner, var) for owner, var in record))
                return spikes, values, state, history

            fn = self._functions[(n, record)] = _compiled(chunk, f"twin_steps_{n}_{len(self._functions)}", self.float_masks)
        return fn

    def __call__(self, call, state, history, feeds, times, begin: int, end: int, record: tuple):
        part = copy.copy(call)  # the stretch's own slices of what the call holds per step
        part.inputs = {name: [per_step[begin:end] for per_step in contributions] for name, contributions in call.inputs.items()}
        feeds = {"steps": {pop: x[begin:end] for pop, x in feeds["steps"].items()},
                 "drive": {pop: {var: v[begin:end] for var, v in variables.items()} for pop, variables in feeds["drive"].items()}}
        if torch.is_grad_enabled():
            # every float value read requires a gradient, in every stretch
            # alike (a graph is made for one pattern of requires_grad; the
            # previous stretch's outputs that depend on no parameter do not)
            state = {key: requiring_grad(value) for key, value in state.items()}
            history = {group: [requiring_grad(entry) for entry in entries] for group, entries in history.items()}
        return _call(self._function(end - begin, record), part, state, history, feeds, times)


def _compiled(fn, name: str, float_masks: bool = True):
    """``fn`` compiled by `torch.compile` under a code object of its own named
    ``name`` (``float_masks``: with the passes for booleans on the CPU, `masks`)."""
    code = fn.__code__.replace(co_name=name)
    # guards on tensors only (shapes, dtypes, devices, gradient flags): the
    # Python structures the function reads (the program, the call's names,
    # the state's keys) are fixed for this twin and the same every step,
    # and checking them at every call would cost more than the blocks
    with warnings.catch_warnings():  # torch's compiler imports its deprecated TorchScript helpers on first use
        warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*", category=DeprecationWarning)
        return torch.compile(types.FunctionType(code, fn.__globals__, code.co_name, None, fn.__closure__), dynamic=False,
                             options={"guard_filter_fn": tensor_guards, **(compiler_options() if float_masks else {})})


def _call(fn, *args):
    """A compiled function's call, its compiler's failure one `BackendError`."""
    with warnings.catch_warnings():  # torch's own warnings while it traces (its tracer's internals, not the program)
        warnings.filterwarnings("ignore", module=r"torch\.")
        try:
            return fn(*args)
        except torch._dynamo.exc.BackendCompilerFailed as exc:
            raise BackendError(f"execution='compiled': torch.compile could not build the kernels of this twin ({type(exc.inner_exception).__name__}: "
                               f"{str(exc.inner_exception).splitlines()[0] if str(exc.inner_exception) else ''}); on the CPU it needs a C++ compiler "
                               "(g++) and Python's headers (python3-dev). Use execution='exact' without them.") from exc


def requiring_grad(value):
    """A float tensor that does not require a gradient as a leaf that does (the same values)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point() and not value.requires_grad:
        return value.detach().requires_grad_()
    return value


def tensor_guards(entries) -> list:
    """`torch.compile`'s guard filter for compiled segments: keep the guards on
    tensors (parameters included; with them, that no two inputs alias unless
    they did when traced) and on inputs that are one tensor twice."""
    return [entry.guard_type in ("TENSOR_MATCH", "DUPLICATE_INPUT") for entry in entries]


@dataclass(frozen=True)
class Segment:
    """Consecutive blocks of the schedule run by one compiled function
    (``Twin(execution="compiled")``): ``fn(call, state, fired, masks, history,
    inputs, t)`` (``inputs``: the step's precomputed contributions of input
    populations to its dense pathways) returns the values of the variables ``keys`` the blocks write (booleans as
    0/1 floats, ``boolean``) and the spikes of the ``groups`` they threshold.
    One graph per batch size, device, dtype and gradient mode, reused over
    every step and call (torch's cache is per segment: each function has a
    code object of its own)."""

    fn: object
    keys: tuple
    boolean: tuple
    groups: tuple
    inputs: tuple  # its dense pathways from input populations (their contributions are computed for all steps at once)

    def __call__(self, call, state, fired, masks, history, t, k):
        inputs = {name: tuple(step[k] for step in call.inputs[name]) for name in self.inputs if name in call.inputs}
        values, spikes = _call(self.fn, call, state, fired, masks, history, inputs, t)
        for key, value, boolean in zip(self.keys, values, self.boolean):
            state[key] = value != 0 if boolean else value
        for group, s in zip(self.groups, spikes):
            fired[group], masks[group] = s, s > 0  # s is 0 or 1: s > 0 is the threshold's condition
            history[group] = history[group][1:] + [s]


def segments(schedule: tuple, compile_segment, dense: set) -> tuple:
    """The schedule with each run of consecutive blocks that can be compiled
    replaced by one entry ``("segment", compiled segment, None)``: code blocks
    without noise or timed arrays, not on a clock of their own, and ``dense``
    pathways whose source population fired earlier in the step (a threshold or
    input spikes)."""
    steps, run, fired = [], [], set()

    def close():
        if run:
            steps.append(("segment", compile_segment(tuple(run)), None))
            run.clear()

    for entry in schedule:
        kind, block, plan = entry
        if kind in ("generator", "threshold"):
            fired.add(block.group)
        if (kind in ("code", "threshold", "reset") and not _eager_only(kind, plan)) \
                or (kind == "pathway" and block.name in dense and block.pathway.source in fired):
            run.append(entry)
        else:
            close()
            steps.append(entry)
    close()
    return tuple(steps)
