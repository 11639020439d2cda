"""Training configuration files (TOML) in four sections: task, readout, optimisation, runtime.

The network file holds the physics (models, sizes, dt, delays); the training
file names it and says what to learn and how to run:

```toml
network = "bsd_network.toml"     # network file, relative to this file
seed = 0                         # batch order and the task's draws

[task]                           # what the network is trained on -> TrainConfig.task (Task)
name = "bsd"                     # bsd | oscillator | heidelberg | mackey_glass | moving_shapes
input = "inp"                    # the network's `kind = "spikes"` population fed with the samples
samples = 2000                   # further keys are the task's options

[readout]                        # where the answer is read -> TrainConfig.readout (Readout)
population = "out"
variable = "y"
loss = "ce_sum_softmax"          # ce_sum_softmax | ce_mean | mse
ignore_first = 160               # steps left out of loss and prediction

[train]                          # the optimisation -> TrainConfig.train (Optimisation)
epochs = 10
batch_size = 64
lr = 0.01
clip_grad_norm = 1.5
schedule = "cosine"              # constant | cosine | step | exponential
surrogate = { kind = "exponential", alpha = 5.0, c = 0.4 }
rate_regularization = { population = "hid", target = "10*Hz", strength = 0.1 }

[train.params.hid]               # trainable values of population (or projection) `hid`
tau_u = { interpolate = ["5*ms", "25*ms"] }   # tau = r*max + (1-r)*min, r clamped to [0, 1]
a = { scale = 120, range = [0, 1] }            # a = q*a_raw, a_raw clamped to [0, 1]
theta = { clamp = [0.5, 2] }                   # the value itself clamped
[train.params.recurrent]
weight = {}                                    # free
[train.params.input]                           # learnable delays of a projection (steps; see DelayRelaxation)
delay = { max = 25, lr_scale = 100, relaxation = "gaussian", sigma = [12.5, 0.23], anneal = 0.25 }

[runtime]                        # how the twin runs, not what it learns -> TrainConfig.runtime (Runtime)
dtype = "float32"
synapses = "dense"
execution = "exact"              # exact | compiled (torch.compile's fused kernels; see Twin)
device = "cpu"
checkpoint_every = 20            # optimizer steps
threads = 1                      # torch CPU threads (default: torch's choice)
```

Files written before ``[runtime]`` existed, with its keys in ``[train]``,
are read with a `FutureWarning` naming each key to move.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .._files import read_toml
from ..backends.registry import DTYPES, EXECUTIONS, SYNAPSE_MODES
from ..errors import ConfigError
from ..network.load import load_network
from ..network.spec import NetworkSpec
from ..validate import check_keys, check_number, check_quantity
from .data import TASKS
from .losses import LOSSES
from .schedules import SCHEDULES

__all__ = ["TrainConfig", "Task", "Readout", "Optimisation", "Runtime", "ParamRule", "DelayRelaxation", "load_train_config", "make_surrogate", "LOSSES", "TASKS", "SCHEDULES"]


_TOP = {"network", "seed", "task", "readout", "train", "runtime"}
_READOUT = {"population", "variable", "loss", "ignore_first"}
_TRAIN = {"epochs", "batch_size", "lr", "clip_grad_norm", "schedule", "step_size", "gamma", "surrogate", "rate_regularization", "params", "max_samples"}
_RUNTIME = {"dtype", "synapses", "execution", "device", "cuda_graph", "threads", "checkpoint_every", "eval_batch_size"}
_RULE = {"interpolate", "scale", "range", "clamp", "lr_scale"}
_DELAY = {"max", "lr_scale", "relaxation", "sigma", "anneal"}
_SURROGATE = {"kind", "alpha", "c"}
_REG = {"population", "target", "strength"}


@dataclass(frozen=True)
class DelayRelaxation:
    """How the delays of a projection are learned (the key ``delay`` of ``[train.params.PROJECTION]``).

    Each synapse gets a continuous position in steps, clamped to
    ``[0, max_steps]`` and starting at the network's delay. ``gaussian``
    spreads a synapse over the delay taps with a normalized Gaussian whose
    width falls geometrically from ``sigma[0]`` (default ``max_steps / 2``)
    to ``sigma[1]`` (default 0.23) over the first ``anneal`` fraction of the
    optimizer steps, then stays there (the DCLS schedule of Hammouamri et al.
    2024); ``linear`` interpolates between the two neighbouring taps. The
    parameter file gets the positions rounded to whole steps.
    """

    max_steps: int
    relaxation: str = "gaussian"
    sigma: tuple = (None, 0.23)
    anneal: float = 0.25

    def sigma_at(self, step: int, total: int) -> float:
        """Width after ``step`` of ``total`` optimizer steps."""
        start = self.max_steps / 2 if self.sigma[0] is None else self.sigma[0]
        fraction = min(1.0, step / max(1e-12, self.anneal * total))
        return start * (self.sigma[1] / start) ** fraction


@dataclass(frozen=True)
class ParamRule:
    """How one value is trained: ``value = f(raw)`` with ``raw`` clamped after every optimizer step.

    kind ``free``: value = raw; ``clamp``: value = raw in [low, high];
    ``interpolate``: value = r*high + (1-r)*low, r in [0, 1];
    ``scale``: value = scale*raw, raw in [low, high] (the q scaling of SE-adLIF);
    ``delay``: the projection's delays (var ``delay``), positions in steps in
    [low, high] = [0, max] learned as ``delay`` describes.
    Bounds are SI floats (steps for delays).
    """

    owner: str
    var: str
    kind: str
    low: float | None = None
    high: float | None = None
    scale: float = 1.0
    lr_scale: float = 1.0
    delay: DelayRelaxation | None = None


@dataclass(frozen=True)
class Task:
    """``[task]``: the dataset maker's ``name``, the ``input`` it feeds and its further ``options``.

    ``input`` is a ``kind = "spikes"`` population, or ``POPULATION.VARIABLE``
    of a neuron population driven with one value per step (analog input).
    Data file options (``train``, ``test``, ``valid``) hold absolute paths.
    """

    name: str
    input: str
    options: dict = field(default_factory=dict)

    @property
    def input_population(self) -> str:
        return self.input.split(".")[0]

    @property
    def input_variable(self) -> str | None:
        """The driven variable of an analog input, None for spike input."""
        parts = self.input.split(".", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def drive_vars(self) -> dict | None:
        """The twin's and Brian2's ``drive_vars`` of an analog input, None for spike input."""
        return None if self.input_variable is None else {self.input_population: [self.input_variable]}


@dataclass(frozen=True)
class Readout:
    """``[readout]``: the recorded ``variable`` of ``population`` scored by ``loss`` after ``ignore_first`` steps."""

    population: str
    variable: str
    loss: str
    ignore_first: int = 0


@dataclass(frozen=True)
class Optimisation:
    """``[train]``: what is learned (``params``, a `ParamRule` each) and how (Adam, clipping, schedule, surrogate, regularization)."""

    params: tuple = ()
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.01
    clip_grad_norm: float | None = None
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.5
    surrogate: dict = field(default_factory=lambda: {"kind": "exponential", "alpha": 5.0, "c": 0.4})
    rate_regularization: tuple = ()
    max_samples: int | None = None


@dataclass(frozen=True)
class Runtime:
    """``[runtime]``: how the twin runs (precision, synapse mode, execution, device, threads, checkpoints); nothing here changes what is learned in float64 on a CPU."""

    dtype: str = "float32"
    synapses: str = "dense"
    execution: str = "exact"
    device: str = "cpu"
    cuda_graph: bool = False
    threads: int | None = None
    checkpoint_every: int = 50
    eval_batch_size: int = 256


@dataclass(frozen=True)
class TrainConfig:
    """A training file (`load_train_config`): the network (the physics) and the four sections.

    Change a knob with `with_`: ``config.with_(epochs=2, dtype="float64")``
    replaces the field of whichever section holds it.
    """

    source: str
    network: NetworkSpec
    seed: int
    task: Task
    readout: Readout
    train: Optimisation = field(default_factory=Optimisation)
    runtime: Runtime = field(default_factory=Runtime)

    def with_(self, **changes) -> "TrainConfig":
        """A copy with fields of the sections replaced by name (``epochs``, ``dtype``, ``ignore_first`` ...)."""
        sections = {}
        for key, value in changes.items():
            owner = next((name for name in _SECTIONS if key in _FIELDS[name]), None)
            if owner is None:
                if key in {f.name for f in fields(self)}:
                    sections[key] = value
                    continue
                known = sorted({f for names in _FIELDS.values() for f in names})
                raise TypeError(f"TrainConfig.with_: no section has a field {key!r}; fields: {', '.join(known)}.")
            sections.setdefault(owner, {})[key] = value
        return replace(self, **{name: replace(getattr(self, name), **value) if name in _SECTIONS else value for name, value in sections.items()})


_SECTIONS = {"task": Task, "readout": Readout, "train": Optimisation, "runtime": Runtime}
_FIELDS = {name: {f.name for f in fields(cls)} for name, cls in _SECTIONS.items()}


def make_surrogate(table: dict):
    """``{kind, alpha, c}`` -> `Surrogate`; ``kind = "none"`` gives no surrogate (c = 0), for graded models."""
    from ..backends.torch.spikes import SURROGATES, Surrogate

    table = dict(table)
    kind = table.pop("kind", "exponential")
    if kind == "none":
        return Surrogate("exponential", alpha=1.0, c=0.0)
    if kind not in SURROGATES:
        raise ValueError(f"surrogate kind must be one of {SURROGATES.choices()}, none, got {kind!r}.")
    return Surrogate(kind, **table)




def _variable_dim(spec: NetworkSpec, owner: str, var: str, where: str):
    """Brian2 dimensions of a population variable or a projection's weight."""
    from brian2.units.fundamentalunits import get_dimensions
    from ..quantities import parse_quantity as pq

    if owner in spec.populations:
        pop = spec.populations[owner]
        if pop.is_input:
            raise ConfigError(f"{where}: '{owner}' is an input population; it has no trainable values.")
        eqs = pop.model.brian_equations
        if var not in eqs.names or var not in pop.values:
            raise ConfigError(f"{where}: '{var}' is not a parameter of population '{owner}' (model {pop.model.name}: {', '.join(sorted(pop.values))}).")
        dim = eqs.dimensions[var]
        return None if dim.is_dimensionless else dim
    for proj in spec.projections:
        if proj.name == owner:
            if var != "weight":
                raise ConfigError(f"{where}: projections train their 'weight' only, got '{var}'.")
            return get_dimensions(pq(proj.weight_unit, where)) if proj.weight_unit != "1" else None
    names = [p for p in spec.populations if not spec.populations[p].is_input] + [p.name for p in spec.projections]
    raise ConfigError(f"{where}: '{owner}' is neither a neuron population nor a projection ({', '.join(names)}).")


