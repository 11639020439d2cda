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

import ast
from dataclasses import dataclass, replace

import torch

from ...program import Block, Kind, Program, Ref
from .translate import compile_expression, is_fixed_expression

__all__ = ["BlockPlan", "CompiledStatement", "compile_statements", "plan_block", "GATHERED", "SCALAR", "torch_dtype"]

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
    from which its surrogate gradient is taken, else None.
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
    """A program `Statement` with its expression compiled for the twin
    (`compile_expression`): ``fn(env)``, and for numpy's boolean-where variant
    ``where(env[where_bool], fn_true(env), fn_false(env))``."""

    var: str
    op: str
    expr: str
    fn: object
    where_bool: str | None = None
    fn_true: object = None
    fn_false: object = None
    names: frozenset = frozenset()

    def __repr__(self) -> str:
        return f"{self.var} {self.op} {self.expr}"


def compile_statements(block: Block, math: str) -> tuple:
    """``block``'s statements (scalar, then vector) compiled with ``math``'s
    elementary functions; an expression the twin cannot translate is one
    `BackendError` naming the block (``block.where``)."""
    out = []
    for stmt in block.statements:
        names = set(stmt.names)
        fn = compile_expression(stmt.expr, names, block.where, math)
        fn_true = fn_false = None
        if stmt.where_bool is not None:
            fn_true = compile_expression(stmt.expr_true, names, block.where, math) if stmt.expr_true is not None else None
            fn_false = compile_expression(stmt.expr_false, names, block.where, math) if stmt.expr_false is not None else None
        out.append(CompiledStatement(stmt.var, stmt.op, stmt.expr, fn, stmt.where_bool, fn_true, fn_false, stmt.names))
    return tuple(out)


def plan_block(block: Block, program: Program, math: str, statements: tuple, gathered: bool = False) -> BlockPlan:
    """Plan ``block`` of ``program`` (``statements``: its `compile_statements`);
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
    prelude, body = [], []
    prefix = f"_fixed_{block.name}_"
    for stmt in statements:
        is_fixed = is_fixed_expression(stmt.expr, fixed_names, math)
        if stmt.op == ":=":
            fixed_names.discard(stmt.var)  # (re)defined here: fixed only if its expression is
        if is_fixed:
            if stmt.op == ":=":
                prelude.append((stmt.var, None, stmt))
                fixed_names.add(stmt.var)
                continue
            name = f"{prefix}{len(prelude)}"
            prelude.append((name, None, stmt))
            body.append((stmt, name))
            continue
        if stmt.where_bool is not None:  # numpy's boolean-simplified form: keep as it is
            body.append((stmt, None))
            continue
        hoisted: list = []
        names = set(stmt.names) or {n.id for n in ast.walk(ast.parse(stmt.expr, mode="eval")) if isinstance(n, ast.Name)}
        fn = compile_expression(stmt.expr, names, block.name, math, fixed=fixed_names, hoisted=hoisted, prefix=f"{prefix}{len(prelude)}_")
        prelude += [(name, inner, None) for name, inner in hoisted]
        body.append((replace(stmt, fn=fn), None))
    surrogate = None
    if block.kind == Kind.THRESHOLD and block.threshold.left is not None:
        sides = block.threshold
        surrogate = (compile_expression(sides.left, set(sides.names), block.where, math), compile_expression(sides.right, set(sides.names), block.where, math))
    return BlockPlan(block, tuple(fixed), tuple(step), tuple(clock_t), tuple(clock_dt), tuple(constants), tuple(prelude), tuple(body), surrogate)


_DTYPES = {"bool": torch.bool, "int": torch.int64}


def torch_dtype(kind: str, float_dtype: torch.dtype) -> torch.dtype:
    """The torch dtype of a `Ref`'s dtype kind (``float``, ``int``, ``bool``) in a twin of ``float_dtype``."""
    return float_dtype if kind == "float" else _DTYPES[kind]
