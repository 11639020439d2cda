"""The per-step program: what Brian2 runs in one time step, as data.

Both backends consume it: the Brian2 builder (`bioadapt.backends.brian.build`)
makes the objects it is read from (`extract`), and the twin
(`bioadapt.backends.torch`) compiles its statements and executes its blocks.
Nothing here holds a torch object or a compiled function: a `Statement` is
Brian2's abstract code line, a `Block` one code runner of Brian2's schedule,
with typed fields for what its kind needs (`Pathway`, `Threshold`, ...), and
`Program` the blocks in schedule order with the arrays they read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

__all__ = ["Kind", "Ref", "Statement", "Pathway", "Threshold", "Summed", "Inputs", "Block", "Program", "TimedInput",
           "INDEX_SELF", "INDEX_PRE", "INDEX_POST", "INDEX_SCALAR", "dtype_kind"]

#: Brian2's index names: a block's own elements, a neuron variable read from
#: synapse code through the pre- or postsynaptic index, a shared (scalar) variable
INDEX_SELF, INDEX_PRE, INDEX_POST, INDEX_SCALAR = "_idx", "_presynaptic_idx", "_postsynaptic_idx", "0"


def dtype_kind(dtype) -> str:
    """The kind of a numpy dtype as the program names it (`Ref.dtype`):
    ``"bool"``, ``"int"`` (any integer type) or ``"float"`` (anything else)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return "float"


class Kind(str, Enum):
    """What a block of the schedule is (a `str`: ``Kind.CODE == "code"``)."""

    CODE = "code"  # a state updater, or run_regularly code over all neurons (or synapses)
    THRESHOLD = "threshold"
    RESET = "reset"
    PATHWAY = "pathway"  # spike-triggered synapse code (on_pre, on_post)
    SUMMED = "summed"  # graded transmission: a (summed) variable
    GENERATOR = "generator"  # an input population's spikes
    DRIVE = "drive"  # external values written at the start of a step

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Ref:
    """Where a name in a code block lives: ``owner.var`` accessed through ``index``
    (one of `INDEX_SELF`, `INDEX_SCALAR`, `INDEX_PRE`, `INDEX_POST`, or an index
    array of the block's group: a linked variable's index)."""

    owner: str
    var: str
    index: str
    dtype: str  # "float", "int" or "bool" (`dtype_kind`)
    scalar: bool
    conditional: str | None = None  # name of the conditional-write variable (not_refractory)

    def __repr__(self) -> str:
        return f"{self.owner}.{self.var}[{self.index}]"


@dataclass(frozen=True)
class Statement:
    """One line of abstract code, ``var op expr``, as Brian2's ``make_statements``
    gives it, with numpy's boolean-where variant where numpy's code generator
    uses it: ``where(where_bool, expr_true, expr_false)``. ``names`` are the
    names the expression may read at this point of the block."""

    var: str
    op: str
    expr: str
    where_bool: str | None = None
    expr_true: str | None = None
    expr_false: str | None = None
    names: frozenset = frozenset()

    def __repr__(self) -> str:
        return f"{self.var} {self.op} {self.expr}"


@dataclass(frozen=True)
class Pathway:
    """A spike-triggered pathway: whose spikes trigger it (``prepost``: ``"pre"``
    for on_pre, ``"post"`` for on_post), its source and target populations and
    Brian2's pathway name (``"pre"``, or the name of one of several)."""

    source: str
    target: str
    prepost: str
    name: str


@dataclass(frozen=True)
class Threshold:
    """A threshold's extras: whether the group is refractory (the threshold sets
    ``lastspike`` and ``not_refractory``), and for ``x > y`` / ``x >= y`` the two
    sides (``left``, ``right`` expressions, ``names`` the names they may read,
    ``thresholded`` the names in ``left``), from which the twin's surrogate
    gradient is taken."""

    refractory: bool
    left: str | None = None
    right: str | None = None
    names: frozenset = frozenset()
    thresholded: tuple = ()


@dataclass(frozen=True)
class Summed:
    """The (summed) variable a block computes: ``target.var``."""

    target: str
    var: str


@dataclass(frozen=True, eq=False)
class Inputs:
    """An input population's spikes: step and neuron index of each."""

    steps: np.ndarray
    indices: np.ndarray


@dataclass(frozen=True, eq=False)
class TimedInput:
    """A `TimedArray` the code calls: its values (SI) and their ``dt``."""

    values: np.ndarray
    dt: float


@dataclass(frozen=True)
class Block:
    """One code runner of the Brian2 schedule.

    ``where`` names it for messages (the network file and the object);
    ``scalar`` and ``vector`` are its statements, ``refs`` what each name is
    (a `Ref`, a constant, a `TimedInput` or a noise source), ``override`` the
    conditional writes it ignores. The kind's own facts are in ``pathway``
    (`Kind.PATHWAY`), ``threshold`` (`Kind.THRESHOLD`), ``summed``
    (`Kind.SUMMED`), ``inputs`` (`Kind.GENERATOR`), ``drive_var``
    (`Kind.DRIVE`) and ``every`` (`Kind.CODE` on a clock of its own: every
    that many steps).
    """

    kind: Kind
    name: str
    group: str
    when: str
    scalar: tuple = ()
    vector: tuple = ()
    refs: dict = field(default_factory=dict)
    override: frozenset = frozenset()
    where: str = ""
    pathway: Pathway | None = None
    threshold: Threshold | None = None
    summed: Summed | None = None
    inputs: Inputs | None = None
    drive_var: str | None = None
    every: int | None = None

    @property
    def statements(self) -> tuple:
        """The scalar statements, then the vector ones (the order they run in)."""
        return self.scalar + self.vector

    def __repr__(self) -> str:
        lines = "; ".join(repr(s) for s in self.statements)
        return f"Block({self.kind.value}, {self.name!r} @ {self.when}: {lines})"


@dataclass(frozen=True)
class Program:
    """The blocks of one network in Brian2's schedule order, and the arrays they use."""

    blocks: tuple
    sizes: dict  # owner -> number of elements (neurons or synapses)
    initial: dict  # (owner, var) -> numpy array (or scalar) of initial values
    dtypes: dict  # (owner, var) -> numpy dtype
    written: frozenset  # (owner, var) pairs some block writes (state)
    synapses: dict  # synapses name -> dict(i, j, delay_steps, pre_delays, post_delay_steps, source, target)
    spiking: tuple  # groups that emit spikes, in schedule order
    dt: float
    clock: str
    # population -> the derived-constant system its Brian2 group was built with
    # (exact propagators, symplectic_euler decays; `..backends.brian.build`)
    systems: dict = field(default_factory=dict)