def _delay_rule(owner: str, data, spec: NetworkSpec, where: str) -> ParamRule:
    check_keys(data, _DELAY, where)
    proj = next((p for p in spec.projections if p.name == owner), None)
    if proj is None or proj.on_pre is None:
        names = [p.name for p in spec.projections if p.on_pre is not None]
        raise ConfigError(f"{where}: '{owner}' is not a spike-triggered projection of the network ({', '.join(names)}); only those have delays.")
    if proj.several_pathways:
        raise ConfigError(f"{where}: projection '{owner}' has several on_pre pathways; learned delays take a projection with one.")
    if "max" not in data:
        raise ConfigError(f"{where}: key 'max' (the largest delay, in steps) is required.")
    max_steps = check_number(data["max"], f"{where}: key 'max'", minimum=1, integer=True)
    if proj.delay_steps.size and int(proj.delay_steps.max()) > max_steps:
        raise ConfigError(f"{where}: key 'max': the network's delays reach {int(proj.delay_steps.max())} steps, more than max = {max_steps}.")
    lr_scale = check_number(data.get("lr_scale", 1.0), f"{where}: key 'lr_scale'", minimum=0)
    from ..backends.torch.delays import RELAXATIONS

    relaxation = data.get("relaxation", "gaussian")
    if relaxation not in RELAXATIONS:
        raise ConfigError(f"{where}: key 'relaxation' must be one of {', '.join(RELAXATIONS)}, got {relaxation!r}.")
    if relaxation != "gaussian" and ({"sigma", "anneal"} & set(data)):
        raise ConfigError(f"{where}: keys 'sigma' and 'anneal' apply to relaxation = \"gaussian\" only.")
    sigma = data.get("sigma", [max_steps / 2, 0.23])
    if not isinstance(sigma, list) or len(sigma) != 2:
        raise ConfigError(f"{where}: key 'sigma' must be [start, end] in steps, got {sigma!r}.")
    sigma = tuple(float(check_number(v, f"{where}: key 'sigma'")) for v in sigma)
    if min(sigma) <= 0:
        raise ConfigError(f"{where}: key 'sigma' must be positive widths in steps, got {list(sigma)}.")
    anneal = float(check_number(data.get("anneal", 0.25), f"{where}: key 'anneal'", minimum=0))
    if not 0 < anneal <= 1:
        raise ConfigError(f"{where}: key 'anneal' is the fraction of training over which sigma falls, in (0, 1]; got {anneal!r}.")
    relax = DelayRelaxation(max_steps, relaxation, sigma, anneal)
    return ParamRule(owner, "delay", "delay", 0.0, float(max_steps), lr_scale=lr_scale, delay=relax)


