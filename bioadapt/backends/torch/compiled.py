"""The twin's compiled execution (``Twin(execution="compiled")``, a training option).

Each run of consecutive code blocks in a step (state updates, thresholds,
resets, ``run_regularly`` blocks; on GPUs also the dense pathways between them)
becomes one function compiled by `torch.compile`, which runs the twin's own
executors (`execute.run_neurons`, `execute.run_pathway`) on copies of the
step's dicts, so nothing is written per model. Blocks that draw noise or read
a timed array, and the CPU's event-driven pathways, run eagerly between the
segments (`segments`).
"""

from __future__ import annotations

import re
import types
import warnings
from dataclasses import dataclass

import torch

from ...errors import BackendError
from ...noise import NoiseSource
from ...program import TimedInput
from .execute import run_neurons, run_pathway
from .plan import torch_dtype

__all__ = ["Segment", "compile_segment", "requiring_grad", "segments"]


def compile_segment(net, entries: tuple) -> "Segment":
    """The blocks ``entries`` (consecutive in the schedule: code blocks and
    dense pathways) as one function compiled by `torch.compile` (see `Segment`)."""
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

    name = "twin_segment_" + re.sub(r"\W", "_", entries[0][1].name)
    code = segment.__code__.replace(co_name=name)
    # guards on tensors only (shapes, dtypes, devices, gradient flags): the
    # Python structures the function reads (the program, the call's names,
    # the state's keys) are fixed for this twin and the same every step,
    # and checking them at every call would cost more than the blocks
    with warnings.catch_warnings():  # torch's compiler imports its deprecated TorchScript helpers on first use
        warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*", category=DeprecationWarning)
        fn = torch.compile(types.FunctionType(code, segment.__globals__, code.co_name, None, segment.__closure__), dynamic=False,
                           options={"guard_filter_fn": tensor_guards})
    return Segment(fn, keys, tuple(writes.values()), groups, tuple(block.name for kind, block, _ in entries if kind == "pathway" and block.name in net.from_inputs))


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
        with warnings.catch_warnings():  # torch's own warnings while it traces (its tracer's internals, not the program)
            warnings.filterwarnings("ignore", module=r"torch\.")
            try:
                values, spikes = self.fn(call, state, fired, masks, history, inputs, t)
            except torch._dynamo.exc.BackendCompilerFailed as exc:
                raise BackendError(f"execution='compiled': torch.compile could not build the kernels of this twin ({type(exc.inner_exception).__name__}: "
                                   f"{str(exc.inner_exception).splitlines()[0] if str(exc.inner_exception) else ''}); on the CPU it needs a C++ compiler "
                                   "(g++) and Python's headers (python3-dev). Use execution='exact' without them.") from exc
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
        if (kind in ("code", "threshold", "reset") and not any(isinstance(value, (NoiseSource, TimedInput)) for _, value in plan.constants)) \
                or (kind == "pathway" and block.name in dense and block.pathway.source in fired):
            run.append(entry)
        else:
            close()
            steps.append(entry)
    close()
    return tuple(steps)
