"""What a block of the twin reads: the values fixed over a forward call (`Call`),
the working values of its steps (`Step`), and how a name of Brian2's code is
read (`read_var`, `take`, `step_env`) and a statement evaluated (`evaluate`,
`combine`, `cast_value`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import BackendError
from ...program import Ref
from .numpy_target import numpy_where
from .plan import SCALAR, BlockPlan, torch_dtype
from .functions import divide

__all__ = ["Call", "Step", "ArrivalEnv", "Selection", "arrival_env", "as_numpy", "block_shape", "cast_array", "cast_value", "combine", "evaluate", "evaluate_numpy", "expand", "fixed_arrays", "read_array", "read_var", "step_env", "take"]


def as_numpy(x: torch.Tensor) -> np.ndarray:
    """The numpy view of a CPU tensor (no copy), whether or not it requires grad."""
    return x.detach().numpy() if x.requires_grad else x.numpy()


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
    events: dict = field(default_factory=dict)  # id(spikes) -> [spikes, Events or None, last step read]; ("fired", id(spikes)) -> [spikes, arrivals.Fired, last step read]
    inputs: dict = field(default_factory=dict)  # pathway block name -> precomputed input contributions per step
    per_synapse: dict = field(default_factory=dict)  # pathway block name (numpy: ``(name, "numpy")``) -> its fixed values split (`arrival_env`)
    params: object = None  # the twin's parameters (``Twin.params``: owner -> {variable: tensor}), read through as they are now
    arrays: dict = field(default_factory=dict)  # block name -> its fixed names as numpy views (`fixed_arrays`)
    cast_arrays: dict = field(default_factory=dict)  # numpy views of ``casts``, same keys (`cast_array`)
    surrogate: object = None  # the spike function's surrogate derivative (`Surrogate`)


class Step:
    """The working values of one step (`execute.step`): the call's fixed
    values, the state and spike history (dicts of the step's own, into which
    the executors write new tensors), the feeds, and the step's time ``t``
    (and ``now``, its numpy view, in the numpy mode), index ``k``, spikes
    ``fired``, threshold ``masks`` and stacked histories ``stacks``."""

    __slots__ = ("call", "state", "history", "feeds", "start_step", "t", "now", "k", "fired", "masks", "stacks")

    def __init__(self, call: Call, state: dict, history: dict, feeds: dict, start_step: int):
        self.call, self.state, self.history, self.feeds, self.start_step = call, state, history, feeds, start_step
        self.t, self.now, self.k, self.fired, self.masks, self.stacks = None, None, 0, {}, {}, {}


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


def select(values: torch.Tensor, active: np.ndarray) -> torch.Tensor:
    """``values[..., active]`` of a CPU tensor, taken by numpy (a fraction of torch's cost per call on small selections)."""
    return torch.from_numpy(as_numpy(values)[..., active])


class Selection(dict):
    """Index arrays of a pathway (`Layout.gathers`, tensors; or their numpy
    views, `execute.Views.index`) for its synapses ``active`` (numpy), each
    made when first read, of the same kind."""

    def __init__(self, full: dict, active: np.ndarray):
        super().__init__()
        self.full, self.active = full, active

    def __missing__(self, how):
        full = self.full[how]
        value = self[how] = full[self.active] if isinstance(full, np.ndarray) else select(full, self.active)
        return value

    def __contains__(self, how):  # what `take` asks: does the pathway gather through ``how``
        return how in self.full


class ArrivalEnv(dict):
    """The names of a pathway's code for the synapses a spike reaches (`arrival_env`):
    fixed values alike for all synapses are there from the start; per-synapse fixed
    values and state are selected or gathered for those synapses when first read."""

    def __missing__(self, name):
        net, call, state, per_synapse, steps, active, numpy = self.sources
        if name in per_synapse:
            value = per_synapse[name][..., active] if numpy else select(per_synapse[name], active)
        elif name in steps:
            owner, var, how = steps[name]
            value = take((read_array if numpy else read_var)(net, call, state, owner, var), how, self.gather)
        else:
            raise KeyError(name)
        self[name] = value
        return value


def read_var(net, call: Call, state: dict, owner: str, var: str) -> torch.Tensor:
    """The value of ``owner.var`` in a step: its state, else the call's derived
    constants, the parameters, the layout's constants, or its initial value.
    A state variable numpy wrote (the numpy mode, `read_array`) is read as a
    tensor of the same memory."""
    key = (owner, var)
    value = state.get(key)
    if value is not None:
        return torch.from_numpy(value) if isinstance(value, np.ndarray) else value
    if key in call.fixed:
        return call.fixed[key]
    params = call.params
    if owner in params and var in params[owner]:
        return params[owner][var]
    if key in net.constants:
        return net.constants[key]
    value = net.program.initial[key]
    return torch.as_tensor(np.asarray(value))


def read_array(net, call: Call, state: dict, owner: str, var: str) -> np.ndarray:
    """`read_var` as a numpy array (on the CPU), for the executors of the numpy
    mode: in that mode the state holds the arrays they write (never written
    in place, as tensors are not), and `read_var` reads them as tensors."""
    value = state.get((owner, var))
    if isinstance(value, np.ndarray):
        return value
    return as_numpy(value if value is not None else read_var(net, call, state, owner, var))

def step_env(net, plan: BlockPlan, call: Call, state: dict, t, numpy: bool = False, gather: dict | None = None) -> dict:
    """The block's names for this step: fixed values of the call, state, ``t``,
    read through the block's index arrays (``gather``, by default the
    layout's); with ``numpy``, as numpy arrays (`read_array`, on the CPU, for
    a body run by numpy: `execute.run_statements_numpy`, which gives the
    index arrays as numpy; ``t`` is then `Step.now`)."""
    name = plan.block.name
    env = (fixed_arrays(call, name) if numpy else call.envs[name]).copy()
    if gather is None:
        gather = net.index_arrays(name)
    read = read_array if numpy else read_var
    for var_name, owner, var, how in plan.step:
        value = read(net, call, state, owner, var)
        env[var_name] = value if how is None else take(value, how, gather)
    for clock in plan.clock_t:
        env[clock] = t
    return env


def cast_array(call: Call, key: tuple) -> np.ndarray | None:
    """The numpy view of ``call.casts[key]`` (made once per call), or None if there is no such cast."""
    array = call.cast_arrays.get(key)
    if array is None:
        cast = call.casts.get(key)
        if cast is None:
            return None
        array = call.cast_arrays[key] = as_numpy(cast)
    return array


def fixed_arrays(call: Call, name: str) -> dict:
    """The fixed names of block ``name`` in the call (``call.envs``), tensors as numpy views: made once per call."""
    arrays = call.arrays.get(name)
    if arrays is None:
        arrays = call.arrays[name] = {key: as_numpy(value) if isinstance(value, torch.Tensor) else value for key, value in call.envs[name].items()}
    return arrays


def arrival_env(net, plan: BlockPlan, call: Call, state: dict, t, active: np.ndarray, index: dict | None = None) -> "ArrivalEnv":
    """`step_env` for the synapses ``active`` (positions in queue order, on the
    CPU) only, each name made when first read; with ``index`` (the pathway's
    index arrays as numpy, `execute.Views.index`), as numpy arrays (`read_array`)
    for a body the numpy target translates (``t`` is then `Step.now`)."""
    name = plan.block.name
    numpy = index is not None
    cached = (name, "numpy") if numpy else name
    parts = call.per_synapse.get(cached)
    if parts is None:  # the call's fixed values: alike for all synapses, or one per synapse
        n_syn = len(net.routes[name]["perm"])
        fixed, kind = (fixed_arrays(call, name), np.ndarray) if numpy else (call.envs[name], torch.Tensor)
        per_synapse = {key: value for key, value in fixed.items() if isinstance(value, kind) and value.ndim and value.shape[-1] == n_syn}
        shared = {key: value for key, value in fixed.items() if key not in per_synapse}
        parts = call.per_synapse[cached] = (shared, per_synapse, {step[0]: step[1:] for step in plan.step})
    shared, per_synapse, steps = parts
    env = ArrivalEnv(shared)
    for clock in plan.clock_t:
        env[clock] = t
    env.sources = (net, call, state, per_synapse, steps, active, numpy)
    env.gather = Selection(index if numpy else net.gathers[name], active)
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

def evaluate_numpy(stmt, env):
    """`evaluate` with the statement's numpy functions (``stmt.numpy``, the numpy target) on numpy arrays."""
    fn, fn_true, fn_false = stmt.numpy
    if stmt.where_bool is None:
        return fn(env)
    return numpy_where(env[stmt.where_bool], fn_true(env), fn_false(env))


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

def cast_value(net, value, ref: Ref, shape, device):
    dtype = torch_dtype(ref.dtype, net.float_dtype)
    if not isinstance(value, torch.Tensor):
        return torch.full(shape, value, dtype=dtype, device=device)
    if value.dtype != dtype:
        value = value.to(dtype)
    return expand(value, shape)