def _rule(owner: str, var: str, data, spec: NetworkSpec, where: str) -> ParamRule:
    if var == "delay":
        return _delay_rule(owner, data, spec, where)
    if data is True:
        data = {}
    check_keys(data, _RULE, where)
    dim = _variable_dim(spec, owner, var, where)
    lr_scale = check_number(data.get("lr_scale", 1.0), f"{where}: key 'lr_scale'", minimum=0)
    kinds = [k for k in ("interpolate", "scale", "clamp") if k in data]
    if len(kinds) > 1:
        raise ConfigError(f"{where}: use one of 'interpolate', 'scale', 'clamp', not {kinds}.")
    if "range" in data and "scale" not in data:
        raise ConfigError(f"{where}: key 'range' bounds the raw value of a 'scale' rule; use 'clamp' to bound the value itself.")

    def pair(key, dimension):
        value = data[key]
        if not isinstance(value, list) or len(value) != 2:
            raise ConfigError(f"{where}: key '{key}' must be [low, high].")
        low, high = (check_quantity(v, f"{where}: key '{key}'", dimension) for v in value)
        if not low < high:
            raise ConfigError(f"{where}: key '{key}' needs low < high, got {value}.")
        return low, high

    if "interpolate" in data:
        low, high = pair("interpolate", dim)
        return ParamRule(owner, var, "interpolate", low, high, lr_scale=lr_scale)
    if "scale" in data:
        scale = check_number(data["scale"], f"{where}: key 'scale'")
        if scale == 0:
            raise ConfigError(f"{where}: key 'scale' must not be 0.")
        low, high = pair("range", None) if "range" in data else (None, None)
        if dim is not None:
            raise ConfigError(f"{where}: 'scale' applies to dimensionless values; '{var}' has dimensions {dim}.")
        return ParamRule(owner, var, "scale", low, high, scale=float(scale), lr_scale=lr_scale)
    if "clamp" in data:
        low, high = pair("clamp", dim)
        return ParamRule(owner, var, "clamp", low, high, lr_scale=lr_scale)
    return ParamRule(owner, var, "free", lr_scale=lr_scale)


