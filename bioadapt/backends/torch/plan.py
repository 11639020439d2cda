"""Execution plans of the twin: what a block reads every step, what is fixed over a run.

Within one forward call, parameters, constants and ``dt`` do not change. A
`BlockPlan` splits the names a block reads into *fixed* ones (resolved once per
call) and *step* ones (state variables and ``t``, read every step), and its
statements into a *prelude*, evaluated once per call, and a *body*, evaluated
every step:

- a ``:=`` temporary whose expression reads fixed names only is computed in the
  prelude (Brian2's ``_lio_1 := -dt``);
- inside every other expression, each largest sub-expression that reads fixed
  names only (``exp(_lio_1/tau_u)``, ``-tau_u``) is computed in the prelude, and
  the body reads its value (`compile_expression` with ``fixed``/``hoisted``);
- a write whose value is fixed (``I = 0``) takes its value from the prelude.

Prelude values are computed by the same functions, on the same inputs, as the
per-step evaluation would use, so every value is bitwise what evaluating the
whole statement each step gives; gradients of the hoisted values accumulate
over the steps they are used in. This is Brian2's loop-invariant optimisation
(which hoists what is constant over neurons) carried over to what is constant
over time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ...program import INDEX_POST, INDEX_PRE, Block, Kind, Program, Ref, Statement
from .numpy_target import NotNumpy, compile_numpy
from .translate import compile_expression, is_fixed_expression

__all__ = ["BlockPlan", "CompiledStatement", "compile_statement", "plan_block", "GATHERED", "SCALAR", "torch_dtype"]

#: Index names of Brian2 synapse code under which a value is gathered.
GATHERED = ("_presynaptic_idx", "_postsynaptic_idx", "_idx")
#: How a name is read: its owner's array taken whole, its first element (a
#: scalar variable), or gathered through one of `GATHERED` (synapse code).
WHOLE, SCALAR = None, "scalar"


@dataclass(frozen=True)
class BlockPlan:
    """How a block runs: reads and statements split into per-call and per-step parts.

    ``fixed`` and ``step`` hold ``(name, owner, var, how)`` with ``how`` one of
    `WHOLE`, `SCALAR` or an index name of `GATHERED` (synapse code) or of an
    index array of the block's group (neuron code: a linked variable's index); ``clock_t`` the names
    bound to ``t``, ``clock_dt`` those bound to ``dt``; ``constants`` the
    ``(name, value)`` of Brian2 constants; ``prelude`` ``(name, fn, statement)``
    evaluated once per call in order (``statement`` set when ``name`` is a
    whole ``:=`` statement); ``body`` ``(statement, fixed_value)`` run every
    step, where ``fixed_value`` is the prelude name holding the value of a
    statement whose expression is fixed, else None; ``surrogate`` a
    threshold's two sides ``(left, right)`` compiled (`program.Threshold`),
    from which its surrogate gradient is taken, else None; ``statements``
    every statement of the block (scalar, then vector) as a
    `CompiledStatement`, each compiled once: the prelude and the body hold
    these very objects. ``numpy``: whether the numpy target translates every
    statement the body evaluates per step (see `execute.run_neurons_numpy`,
    `execute.run_arriving`).
    ``additions`` (synapse code): for each statement of the body, whether it
    adds or subtracts a value fixed over the call to a pre- or postsynaptic
    variable without condition (``g_post += w``), which the synapses a spike
    reaches take without the block's names (`execute.run_arriving`).
    """

    block: Block
    fixed: tuple
    step: tuple
    clock_t: tuple
    clock_dt: tuple
    constants: tuple
    prelude: tuple
    body: tuple
    surrogate: tuple | None = None
    statements: tuple = ()
    numpy: bool = False
    additions: tuple = ()

    def __repr__(self) -> str:
        return f"BlockPlan({self.block.name!r}: {len(self.prelude)} per call, {len(self.body)} per step)"


def _how(ref: Ref, gathered: bool):
    if ref.scalar or ref.index == "0":
        return SCALAR
    if gathered and ref.index in GATHERED:
        return ref.index
    if not gathered and ref.index != "_idx":  # neuron code through an index array of its group (a linked variable's index)
        return ref.index
    return WHOLE


@dataclass(frozen=True)
class CompiledStatement:
    """A program `Statement` (``statement``) with its expression compiled for
    the twin (`compile_expression`), once: ``fn(env)``, and for numpy's
    boolean-where variant ``where(env[where_bool], fn_true(env), fn_false(env))``.
    In a statement of a plan's body, ``fn`` reads the values of its fixed
    sub-expressions from the prelude (`plan_block`). ``numpy`` holds the same
    three functions compiled for numpy arrays (`numpy_target.compile_numpy`, with
    ``math="numpy"``), or None where that target does not translate the
    statement."""

    statement: Statement
    fn: object
    fn_true: object = None
    fn_false: object = None
    numpy: tuple | None = None  # (fn, fn_true, fn_false) of the numpy target, if it translates the statement
    # the statement's, read in every step: attributes of this object
    var: str = field(init=False, repr=False)
    op: str = field(init=False, repr=False)
    where_bool: str | None = field(init=False, repr=False)

    def __post_init__(self):
        for name in ("var", "op", "where_bool"):
            object.__setattr__(self, name, getattr(self.statement, name))

    @property
    def expr(self) -> str:
        return self.statement.expr

    @property
    def names(self) -> frozenset:
        return self.statement.names

    def __repr__(self) -> str:
        return repr(self.statement)


def compile_statement(stmt: Statement, where: str, math: str, fixed: set | None = None, hoisted: list | None = None, prefix: str = "_fixed_") -> CompiledStatement:
    """``stmt`` compiled with ``math``'s elementary functions (an expression
    the twin cannot translate is a `BackendError` naming ``where``); with
    ``fixed`` and ``hoisted``, its largest sub-expressions of ``fixed`` names
    are compiled on their own and appended to ``hoisted`` (`compile_expression`)."""
    names = set(stmt.names)
    numpy = None
    if math == "numpy":  # the same sub-expressions hoisted under the same names (a copy: the torch functions below fill ``hoisted``)
        try:
            numpy = _compiled(compile_numpy, stmt, names, where, math, fixed, None if hoisted is None else list(hoisted), prefix)
        except NotNumpy:  # (no numpy form: the block of this statement runs in the torch mode, `plan_block`)
            numpy = None
    return CompiledStatement(stmt, *_compiled(compile_expression, stmt, names, where, math, fixed, hoisted, prefix), numpy=numpy)


def _compiled(compile_fn, stmt: Statement, names: set, where: str, math: str, fixed, hoisted, prefix: str) -> tuple:
    """``(fn, fn_true, fn_false)`` of ``stmt`` by ``compile_fn`` (`compile_statement`)."""
    fn = compile_fn(stmt.expr, names, where, math, fixed=fixed, hoisted=hoisted, prefix=prefix)
    fn_true = fn_false = None
    if stmt.where_bool is not None:
        fn_true = compile_fn(stmt.expr_true, names, where, math) if stmt.expr_true is not None else None
        fn_false = compile_fn(stmt.expr_false, names, where, math) if stmt.expr_false is not None else None
    return fn, fn_true, fn_false


def plan_block(block: Block, program: Program, math: str, gathered: bool = False) -> BlockPlan:
    """Plan ``block`` of ``program``, compiling each of its statements once
    with ``math``'s elementary functions (an expression the twin cannot
    translate is one `BackendError` naming the block, ``block.where``);
    ``gathered`` for synapse code (pathways, summed)."""
    fixed, step, clock_t, clock_dt, constants = [], [], [], [], []
    fixed_names = set()
    for name, ref in block.refs.items():
        if not isinstance(ref, Ref):
            constants.append((name, ref.item() if hasattr(ref, "item") else ref))
            fixed_names.add(name)
        elif ref.owner == program.clock:
            (clock_t if ref.var == "t" else clock_dt).append(name)
            if ref.var != "t":
                fixed_names.add(name)
        elif (ref.owner, ref.var) in program.written:
            step.append((name, ref.owner, ref.var, _how(ref, gathered)))
        else:
            fixed.append((name, ref.owner, ref.var, _how(ref, gathered)))
            fixed_names.add(name)
    if not gathered:
        fixed_names.add("_vectorisation_idx")
    statements, prelude, body = [], [], []
    prefix = f"_fixed_{block.name}_"
    for source in block.statements:
        try:
            is_fixed = is_fixed_expression(source.expr, fixed_names, math)
        except SyntaxError:  # compile_statement raises the BackendError naming the block
            is_fixed = False
        if source.op == ":=":
            fixed_names.discard(source.var)  # (re)defined here: fixed only if its expression is
        if is_fixed or source.where_bool is not None:
            # evaluated whole: once per call (fixed), or every step in numpy's
            # boolean-simplified form, kept as it is
            stmt = compile_statement(source, block.where, math)
            statements.append(stmt)
            if not is_fixed:
                body.append((stmt, None))
            elif stmt.op == ":=":
                prelude.append((stmt.var, None, stmt))
                fixed_names.add(stmt.var)
            else:
                name = f"{prefix}{len(prelude)}"
                prelude.append((name, None, stmt))
                body.append((stmt, name))
            continue
        hoisted: list = []
        stmt = compile_statement(source, block.where, math, fixed=fixed_names, hoisted=hoisted, prefix=f"{prefix}{len(prelude)}_")
        statements.append(stmt)
        prelude += [(name, inner, None) for name, inner in hoisted]
        body.append((stmt, None))
    surrogate = None
    if block.kind == Kind.THRESHOLD and block.threshold.left is not None:
        sides = block.threshold
        surrogate = (compile_expression(sides.left, set(sides.names), block.where, math), compile_expression(sides.right, set(sides.names), block.where, math))
    per_step = [stmt for stmt, value_name in body if value_name is None]
    numpy = all(stmt.numpy is not None for stmt in per_step)
    additions = tuple(_is_addition(block, stmt, value_name) for stmt, value_name in body) if gathered else ()
    return BlockPlan(block, tuple(fixed), tuple(step), tuple(clock_t), tuple(clock_dt), tuple(constants), tuple(prelude), tuple(body), surrogate, tuple(statements), numpy, additions)


def _is_addition(block: Block, stmt, value_name: str | None) -> bool:
    """Whether ``stmt`` of synapse code adds (or subtracts) a value fixed over the call, ``value_name``, to a pre- or postsynaptic variable, unconditionally (`BlockPlan.additions`)."""
    ref = block.refs.get(stmt.var)
    if value_name is None or not isinstance(ref, Ref) or ref.index not in (INDEX_PRE, INDEX_POST):
        return False
    return ref.conditional is None or ref.conditional in block.override


_DTYPES = {"bool": torch.bool, "int": torch.int64}


def torch_dtype(kind: str, float_dtype: torch.dtype) -> torch.dtype:
    """The torch dtype of a `Ref`'s dtype kind (``float``, ``int``, ``bool``) in a twin of ``float_dtype``."""
    return float_dtype if kind == "float" else _DTYPES[kind]
