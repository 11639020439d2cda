"""Frozen network description: populations, explicit i/j projections, sampled values.

All arrays here are already drawn from the network's seed, so every backend
(Brian2 numpy, cpp_standalone, the torch twin) receives the very same numbers.
Values are SI floats; `units` keeps each variable's Brian2 unit for display and
for handing values back to Brian2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from brian2.equations.equations import DIFFERENTIAL_EQUATION, Equations

from ..models.spec import ModelSpec

__all__ = ["PopulationSpec", "ProjectionSpec", "PoissonInputSpec", "RunRegularlySpec", "NetworkSpec"]


@dataclass(frozen=True)
class PopulationSpec:
    """A group of neurons of one model, or an input population (Poisson or given spikes).

    ``values`` maps variable name -> float64 array of length ``size`` (SI units).
    ``input_steps``/``input_indices`` hold the pre-drawn spikes of an input
    population, sorted by step then neuron. ``scheme_origin`` says where the
    scheme comes from: ``"population"``, ``"network"`` or ``"model"`` (the
    model's ``default_scheme``) when a file names it, ``"default"`` when it is
    the method Brian2's ``NeuronGroup`` would choose (``exact`` for linear
    equations, ``euler`` otherwise, ``heun`` for multiplicative noise).
    """

    name: str
    size: int
    kind: str  # "neurons", "poisson" or "spikes" (input given at run time)
    model: ModelSpec | None = None
    scheme: str | None = None
    values: dict = field(default_factory=dict)
    rate_hz: float = 0.0
    input_steps: np.ndarray | None = None
    input_indices: np.ndarray | None = None
    scheme_origin: str | None = None
    #: ``variable -> (population, variable)``: Brian2's ``linked_var``, the
    #: model's ``(linked)`` variables read from another population
    linked: dict = field(default_factory=dict)
    #: ``variable -> index array``: Brian2's ``linked_var(..., index=...)``,
    #: neuron ``k`` reads neuron ``index[k]`` of the source (absent: neuron
    #: ``k``, or the one neuron of a source of one)
    linked_index: dict = field(default_factory=dict)

    @property
    def is_input(self) -> bool:
        return self.kind in ("poisson", "spikes")

    def scheme_text(self) -> str:
        """One line: the population's scheme and where it comes from."""
        if self.is_input or self.scheme is None:
            return f"{self.name}: no scheme ({'input' if self.is_input else 'no dynamics of its own'})"
        if self.scheme_origin == "default":
            from ..schemes.default import BRIAN2_DEFAULT_METHODS

            where = f"chosen by default as Brian2 chooses: the first of {', '.join(BRIAN2_DEFAULT_METHODS)} that applies"
        else:
            where = {"population": "set for the population", "network": "the network's scheme", "model": "the model's default_scheme"}.get(self.scheme_origin, "given")
        return f"{self.name}: scheme {self.scheme} ({where})"

    def __repr__(self) -> str:
        what = f"model={self.model.name!r}, scheme={self.scheme!r}" if self.model else f"rate={self.rate_hz} Hz"
        return f"PopulationSpec({self.name!r}, size={self.size}, {what})"


@dataclass(frozen=True)
class ProjectionSpec:
    """Synapses from ``source`` to ``target`` with explicit indices.

    Exactly one of ``on_pre`` (spike-triggered Brian2 statements, delayed by
    ``delay_steps``) and ``summed`` (graded transmission ``X_post = expr``,
    evaluated every step without delay) is set. ``weight`` fills the synaptic
    variable ``weight``. As in Brian2's ``Synapses(on_pre={...}, delay={...})``,
    ``on_pre`` may be a dict of several pathways (name -> code), each with its
    own delays (``delay_steps`` then a dict name -> steps); ``pathways`` lists
    them in either form.

    ``model`` adds Brian2 synapse equations (``w : 1``, ``dApre/dt = -Apre/taupre
    : 1 (event-driven)``, clock-driven equations integrated with ``method``,
    Brian2's default choice when None); ``on_post`` is code run when a
    postsynaptic neuron spikes, ``post_delay_steps`` after it (None: in the
    step of the spike; Brian2's ``S.post.delay``); ``values`` holds the initial
    values of the model's variables (SI, one per synapse, or one for a shared
    variable).
    """

    name: str
    source: str
    target: str
    i: np.ndarray
    j: np.ndarray
    weight: np.ndarray
    delay_steps: np.ndarray | dict
    on_pre: str | dict | None = None
    summed: str | None = None
    weight_unit: str = "1"  # Brian2 unit of ``weight`` (values are SI)
    model: str | None = None
    on_post: str | None = None
    method: str | None = None
    values: dict = field(default_factory=dict)
    post_delay_steps: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.i)

    @property
    def pathways(self) -> tuple:
        """The spike-triggered pathways, ``((name, code, delay_steps), ...)``:
        Brian2's names (``"pre"`` for a single ``on_pre``), sorted by name as
        Brian2 orders pathways of one slot; empty for a graded projection."""
        if self.on_pre is None:
            return ()
        if isinstance(self.on_pre, str):
            return (("pre", self.on_pre, self.delay_steps),)
        return tuple((name, self.on_pre[name], self.delay_steps[name]) for name in sorted(self.on_pre))

    @property
    def several_pathways(self) -> bool:
        """Whether ``on_pre`` is a table of pathways (Brian2's ``on_pre={...}``)."""
        return isinstance(self.on_pre, dict)

    def pathway_key(self, pathway: str) -> str:
        """The network file's key of the on_pre pathway ``pathway``
        (``on_pre``, or ``on_pre.NAME`` of a table of pathways)."""
        return f"on_pre.{pathway}" if self.several_pathways else "on_pre"

    @cached_property
    def equations(self) -> Equations | None:
        """The synapse model parsed once (None without a model)."""
        return Equations(self.model) if self.model is not None else None

    @property
    def settable(self) -> list:
        """The synaptic variables that take values: ``weight`` and the model's
        (not its subexpressions or summed variables)."""
        eqs = self.equations
        if eqs is None:
            return ["weight"]
        return ["weight"] + sorted(n for n in eqs.names if n not in eqs.subexpr_names and "summed" not in eqs[n].flags)

    @property
    def has_dynamics(self) -> bool:
        """Whether the synapse model has differential equations (event- or clock-driven)."""
        return self.equations is not None and any(eq.type == DIFFERENTIAL_EQUATION for eq in self.equations.values())

    def __repr__(self) -> str:
        kind = f"on_pre={self.on_pre!r}" if self.on_pre is not None else f"summed={self.summed!r}"
        return f"ProjectionSpec({self.name!r}, {self.source}->{self.target}, {self.size} synapses, {kind})"