def _task(data, path: Path, spec: NetworkSpec, network_name: str, where: str) -> Task:
    task = data["task"]
    if not isinstance(task, dict) or "name" not in task or "input" not in task:
        raise ConfigError(f"{where}: [task] needs 'name' ({', '.join(TASKS)}) and 'input' (the input population).")
    TASKS.check(task["name"], f"{where}: [task] key 'name'", ConfigError)
    if not isinstance(task["input"], str):
        raise ConfigError(f"{where}: [task] key 'input' must be a string.")
    if "." in task["input"]:  # analog input: a variable driven at every step
        pop_name, var = task["input"].split(".", 1)
        inp = spec.populations.get(pop_name)
        if inp is None or inp.is_input or var not in inp.model.brian_equations.names:
            raise ConfigError(f"{where}: [task] key 'input': '{task['input']}' must be POPULATION.VARIABLE of a neuron population of {network_name} (analog input, driven every step).")
    else:
        inp = spec.populations.get(task["input"])
        if inp is None or inp.kind != "spikes":
            raise ConfigError(f"{where}: [task] key 'input': '{task['input']}' must be a population of kind \"spikes\" in {network_name} (or POPULATION.VARIABLE for analog input).")
    options = {k: v for k, v in task.items() if k not in ("name", "input")}
    for key in ("train", "test", "valid"):  # data files are relative to the config
        if isinstance(options.get(key), str):
            options[key] = str((path.parent / options[key]).resolve())
    return Task(task["name"], task["input"], options)


