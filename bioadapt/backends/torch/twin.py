"""The PyTorch twin: executes the program Brian2 runs, step for step.

`Twin` is an ``nn.Module`` whose parameters are every float array that the
per-step program reads but never writes (weights, time constants, adaptation
strengths, thresholds ...), stored under their Brian2 names
(``twin.params["hid"]["tau_u"]``, ``twin.params["inp_to_hid_0"]["weight"]``).
Everything the program writes is state, passed in and returned, never hidden
in the module. What the step reads besides parameters and state is fixed when
the twin is built: its `layout.Layout` (plans, synapse orders, index arrays).
A forward call gathers the parameters and what follows from them into the
call's values (`env.Call`, `Twin._prepare`) and runs the schedule's executors
(`execute`), functions of layout, call and step, step after step.

Semantics copied from Brian2, generically (no per-model code):

- schedule order of `Program.blocks` (Brian2's ``sorted_objects``);
- Jacobi/sequential statement semantics of abstract code, loop invariants and
  numpy's boolean-where simplification (see `bioadapt.backends.brian.extract`);
- ``unless refractory`` write protection (conditional writes), also for
  ``on_pre`` code;
- thresholds set ``lastspike = t`` and ``not_refractory = False``;
- resets act on the neurons that spiked in this step;
- spike-triggered synapses act ``delay`` steps after the presynaptic spike,
  delay 0 in the same step (after thresholds, before resets); contributions
  to the same neuron are added one by one in the order of Brian2's spike queue
  (push step, then presynaptic index, then synapse index), so sums round
  exactly as in Brian2;
- summed (graded) variables are summed in synapse order into zero.

For training, `Twin.learn_delays` replaces a projection's whole-step delays
by continuous per-synapse positions (`RelaxedDelays`), a relaxation that only
the dense pathway runs; rounded, they are ordinary delays again.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from brian2.input.timedarray import _find_K  # Brian2's upsampling factor of a TimedArray
from torch import nn

from ...errors import BackendError
from ...network.record import check_record
from ...network.spec import NetworkSpec
from ...noise import NoiseSource
from .arrivals import Arrivals, found_positions
from .calls import capturing, check_forward
from .compiled import STEPS_PER_GRAPH, Chunks, compile_segment, requiring_grad, segments, traceable
from .delays import RELAXATIONS, RelaxedDelays
from .env import Call, block_shape, cast_value, evaluate, expand, read_var, take
from .execute import executors, mode, step
from .layout import Layout, build_layout
from .pathways import dense_inputs, dense_weights
from ...program import Kind, Program, TimedInput, dtype_kind
from ..brian.extract import extract_program
from .plan import torch_dtype
from .propagators import torch_propagators
from .spikes import Surrogate, spike_events as spike_events_of
from ..registry import EXECUTIONS as _EXECUTIONS, MATH_MODES as _MATH_MODES, SYNAPSE_MODES as _SYNAPSE_MODES

__all__ = ["Twin", "TwinOutput", "RelaxedDelays", "RELAXATIONS"]


#: ``execution=`` of the twin: ``exact`` runs every operator eagerly, bit for bit
#: as Brian2; ``compiled`` runs the code blocks through `torch.compile` (training)
EXECUTIONS = _EXECUTIONS.names


@dataclass
class TwinOutput:
    """Result of `Twin.forward`.

    Attributes
    ----------
    spikes : dict
        population -> float tensor (n_steps, batch, size), surrogate gradients
        attached; with ``forward(..., spike_events=True)``, int64 events
        (n_spikes, 3), rows ``(step, sample, neuron)``
    traces : dict
        population -> {variable: tensor (n_steps, batch, size)} at the end of each step
    state : dict
        (owner, variable) -> tensor, the state after the last step, including
        ``("_history", group)``: the last spikes still travelling along delayed synapses
        (feed it back to continue the run exactly)
    """

    spikes: dict
    traces: dict
    state: dict


class Twin(nn.Module):
    """PyTorch twin of a network: the same per-step program as Brian2.

    Parameters
    ----------
    spec : NetworkSpec
    drive_vars : dict, optional
        ``population -> [variables]`` that `forward` will receive external
        drives for (values written at the start of every step).
    dtype : torch.dtype
        ``torch.float64`` (bit-faithful to Brian2) or ``torch.float32``.
    surrogate : Surrogate, optional
        Surrogate derivative of the spike function (a training setting).
    math : {"numpy", "libm", "torch"}, optional
        Whose elementary functions (exp, tanh, pow ...) to reproduce bit for
        bit on CPU: Brian2's numpy runtime (the default of the exact
        execution) or compiled code (cpp_standalone without fast math).
        Arithmetic is identical either way. ``"torch"``: torch's own functions
        (the compiled execution's, and its default), not bitwise to Brian2.
        With ``"numpy"``, a float64 twin on the CPU without gradients
        (`simulate`, `evaluate`, ``torch.no_grad()``) evaluates the per-step
        statements of its larger code blocks (state updates) with numpy, on
        views of the same tensors: the same operations on the same values,
        at numpy's lower cost per operation (`execute.run_statements_numpy`).
    synapses : {"exact", "dense"}
        ``exact`` adds synaptic contributions one by one in Brian2's spike-queue
        order (bitwise equal sums). ``dense`` multiplies delayed spike vectors
        with one weight matrix per distinct delay (fast, batched, GPU-friendly;
        sums are rounded in another order; on the CPU, products large enough
        to pay are computed from the spikes' events, see `.events`). ``dense`` applies to ``on_pre``
        code of the form ``X_post += f(synaptic variables)``; other pathways
        stay exact.
    execution : {"exact", "compiled"}
        ``exact`` runs the program operator by operator, bit for bit as
        Brian2 (float64). ``compiled`` (a training option) runs each stretch
        of consecutive code blocks of a step (on GPUs with the dense pathways
        between them) as one function compiled by `torch.compile`, which
        fuses their arithmetic, forward and backward; it differs from the
        exact execution in the last bits (torch's functions, fused rounding).
        Compiled once per batch size, device, dtype and gradient mode.

    Examples
    --------
    >>> from bioadapt import network_from_dict
    >>> spec = network_from_dict({"dt": "1*ms", "duration": "50*ms", "seed": 0,
    ...     "populations": {"inp": {"kind": "poisson", "size": 5, "rate": "100*Hz"},
    ...                     "hid": {"model": "adlif", "size": 8}},
    ...     "projections": [{"name": "input", "source": "inp", "target": "hid",
    ...                      "on_pre": "I_post += weight", "connect": "all_to_all", "weight": 2.0}]})
    >>> twin = Twin(spec)
    >>> out = twin(record={"hid": ["u"]})
    >>> out.spikes["hid"].shape, out.traces["hid"]["u"].shape
    (torch.Size([50, 1, 8]), torch.Size([50, 1, 8]))
    >>> out.spikes["hid"].sum().backward()   # surrogate gradients reach the parameters
    >>> twin.params["input"]["weight"].grad.shape
    torch.Size([40])
    """

    def __init__(self, spec: NetworkSpec, drive_vars: dict | None = None, dtype: torch.dtype = torch.float64, surrogate: Surrogate | None = None, math: str | None = None, synapses: str = "exact", execution: str = "exact"):
        super().__init__()
        if dtype not in (torch.float64, torch.float32):
            raise BackendError(f"The twin runs in torch.float64 or torch.float32, got {dtype}.")
        self.spec = spec
        self.float_dtype = dtype
        self.surrogate = surrogate or Surrogate()
        _EXECUTIONS.check(execution, "execution")
        if math is None:
            math = "torch" if execution == "compiled" else "numpy"
        _MATH_MODES.check(math, "math")
        if execution == "compiled" and math != "torch":
            raise BackendError(f"execution='compiled' evaluates elementary functions with torch's own (math='torch', which a compiler can fuse), not math='{math}': "
                               "leave math out, or use execution='exact' to reproduce Brian2's functions bit for bit.")
        self.math = math
        self.execution = execution
        _SYNAPSE_MODES.check(synapses, "synapses")
        self.synapse_mode = synapses
        self.program: Program = extract_program(spec, drive_vars)
        self.drive_vars = {pop: list(v) for pop, v in (drive_vars or {}).items()}
        prog = self.program
        # owner -> the variables the program uses: what `forward` can record
        recordable = {}
        for owner, var in set(prog.written) | set(prog.initial):
            recordable.setdefault(owner, set()).add(var)
        self._recordable = {owner: frozenset(variables) for owner, variables in recordable.items()}
        # the tables the step reads, fixed from here on (`layout`); the module holds the parameters
        self.layout: Layout = build_layout(spec, prog, math, synapses, dtype)
        self.params = nn.ModuleDict()
        for (owner, var), value in prog.initial.items():
            if (owner, var) in prog.written or owner == prog.clock or (owner, var) in self.layout.constants:
                continue
            if owner not in self.params:
                self.params[owner] = nn.ParameterDict()
            self.params[owner][var] = nn.Parameter(torch.as_tensor(np.asarray(value)).to(dtype))
        # derived per-neuron constants (the exact scheme's propagators, the
        # symplectic_euler decays): recomputed from the parameters in every
        # forward (gradients flow), as Brian2 receives them
        for pop_name, system in self.layout.systems.items():
            pop = spec.populations[pop_name]
            for name in system.parameters:
                if pop.name not in self.params:
                    self.params[pop.name] = nn.ParameterDict()
                if name not in self.params[pop.name]:
                    value = pop.values.get(name, np.zeros(pop.size))
                    self.params[pop.name][name] = nn.Parameter(torch.as_tensor(np.asarray(value, dtype=np.float64)).to(dtype))
        # execution="compiled": whole steps, several at a time, as one compiled
        # function; where a block cannot be traced, each run of consecutive
        # blocks that can (`compiled`)
        self._compiled_steps = None
        self._compile_steps()
        self.relaxed_delays = nn.ModuleDict()  # projection -> RelaxedDelays (see `learn_delays`)
        self._initial_on = {}  # device -> initial state values on it (`initial_state`)
        # (block, statement) -> (finite, +0, 1) of a constant write, from the last call
        # outside a CUDA graph capture (`_prepare`; a capture cannot read values back)
        self._cast_flags = {}

    @property
    def max_delay(self) -> dict:
        """Spiking group -> the deepest delay its spikes are read at (steps): the spike history keeps that many steps."""
        return self.layout.max_delay

    def _compile_steps(self, per_graph: int | None = STEPS_PER_GRAPH, float_masks: bool = True):
        """New compiled functions of ``execution="compiled"``: at construction,
        and when a pathway's delays change shape (`learn_delays`), since the
        functions guard on tensors only. Whole steps, ``per_graph`` at a time
        (`compiled.Chunks`), where the schedule can be traced; else (or with
        ``per_graph=None``) the schedules of compiled segments (CPU, other
        devices). ``float_masks=False`` leaves out the passes for booleans on the
        CPU (`masks`). (``per_graph=None`` and ``float_masks=False``:
        benchmarks/compiled_steps.py)"""
        if self.execution == "compiled" and per_graph is not None and traceable(self.layout.schedule, self.layout.dense_blocks):
            self._compiled_steps = Chunks(self.layout, per_graph, float_masks)
        elif self.execution == "compiled":  # (on the CPU, the pathways stay eager: their spike products come from the spikes' events)
            self._compiled_steps = {
                "cpu": segments(self.layout.schedule, partial(compile_segment, self.layout, float_masks=float_masks), set()),
                "other": segments(self.layout.schedule, partial(compile_segment, self.layout, float_masks=float_masks), set(self.layout.dense_blocks)),
            }

    def learn_delays(self, projection: str, max_steps: int, relaxation: str = "gaussian") -> "RelaxedDelays":
        """Give every synapse of ``projection`` a continuous, trainable delay position.

        The projection's contributions become ``sum_d spikes[t - d] @ W_d``
        over all taps ``d = 0 .. max_steps``, with ``W_d[pre, post]`` the sum
        over synapses of the synaptic contribution times the synapse's kernel
        at ``d`` (`RelaxedDelays.kernel`). The positions start at the network's
        integer delays. This is the dense pathway with more taps, so it needs
        ``synapses="dense"`` and ``on_pre`` code of the dense form; the
        spike history of the source deepens to ``max_steps``.
        """
        if self.synapse_mode != "dense":
            raise BackendError(f"projection '{projection}': learnable delays need the dense synaptic pathway (synapses='dense').")
        blocks = [b.name for b in self.program.blocks if b.kind == Kind.PATHWAY and b.group == projection and b.pathway.prepost == "pre"]
        if not blocks:
            raise BackendError(f"'{projection}' is not a spike-triggered projection of {self.spec.source}.")
        if len(blocks) > 1:
            raise BackendError(f"projection '{projection}' has several on_pre pathways; learnable delays take a projection with one.")
        dense = self.layout.dense.get(blocks[0])
        if dense is None:
            raise BackendError(f"projection '{projection}': its on_pre code is not of the form X_post += f(synaptic values), which learnable delays need.")
        if relaxation not in RELAXATIONS:
            raise BackendError(f"relaxation must be one of {', '.join(RELAXATIONS)}, got '{relaxation}'.")
        syn = self.program.synapses[projection]
        initial = np.asarray(syn["delay_steps"], dtype=np.float64)
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise BackendError(f"projection '{projection}': the largest delay must be a positive number of steps, got {max_steps!r}.")
        if initial.size and initial.max() > max_steps:
            raise BackendError(f"projection '{projection}': the network's delays reach {int(initial.max())} steps, above the largest learnable delay {max_steps}.")
        module = RelaxedDelays(initial, max_steps, relaxation, self.float_dtype).to(self._device())
        self.relaxed_delays[projection] = module
        dense["relaxed"] = module
        self.layout.max_delay[syn["source"]] = max(self.layout.max_delay.get(syn["source"], 0), max_steps)
        self._compile_steps()
        return module

    @contextmanager
    def hard_delays(self):
        """Within the block, relaxed delays act as their rounded whole steps (what Brian2 simulates)."""
        before = {name: m.hard for name, m in self.relaxed_delays.items()}
        for m in self.relaxed_delays.values():
            m.hard = True
        try:
            yield self
        finally:
            for name, m in self.relaxed_delays.items():
                m.hard = before[name]

    # ------------------------------------------------------------------ state
    def initial_state(self, batch: int = 1, device: torch.device | str | None = None) -> dict:
        """State tensors ``(owner, var) -> (batch, size)`` with Brian2's initial values."""
        device = torch.device(device) if device is not None else self._device()
        # the program's initial values are fixed when the twin is built: copied
        # to a device once (a CUDA graph capture allows no host-to-device copy)
        initial = self._initial_on.get(device)
        if initial is None:
            if capturing(device):
                raise BackendError("CUDA graph capture: the twin's initial state is not on this device yet; run one forward call outside the capture first (CudaGraphStep does).")
            initial = {}
            for key in self.program.written:
                value = np.asarray(self.program.initial.get(key))
                if value is None or value.shape == ():
                    continue
                initial[key] = torch.as_tensor(value).to(device=device, dtype=torch_dtype(dtype_kind(value.dtype), self.float_dtype))
            self._initial_on[device] = initial
        return {key: tensor.unsqueeze(0).expand(batch, -1).clone() for key, tensor in initial.items()}

    def _apply(self, fn, recurse=True):
        """``.to(device)``, ``.cuda()``: move the tensors kept outside parameters too
        (synapse orders and indices, derived constants, dense-pathway indices).

        Casting a built twin to another float type is refused: its constants were
        rounded for the dtype it was built with; build it with ``dtype=`` instead.
        """
        super()._apply(fn, recurse)
        memo = {}
        for name, value in list(vars(self).items()):
            if name not in _MODULE_ATTRIBUTES:
                setattr(self, name, _map_tensors(value, fn, memo))
        self._initial_on = {}  # keyed by device: made again on the device of the next call
        changed = {p.dtype for p in self.parameters()} - {self.float_dtype}
        if changed:
            raise BackendError(f"The twin was built for {self.float_dtype}; build it with Twin(..., dtype={changed.pop()}) instead of casting it.")
        return self

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def default_inputs(self, batch: int = 1) -> dict:
        """Input spikes of the config's Poisson populations, ``(n_steps, batch, size)``."""
        inputs = {}
        for pop in self.spec.populations.values():
            if pop.is_input:
                x = torch.zeros(self.spec.n_steps, pop.size, dtype=self.float_dtype)
                x[torch.as_tensor(pop.input_steps), torch.as_tensor(pop.input_indices)] = 1
                inputs[pop.name] = x.unsqueeze(1).expand(-1, batch, -1).to(self._device())
        return inputs

    # ---------------------------------------------------------------- forward
    def forward(self, inputs: dict | None = None, state: dict | None = None, drive: dict | None = None, n_steps: int | None = None, record: dict | None = None, start_step: int = 0, checkpoint_every: int | None = None, record_every: int = 1, spike_events: bool = False) -> TwinOutput:
        """Run ``n_steps`` steps.

        Parameters
        ----------
        inputs : dict, optional
            ``input population -> spikes (n_steps, batch, size)`` (0/1 floats);
            defaults to the config's Poisson draws (batch 1).
        state : dict, optional
            From `initial_state` or a previous `TwinOutput.state`.
        drive : dict, optional
            ``population -> {variable: (n_steps, batch, size)}`` written at the
            start of every step (the populations/variables given at construction).
        n_steps : int, optional
            Defaults to the inputs' length, else the config's duration.
        record : dict, optional
            ``population -> [variables]`` to return at the end of every step
            (a projection's name: its synaptic variables, one per synapse in
            the spec's order).
        start_step : int
            Index of the first step (sets ``t``), for continuing a run.
        record_every : int
            Record the steps whose index (counted from the start of the run,
            ``start_step`` included) is a multiple of this, as a Brian2
            StateMonitor with ``dt = record_every*dt`` does.
        checkpoint_every : int, optional
            Gradient checkpointing: run the steps in chunks of this many steps
            under `torch.utils.checkpoint` (state, including the spikes in
            flight, passed from chunk to chunk), so that backpropagation keeps
            the activations of one chunk at a time and recomputes each chunk
            during the backward pass. Outputs and gradients are identical to a
            plain run (a test checks this bit for bit); memory falls from
            O(n_steps) to O(n_steps / K + K) per step's activations, time rises
            by about one extra forward pass. Ignored when gradients are off.
            With glibc's default allocator the memory freed within a chunk
            may not be reused (the resident set then grows as without
            checkpointing); ``MALLOC_MMAP_THRESHOLD_=65536`` in the
            environment avoids that (see ``benchmarks/scaling.py``).
        spike_events : bool
            Return each population's spikes as events, ``(n_spikes, 3)``
            int64 rows ``(step, sample, neuron)`` (what ``torch.nonzero(spikes
            > 0)`` gives of the dense tensor, `spikes.spike_events`), without
            making the dense ``(n_steps, batch, size)`` tensor: for long runs
            without gradients. The events carry no gradient.
        """
        inputs = self.default_inputs() if inputs is None else inputs
        drive = drive or {}
        record = check_record(self.spec, record, BackendError, known=lambda owner: (self._recordable.get(owner, frozenset()), " used by the program"))
        # batch size and length come from the inputs and drives (or the state)
        batch, n_steps = check_forward(self, inputs, drive, state, record, n_steps, start_step)
        if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise BackendError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every!r}.")
        if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
            raise BackendError(f"record_every must be a positive number of steps, got {record_every!r}.")
        record_at = (record, record_every)
        device = self._device()
        state = dict(self.initial_state(batch, device) if state is None else state)
        history = {}
        for group in self.program.spiking:
            depth = self.layout.max_delay.get(group, 0) + 1
            carried = state.pop(("_history", group), None)  # spikes still in flight
            if carried is not None:  # its shape was checked (check_forward)
                history[group] = list(carried.unbind(0))
            else:
                history[group] = [torch.zeros(batch, self.program.sizes[group], dtype=self.float_dtype, device=device)] * depth
            if self._compiled_steps is not None:  # compiled segments: no two entries one tensor (a graph is made for one aliasing)
                history[group] = [entry.clone() for entry in history[group]]
        if isinstance(self._compiled_steps, dict) and torch.is_grad_enabled():
            # compiled segments with gradients: every float value they read
            # requires a gradient from the first step on, as from the second
            # (a graph is made for one pattern of requires_grad; `Chunks`
            # does this for each stretch of whole steps)
            state = {key: requiring_grad(value) for key, value in state.items()}
            history = {group: [requiring_grad(entry) for entry in entries] for group, entries in history.items()}
        call = self._prepare(batch, device)
        # per-step slices taken once (unbind: one backward node, not one per step)
        feeds = {
            "inputs": {pop: x[:n_steps] for pop, x in inputs.items()},
            "steps": {pop: x[:n_steps].unbind(0) for pop, x in inputs.items()},
            "drive": {pop: {var: v[:n_steps].to(self.float_dtype).unbind(0) for var, v in variables.items()} for pop, variables in drive.items()},
        }
        call.input_spikes = feeds["inputs"]
        # dense contributions of the input populations, for all steps at once
        # (also when checkpointing: the chunks read them, so both runs agree bit for bit)
        call.inputs = dense_inputs(self.layout, call, history, feeds["inputs"], n_steps)
        if checkpoint_every is not None and checkpoint_every < n_steps and torch.is_grad_enabled():
            spikes, traces, state, history = self._run_checkpointed(call, state, history, feeds, n_steps, record_at, start_step, checkpoint_every)
        else:
            spikes, traces, state, history = self._run_steps(call, state, history, feeds, 0, n_steps, record_at, start_step, spike_events)
        if spike_events:
            spikes = {g: torch.nonzero(feeds["inputs"][g] > 0) if g in self.layout.generators else spike_events_of(v, self.program.sizes[g]) for g, v in spikes.items()}
        else:  # one stack over all steps (also after checkpointed chunks: the
            # same autograd graph as a plain run, hence the same gradients bit for bit)
            spikes = {g: feeds["inputs"][g] if g in self.layout.generators else torch.stack(v) if v else torch.zeros(0) for g, v in spikes.items()}
        traces = {pop: {var: torch.stack(v) if v else torch.zeros(0, batch, self.program.sizes[pop], dtype=self.float_dtype, device=device)
                        for var, v in variables.items()} for pop, variables in traces.items()}
        for group, entries in history.items():
            state[("_history", group)] = torch.stack(entries)
        return TwinOutput(spikes=spikes, traces=traces, state=state)

    def _run_checkpointed(self, call, state, history, feeds, n_steps, record, start_step, every):
        """`_run_steps` in chunks of ``every`` steps, each under `torch.utils.checkpoint`."""
        from torch.utils.checkpoint import checkpoint

        def chunk(state_in, history_in, begin, end):
            # (the steps leave their arguments as they were: the checkpoint keeps them to recompute the chunk)
            return self._run_steps(call, state_in, history_in, feeds, begin, end, record, start_step)

        spikes = {g: [] for g in self.program.spiking}
        traces = {pop: {var: [] for var in variables} for pop, variables in record[0].items()}
        for begin in range(0, n_steps, every):
            end = min(begin + every, n_steps)
            part_spikes, part_traces, state, history = checkpoint(chunk, state, history, begin, end, use_reentrant=False)
            for g, values in part_spikes.items():
                spikes[g] += values
            for pop, variables in part_traces.items():
                for var, values in variables.items():
                    traces[pop][var] += values
        return spikes, traces, state, history

    def _prepare(self, batch: int, device) -> Call:
        """Everything fixed over one forward call, computed once (gradients flow through it)."""
        in_capture = capturing(device)
        if in_capture and self._compiled_steps is not None:
            raise BackendError("CUDA graph capture: this twin runs with execution='compiled' (torch.compile's own kernels); capture a twin with execution='exact', or use the compiled one without a CUDA graph.")
        dt = torch.full((), self.program.dt, dtype=torch.float64, device=device)
        fixed = {}
        # derived constants (exact propagators, symplectic_euler decays), from the current parameters
        for pop, system in self.layout.systems.items():
            names = system.derived_names()
            params = [self.params[pop][p] for p in system.parameters]
            if system.on_device and (device.type != "cpu" or in_capture):
                # on a GPU, torch's own functions on the device (as every
                # function of the twin there): no copy to the host and back
                derived = torch_propagators(system, dict(zip(system.parameters, params)), self.program.sizes[pop], self.program.dt)
                values = [derived[name] for name in names]
            elif in_capture:
                raise BackendError(f"CUDA graph capture: the propagators of population '{pop}' ({type(system).__name__}) are computed on the CPU in every call; this twin runs eagerly only.")
            else:
                values = _Propagators.apply(system, self.program.sizes[pop], self.program.dt, tuple(names), *params)
            for k, name in enumerate(names):
                fixed[(pop, name)] = values[k].to(self.float_dtype)
        call = Call(batch, dt, fixed, envs={}, casts={}, params=self.params, surrogate=self.surrogate)
        for name, plan in self.layout.plans.items():
            block = plan.block
            gather = self.layout.gathers.get(name)
            env = dict(plan.constants)
            for var_name, value in plan.constants:
                if isinstance(value, NoiseSource):
                    env[var_name] = _NoiseDraw(value, batch, device, self.float_dtype)
                elif isinstance(value, TimedInput):
                    env[var_name] = _TimedCall(value, self.program.dt, device, self.float_dtype)
            for var_name, owner, var, how in plan.fixed:
                env[var_name] = take(read_var(self.layout, call, {}, owner, var), how, self.layout.index_arrays(name))
            for var_name in plan.clock_dt:
                env[var_name] = dt
            if gather is None:
                env["_vectorisation_idx"] = torch.arange(self.program.sizes[block.group], device=device)
            for var_name, fn, stmt in plan.prelude:
                env[var_name] = evaluate(stmt, env) if stmt is not None else fn(env)
            call.envs[name] = env
            if gather is None:  # fixed writes of neuron code, at the block's shape
                shape = (batch, self.program.sizes[block.group])
                for index, (stmt, value_name) in enumerate(plan.body):
                    if value_name is not None and stmt.op == "=":
                        ref = block.refs[stmt.var]
                        cast = call.casts[(name, index)] = cast_value(self.layout, env[value_name], ref, block_shape(ref, shape), device)
                        if cast.is_floating_point() and not cast.requires_grad:
                            finite, zero, one = self._constant_flags((name, index), cast, in_capture)
                            if finite:
                                call.finite.add(id(cast))
                            if zero:
                                call.zeros.add(id(cast))
                            if one:
                                call.ones.add(id(cast))
        for name, (block, dense) in self.layout.dense_blocks.items():
            call.dense[name] = dense_weights(self.layout, block, dense, call.envs[name], device)
        return call

    def _constant_flags(self, key, cast, in_capture: bool) -> tuple:
        """Whether a constant write is finite, +0 everywhere, 1 everywhere
        (read back from the device, so taken from the last call outside a
        CUDA graph capture while capturing)."""
        if in_capture:
            flags = self._cast_flags.get(key)
            if flags is None:
                raise BackendError("CUDA graph capture: run one forward call of the twin outside the capture first (CudaGraphStep does).")
            return flags
        finite = bool(torch.isfinite(cast).all())
        zero = finite and not bool(torch.any(cast.signbit() | (cast != 0)))
        one = finite and not zero and bool((cast == 1).all())
        self._cast_flags[key] = (finite, zero, one)
        return finite, zero, one

    def _run_steps(self, call, state, history, feeds, begin, end, record_at, start_step, events: bool = False):
        """Steps ``begin .. end - 1`` of the feeds from ``state`` and ``history``
        (`execute.step`, step after step, or stretches of whole steps compiled
        together: `compiled.Chunks`); returns per-step lists of spikes (empty for
        input populations), the traces of the steps recorded (``record_at``: the
        variables and every how many steps), and the state and history after the
        last step. With ``events``, a step's spikes of a group whose threshold
        numpy ran are the flat positions it found (`spikes.spike_events`)."""
        batch, device = call.batch, call.dt.device
        record, every = record_at
        spikes_out = {g: [] for g in self.program.spiking}
        traces = {pop: {var: [] for var in vars_} for pop, vars_ in record.items()}
        times = nows = None
        if self.layout.uses_t:  # (start + k)*dt in float64, rounded once as in Python; no host copy per step
            times = torch.arange(start_step + begin, start_step + end, dtype=torch.float64, device=device) * call.dt
            nows = times.numpy() if device.type == "cpu" else None  # (the numpy mode's `Step.now`)
            times = times.unbind(0)

        def emit(k, fired, read):
            """Step ``k``'s spikes (``fired``: group -> spikes or None) and recorded values (``read(pop, var)``) into the outputs."""
            for group in self.layout.emitting:
                s = fired.get(group)
                if events and s is not None:  # the flat positions of the spikes, where numpy found them
                    found = found_positions(call.events, s)
                    s = s if found is None else found
                if s is None:
                    s = torch.zeros(batch, self.program.sizes[group], dtype=self.float_dtype, device=device)
                spikes_out[group].append(s)
            for pop, variables in traces.items() if (start_step + k) % every == 0 else ():
                for var, values in variables.items():
                    values.append(expand(read(pop, var), (batch, self.program.sizes[pop])))

        if isinstance(self._compiled_steps, Chunks):  # whole steps, compiled several at a time
            chunks = self._compiled_steps
            keys = tuple((pop, var) for pop, variables in record.items() for var in variables)
            for first in range(begin, end, chunks.steps):
                last = min(first + chunks.steps, end)
                fired, read, state, history = chunks(call, state, history, feeds, None if times is None else times[first - begin : last - begin], first, last, keys)
                for k, spikes, values in zip(range(first, last), fired, read):
                    emit(k, dict(zip(self.layout.emitting, spikes)), lambda pop, var, values=dict(zip(keys, values)): values[(pop, var)])
            return spikes_out, traces, state, history
        if self._compiled_steps is None:
            schedule = executors(self.layout, self.layout.schedule, mode(self.layout, device))
        else:  # (compiled segments run torch's operations, traced once: the torch mode)
            schedule = executors(self.layout, self._compiled_steps["cpu" if device.type == "cpu" else "other"])
        for k in range(begin, end):
            i = k - begin
            state, history, fired = step(schedule, call, state, history, feeds, k, None if times is None else times[i], start_step, None if nows is None else nows[i, ...])
            emit(k, fired, lambda pop, var: read_var(self.layout, call, state, pop, var))
            if call.events:  # keep the events of spikes still read (delays)
                call.events = {key: found for key, found in call.events.items() if found[2] == k}
        state = {key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value for key, value in state.items()}  # (numpy's arrays: `execute.step`)
        return spikes_out, traces, state, history

#: attributes every nn.Module has (parameters, buffers, hooks): not the twin's own
_MODULE_ATTRIBUTES = frozenset(vars(nn.Module()))


def _map_tensors(value, fn, memo: dict):
    """``value`` with ``fn`` applied to every tensor inside its dicts, lists and
    tuples. Dicts and lists are updated in place and ``memo`` maps each object
    once, so structures shared between attributes stay shared."""
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, torch.Tensor):
        out = fn(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            value[k] = _map_tensors(v, fn, memo)
        out = value
    elif isinstance(value, list):
        value[:] = [_map_tensors(v, fn, memo) for v in value]
        out = value
    elif isinstance(value, tuple) and not hasattr(value, "_fields"):
        out = tuple(_map_tensors(v, fn, memo) for v in value)
    elif isinstance(value, Arrivals):
        out = value.map_tensors(fn)
    elif isinstance(value, Layout):  # its tables, in place
        for name in vars(value):
            setattr(value, name, _map_tensors(getattr(value, name), fn, memo))
        out = value
    else:
        out = value
    memo[key] = out
    return out


class _Propagators(torch.autograd.Function):
    """Propagators of the exact scheme: scipy values forward (what Brian2 gets),
    torch.linalg.matrix_exp derivatives backward."""

    @staticmethod
    def forward(ctx, system, size, dt, names, *params):
        values = {p: t.detach().cpu().double().numpy() for p, t in zip(system.parameters, params)}
        derived = system.propagators(values, size, dt)
        ctx.system, ctx.size, ctx.dt, ctx.names = system, size, dt, names
        ctx.save_for_backward(*params)
        return torch.stack([torch.as_tensor(derived[n]) for n in names]).to(params[0].device if params else "cpu")

    @staticmethod
    def backward(ctx, grad):
        params = [p.detach().double().cpu().requires_grad_(True) for p in ctx.saved_tensors]
        with torch.enable_grad():
            derived = torch_propagators(ctx.system, dict(zip(ctx.system.parameters, params)), ctx.size, ctx.dt)
            stacked = torch.stack([derived[n] for n in ctx.names])
            grads = torch.autograd.grad(stacked, params, grad.double().cpu(), allow_unused=True)
        grads = [g.to(p.dtype).to(p.device) if g is not None else None for g, p in zip(grads, ctx.saved_tensors)]
        return (None, None, None, None, *grads)


class _NoiseDraw:
    """A noise source of the code called as ``name(t, i)``: one row of numbers
    per sample of the batch (sample ``b`` draws stream ``b``; the Brian2
    backends draw stream 0), in the twin's float dtype."""

    def __init__(self, source: NoiseSource, batch: int, device, dtype):
        self.source, self.batch, self.device, self.dtype = source, batch, device, dtype

    def __call__(self, t, i):
        _, step = self.source.step(float(t))
        index = i if isinstance(i, torch.Tensor) else torch.tensor([int(i)])
        return self.source.torch(step, index.to(self.device).reshape(-1), streams=self.batch).to(self.dtype)

    def numpy(self, t, i) -> np.ndarray:
        """The call with numpy (the numpy target, float64 on the CPU): the same numbers."""
        _, step = self.source.step(float(t))
        index = np.asarray(i).reshape(-1) if isinstance(i, np.ndarray) else np.asarray([int(i)])
        return self.source.numpy_streams(step, index, streams=self.batch)


class _TimedCall:
    """A timed array called as ``name(t)`` or ``name(t, i)``: the row of time
    ``t`` found as Brian2's numpy implementation finds it (upsampling factor
    ``K`` against the group's ``dt``, rounding, clipping to the first and last
    rows)."""

    def __init__(self, timed: TimedInput, group_dt: float, device, dtype):
        self.values = torch.tensor(np.asarray(timed.values), dtype=dtype, device=device)
        self.K = _find_K(group_dt, timed.dt)
        self.epsilon = timed.dt / self.K
        self.last = len(self.values) - 1
        self._numpy = None  # the values' numpy view (`numpy`, on the CPU)

    def __call__(self, t, i=None):
        if isinstance(t, torch.Tensor) and t.dim() > 0:  # a time per neuron (``stim(t - d)``)
            rows = torch.from_numpy(self._rows(t.detach().cpu().numpy())).to(self.values.device)
        else:
            rows = self._row(float(t))
        if i is None:
            return self.values[rows]
        return self.values[rows, i.long() if isinstance(i, torch.Tensor) else int(i)]

    def _rows(self, times: np.ndarray) -> np.ndarray:
        return np.clip(np.int_(np.round(times / self.epsilon) / self.K), 0, self.last)

    def _row(self, t: float) -> int:
        """`_rows` of one time with Python's operations on floats: ``round``
        rounds half to even as ``np.round``, ``int`` truncates as ``np.int_``."""
        return min(max(int(round(t / self.epsilon) / self.K), 0), self.last)

    def numpy(self, t, i=None) -> np.ndarray:
        """The call with numpy (the numpy target, on the CPU): the same values."""
        values = self._numpy
        if values is None:
            values = self._numpy = self.values.numpy()
        rows = self._rows(t) if np.ndim(t) > 0 else self._row(float(t))
        if i is None:
            return values[rows]
        return values[rows, np.asarray(i, dtype=np.int64) if isinstance(i, np.ndarray) else int(i)]
