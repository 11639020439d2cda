"""Training configuration files (TOML): network, task, readout, optimisation, trainable parameters.

```toml
network = "bsd_network.toml"     # network file, relative to this file
seed = 0                         # batch order and torch seed

[task]
name = "bsd"                     # bsd | oscillator | heidelberg | mackey_glass | moving_shapes
input = "inp"                    # the network's `kind = "spikes"` population fed with the samples
samples = 2000                   # further keys are the task's options

[readout]
population = "out"
variable = "y"
loss = "ce_sum_softmax"          # ce_sum_softmax | ce_mean | mse
ignore_first = 160               # steps left out of loss and prediction

[train]
epochs = 10
batch_size = 64
lr = 0.01
clip_grad_norm = 1.5
schedule = "cosine"              # constant | cosine | step | exponential
surrogate = { kind = "exponential", alpha = 5.0, c = 0.4 }
dtype = "float32"
synapses = "dense"
execution = "exact"              # exact | compiled (torch.compile's fused kernels; see Twin)
checkpoint_every = 20            # optimizer steps
threads = 1                      # torch CPU threads (default: torch's choice)
rate_regularization = { population = "hid", target = "10*Hz", strength = 0.1 }

[train.params.hid]               # trainable values of population (or projection) `hid`
tau_u = { interpolate = ["5*ms", "25*ms"] }   # tau = r*max + (1-r)*min, r clamped to [0, 1]
a = { scale = 120, range = [0, 1] }            # a = q*a_raw, a_raw clamped to [0, 1]
theta = { clamp = [0.5, 2] }                   # the value itself clamped
[train.params.recurrent]
weight = {}                                    # free
[train.params.input]                           # learnable delays of a projection (steps; see DelayRelaxation)
delay = { max = 25, lr_scale = 100, relaxation = "gaussian", sigma = [12.5, 0.23], anneal = 0.25 }
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

__all__ = ["TrainConfig", "ParamRule", "DelayRelaxation", "load_train_config", "make_surrogate", "LOSSES", "TASKS", "SCHEDULES"]


_TOP = {"network", "seed", "task", "readout", "train"}
_READOUT = {"population", "variable", "loss", "ignore_first"}
_TRAIN = {"epochs", "batch_size", "lr", "clip_grad_norm", "schedule", "step_size", "gamma", "surrogate", "dtype", "synapses", "execution", "checkpoint_every", "rate_regularization", "params", "device", "cuda_graph", "eval_batch_size", "max_samples", "threads"}
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
class TrainConfig:
    source: str
    network: NetworkSpec
    seed: int
    task: dict
    readout_population: str
    readout_variable: str
    loss: str
    ignore_first: int
    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 256
    lr: float = 0.01
    clip_grad_norm: float | None = None
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.5
    surrogate: dict = field(default_factory=lambda: {"kind": "exponential", "alpha": 5.0, "c": 0.4})
    dtype: str = "float32"
    synapses: str = "dense"
    execution: str = "exact"
    device: str = "cpu"
    cuda_graph: bool = False
    checkpoint_every: int = 50
    rate_regularization: tuple = ()
    params: tuple = ()
    max_samples: int | None = None
    threads: int | None = None

    @property
    def input_population(self) -> str:
        return self.task["input"].split(".")[0]

    @property
    def input_variable(self) -> str | None:
        """The driven variable of an analog input, None for spike input."""
        parts = self.task["input"].split(".", 1)
        return parts[1] if len(parts) == 2 else None


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


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a training configuration and its network.

    Parameters
    ----------
    path : str or Path
        The configuration (TOML): ``network``, ``seed``, ``[task]``,
        ``[readout]``, ``[train]`` (see the module docstring).

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
    >>> config.task["name"], config.epochs, config.batch_size, config.network.populations["hid"].model.name
    ('bsd', 6, 64, 'adlif')
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
            raise ConfigError(f"{where}: [task] key 'input': '{task['input']}' must be POPULATION.VARIABLE of a neuron population of {network_path.name} (analog input, driven every step).")
    else:
        inp = spec.populations.get(task["input"])
        if inp is None or inp.kind != "spikes":
            raise ConfigError(f"{where}: [task] key 'input': '{task['input']}' must be a population of kind \"spikes\" in {network_path.name} (or POPULATION.VARIABLE for analog input).")
    task = dict(task)
    for key in ("train", "test", "valid"):  # data files are relative to the config
        if isinstance(task.get(key), str):
            task[key] = str((path.parent / task[key]).resolve())

    readout = data["readout"]
    check_keys(readout, _READOUT, f"{where}: [readout]")
    for key in ("population", "variable", "loss"):
        if key not in readout:
            raise ConfigError(f"{where}: [readout] missing key '{key}'.")
    pop = spec.populations.get(readout["population"])
    if pop is None or pop.is_input:
        raise ConfigError(f"{where}: [readout] key 'population': '{readout['population']}' is not a neuron population of {network_path.name}.")
    if readout["variable"] not in pop.model.brian_equations.names:
        raise ConfigError(f"{where}: [readout] key 'variable': '{readout['variable']}' is not a variable of model {pop.model.name}.")
    LOSSES.check(readout["loss"], f"{where}: [readout] key 'loss'", ConfigError)
    ignore_first = check_number(readout.get("ignore_first", 0), f"{where}: [readout] key 'ignore_first'", minimum=0, integer=True)

    train = data.get("train", {})
    check_keys(train, _TRAIN, f"{where}: [train]")
    kw = {}
    for key, minimum, integer in (("epochs", 1, True), ("batch_size", 1, True), ("eval_batch_size", 1, True), ("checkpoint_every", 1, True), ("step_size", 1, True), ("max_samples", 1, True), ("threads", 1, True)):
        if key in train:
            kw[key] = check_number(train[key], f"{where}: [train] key '{key}'", minimum=minimum, integer=integer)
    for key in ("lr", "clip_grad_norm", "gamma"):
        if key in train:
            kw[key] = float(check_number(train[key], f"{where}: [train] key '{key}'", minimum=0))
    if kw.get("clip_grad_norm") == 0:
        raise ConfigError(f"{where}: [train] key 'clip_grad_norm' must be > 0 (0 would zero every gradient); leave the key out for no clipping.")
    for key, allowed in (("schedule", SCHEDULES), ("dtype", DTYPES), ("synapses", SYNAPSE_MODES), ("execution", EXECUTIONS)):
        if key in train:
            kw[key] = allowed.check(train[key], f"{where}: [train] key '{key}'", ConfigError)
    if "device" in train:
        kw["device"] = str(train["device"])
    if "cuda_graph" in train:
        if not isinstance(train["cuda_graph"], bool):
            raise ConfigError(f"{where}: [train] key 'cuda_graph' must be true or false, got {train['cuda_graph']!r}.")
        if train["cuda_graph"] and not kw.get("device", "cpu").startswith("cuda"):
            raise ConfigError(f"{where}: [train] key 'cuda_graph': CUDA graphs need a GPU; set device = \"cuda\" (device is {kw.get('device', 'cpu')!r}).")
        kw["cuda_graph"] = train["cuda_graph"]
    if kw.get("cuda_graph") and kw.get("execution") == "compiled":
        raise ConfigError(f"{where}: [train] keys 'cuda_graph' and 'execution': a CUDA graph captures the exact execution's kernels; set execution = \"exact\" with cuda_graph = true, or cuda_graph = false.")
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
    if delayed and kw.get("synapses", "dense") != "dense":
        raise ConfigError(f"{where}: [train.params.{delayed[0].owner}] key 'delay': learnable delays need [train] synapses = \"dense\".")
    kw["params"] = tuple(rules)
    return TrainConfig(source=where, network=spec, seed=seed, task=task, readout_population=readout["population"], readout_variable=readout["variable"], loss=readout["loss"], ignore_first=ignore_first, **kw)