def _readout(data, spec: NetworkSpec, network_name: str, where: str) -> Readout:
    readout = data["readout"]
    check_keys(readout, _READOUT, f"{where}: [readout]")
    for key in ("population", "variable", "loss"):
        if key not in readout:
            raise ConfigError(f"{where}: [readout] missing key '{key}'.")
    pop = spec.populations.get(readout["population"])
    if pop is None or pop.is_input:
        raise ConfigError(f"{where}: [readout] key 'population': '{readout['population']}' is not a neuron population of {network_name}.")
    if readout["variable"] not in pop.model.brian_equations.names:
        raise ConfigError(f"{where}: [readout] key 'variable': '{readout['variable']}' is not a variable of model {pop.model.name}.")
    LOSSES.check(readout["loss"], f"{where}: [readout] key 'loss'", ConfigError)
    ignore_first = check_number(readout.get("ignore_first", 0), f"{where}: [readout] key 'ignore_first'", minimum=0, integer=True)
    return Readout(readout["population"], readout["variable"], readout["loss"], ignore_first)


def _runtime(data, where: str) -> Runtime:
    """``[runtime]``, with the keys an older file has in ``[train]`` (each named in a `FutureWarning`)."""
    train, runtime = data.get("train", {}), data.get("runtime", {})
    check_keys(runtime, _RUNTIME, f"{where}: [runtime]")
    moved = sorted(_RUNTIME & set(train)) if isinstance(train, dict) else []
    both = [key for key in moved if key in runtime]
    if both:
        raise ConfigError(f"{where}: key(s) {both} are in both [train] and [runtime]; keep them in [runtime] only.")
    if moved:
        warnings.warn(f"{where}: [train] key(s) {moved} belong in [runtime]; move them there (read from [train] for now).", FutureWarning, stacklevel=3)
    table = {**{key: train[key] for key in moved}, **runtime}
    sections = {key: "train" if key in moved else "runtime" for key in table}

    def at(key):
        return f"{where}: [{sections[key]}] key '{key}'"

    kw = {}
    for key in ("threads", "checkpoint_every", "eval_batch_size"):
        if key in table:
            kw[key] = check_number(table[key], at(key), minimum=1, integer=True)
    for key, allowed in (("dtype", DTYPES), ("synapses", SYNAPSE_MODES), ("execution", EXECUTIONS)):
        if key in table:
            kw[key] = allowed.check(table[key], at(key), ConfigError)
    if "device" in table:
        if not isinstance(table["device"], str):
            raise ConfigError(f"{at('device')} must be a torch device name such as \"cpu\" or \"cuda\", got {table['device']!r}.")
        kw["device"] = table["device"]
    if "cuda_graph" in table:
        if not isinstance(table["cuda_graph"], bool):
            raise ConfigError(f"{at('cuda_graph')} must be true or false, got {table['cuda_graph']!r}.")
        if table["cuda_graph"] and not kw.get("device", "cpu").startswith("cuda"):
            raise ConfigError(f"{at('cuda_graph')}: CUDA graphs need a GPU; set device = \"cuda\" (device is {kw.get('device', 'cpu')!r}).")
        kw["cuda_graph"] = table["cuda_graph"]
    if kw.get("cuda_graph") and kw.get("execution") == "compiled":
        raise ConfigError(f"{where}: [{sections['cuda_graph']}] keys 'cuda_graph' and 'execution': a CUDA graph captures the exact execution's kernels; set execution = \"exact\" with cuda_graph = true, or cuda_graph = false.")
    return Runtime(**kw)