@dataclass(frozen=True, eq=False)
class TimedArraySpec:
    """A function of time that model code calls, as Brian2's `TimedArray`:
    ``name(t)`` for one row of values per ``dt`` (``values`` of shape
    ``(times,)``), ``name(t, i)`` for one column per index (``(times, n)``).
    Before the first time it is the first value, after the last the last."""

    name: str
    values: np.ndarray  # SI numbers, float64
    unit: str  # Brian2 unit of the values ("1": dimensionless)
    dt: float  # seconds

    def __repr__(self) -> str:
        return f"TimedArraySpec({self.name!r}, {'x'.join(map(str, self.values.shape))} values in {self.unit}, dt={self.dt:g} s)"


@dataclass(frozen=True)
class PoissonInputSpec:
    """Brian2's ``PoissonInput(target, target_var, N, rate, weight)``: ``N``
    independent Poisson inputs of ``rate`` into every neuron of ``target``,
    each adding ``weight`` to ``target_var`` (in the ``synapses`` slot, order
    0); per neuron and step a binomial number of ``N`` draws of probability
    ``rate*dt``, drawn alike in every backend (`bioadapt.noise`)."""

    name: str
    target: str
    target_var: str
    n: int
    rate: float  # Hz
    weight: float  # SI units of target_var
    #: ``(start, stop)``: a subgroup ``target[start:stop]`` (Brian2's ``PoissonInput(G[:800], ...)``); None: all
    part: tuple | None = None


@dataclass(frozen=True)
class RunRegularlySpec:
    """Brian2's ``target.run_regularly(code, dt=..., when=..., order=...)``: code
    run over a population's neurons or a projection's synapses every ``dt``
    seconds (None: every step), in schedule slot ``when`` at ``order``."""

    name: str
    target: str
    code: str
    dt: float | None = None
    when: str = "start"
    order: int = 0
    #: ``(start, stop)``: over a subgroup ``target[start:stop]`` (Brian2's ``G[:800].run_regularly``); None: all
    part: tuple | None = None


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network: time grid, populations (in file order), projections.

    ``base_dt`` is the time step the network's values were written for, when
    `bioadapt.at_dt` has put it on another grid (None: ``dt``): one step of
    input held in an impulse variable delivers a charge of one ``base_dt``
    (`bioadapt.network.transfer`), and ``timing`` says whether the one-step
    latency and the one spike per step of the grid of ``base_dt`` are kept.
    """

    dt: float  # seconds
    n_steps: int
    seed: int
    populations: dict
    projections: tuple
    source: str = "<dict>"
    base_dt: float | None = None  # seconds
    timing: str = "trained"  # `bioadapt.network.transfer.TIMINGS`, set by `bioadapt.at_dt`
    #: functions of time the models call (``[timed_arrays.NAME]``), by name
    timed_arrays: dict = field(default_factory=dict)
    #: ``[[poisson_inputs]]``: Brian2's PoissonInput, in file order
    poisson_inputs: tuple = ()
    #: ``[[run_regularly]]``: code run every ``dt`` over a population or projection
    run_regularly: tuple = ()

    @property
    def duration(self) -> float:
        return self.n_steps * self.dt

    def population(self, name: str) -> PopulationSpec:
        return self.populations[name]

    def sizes(self) -> dict:
        """``population -> number of neurons``."""
        return {name: pop.size for name, pop in self.populations.items()}

    def schemes_text(self) -> str:
        """One line per neuron population: its scheme and whether it was chosen by default."""
        return "\n".join(p.scheme_text() for p in self.populations.values() if not p.is_input)