def _optimisation(data, spec: NetworkSpec, runtime: Runtime, where: str) -> Optimisation:
    train = data.get("train", {})
    check_keys(train, _TRAIN | _RUNTIME, f"{where}: [train]")
    kw = {}
    for key in ("epochs", "batch_size", "step_size", "max_samples"):
        if key in train:
            kw[key] = check_number(train[key], f"{where}: [train] key '{key}'", minimum=1, integer=True)
    for key in ("lr", "clip_grad_norm", "gamma"):
        if key in train:
            kw[key] = float(check_number(train[key], f"{where}: [train] key '{key}'", minimum=0))
    if kw.get("clip_grad_norm") == 0:
        raise ConfigError(f"{where}: [train] key 'clip_grad_norm' must be > 0 (0 would zero every gradient); leave the key out for no clipping.")
    if "schedule" in train:
        kw["schedule"] = SCHEDULES.check(train["schedule"], f"{where}: [train] key 'schedule'", ConfigError)
    if "surrogate" in train:
        sur = train["surrogate"]
        check_keys(sur, _SURROGATE, f"{where}: [train] key 'surrogate'")
        try:
            make_surrogate(sur)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: [train] key 'surrogate': {exc}") from None
        kw["surrogate"] = dict(sur)
    regs = train.get("rate_regularization", [])
    regs = [regs] if isinstance(regs, dict) else regs
    parsed = []
    from brian2 import Hz

    for k, reg in enumerate(regs):
        w = f"{where}: [train] rate_regularization[{k}]"
        check_keys(reg, _REG, w)
        if reg.get("population") not in spec.populations or spec.populations[reg["population"]].is_input:
            raise ConfigError(f"{w}: key 'population' must name a neuron population.")
        target = check_quantity(reg.get("target", "0*Hz"), f"{w}: key 'target'", Hz.dim)
        strength = float(check_number(reg.get("strength", 1.0), f"{w}: key 'strength'", minimum=0))
        parsed.append((reg["population"], target, strength))
    kw["rate_regularization"] = tuple(parsed)
    rules = []
    params = train.get("params", {})
    check_keys(params, set(params), f"{where}: [train.params]")
    for owner, table in params.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [train.params.{owner}] must be a table of variable = rule.")
        for var, rule in table.items():
            rules.append(_rule(owner, var, rule, spec, f"{where}: [train.params.{owner}] key '{var}'"))
    if not rules:
        raise ConfigError(f"{where}: [train.params] names no trainable value.")
    delayed = [r for r in rules if r.kind == "delay"]
    if delayed and runtime.synapses != "dense":
        raise ConfigError(f"{where}: [train.params.{delayed[0].owner}] key 'delay': learnable delays need [runtime] synapses = \"dense\".")
    return Optimisation(params=tuple(rules), **kw)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a training configuration and its network.

    Parameters
    ----------
    path : str or Path
        The configuration (TOML): ``network``, ``seed``, ``[task]``,
        ``[readout]``, ``[train]``, ``[runtime]`` (see the module docstring).

    Returns
    -------
    TrainConfig

    Raises
    ------
    ConfigError
        One error naming the file and key of what is wrong.

    Examples
    --------
    >>> config = load_train_config("bioadapt/demo/bsd.toml")
    >>> config.task.name, config.train.epochs, config.runtime.dtype, config.network.populations["hid"].model.name
    ('bsd', 6, 'float32', 'adlif')
    """
    path = Path(path)
    data = read_toml(path, "Training file")
    where = str(path)
    check_keys(data, _TOP, where)
    for key in ("network", "task", "readout"):
        if key not in data:
            raise ConfigError(f"{where}: missing key '{key}'.")
    if not isinstance(data["network"], str):
        raise ConfigError(f"{where}: key 'network' must be the path of a network file.")
    network_path = (path.parent / data["network"]).resolve()
    if not network_path.is_file():
        raise ConfigError(f"{where}: key 'network': file '{data['network']}' not found (looked in {path.parent}).")
    spec = load_network(network_path)
    seed = check_number(data.get("seed", 0), f"{where}: key 'seed'", minimum=0, integer=True)
    task = _task(data, path, spec, network_path.name, where)
    readout = _readout(data, spec, network_path.name, where)
    runtime = _runtime(data, where)
    return TrainConfig(source=where, network=spec, seed=seed, task=task, readout=readout, train=_optimisation(data, spec, runtime, where), runtime=runtime)
