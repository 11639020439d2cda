"""Read the per-step program out of a Brian2 network, for the twin to execute.

The twin does not re-derive anything from the model file: it builds the very
same Brian2 objects the Brian2 backends run (`..brian.build.build_network`,
on the numpy runtime, never run), lets Brian2 prepare them (``before_run``:
namespaces, refractoriness code, state-updater code, subexpressions), and then
takes, object by object in Brian2's own schedule order:

- the abstract code of every code runner (state updater, run_regularly program
  blocks, threshold, reset, synaptic pathway, summed variable), turned into
  statements by ``make_statements`` exactly as Brian2's code generators do,
  loop-invariant optimisation and boolean simplification included;
- the variables each statement touches, with their owner, index, dtype and
  conditional-write flag (``unless refractory`` write protection);
- initial values of every array.

The result is a `Program`: an immutable list of `Block` objects.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np
from brian2 import SpikeGeneratorGroup, TimedArray, prefs
from brian2.codegen.translation import make_statements
from brian2.core.functions import Function
from brian2.core.variables import ArrayVariable, Constant, Subexpression
from brian2.groups.neurongroup import Resetter, StateUpdater, Thresholder
from brian2.synapses.synapses import SummedVariableUpdater, SynapticPathway
from brian2.groups.group import CodeRunner
from brian2.groups.subgroup import Subgroup

from ...errors import BackendError
from ...network.spec import NetworkSpec
from ..brian.build import build_network, describe_object, root_message
from ..brian.device import brian_device
from .translate import compile_expression

__all__ = ["Program", "Block", "Ref", "extract_program"]


@dataclass(frozen=True)
class Ref:
    """Where a name in a code block lives: ``owner.var`` accessed through ``index``.

    ``index`` is ``"_idx"`` (the block's own elements), ``"0"`` (a scalar),
    ``"_presynaptic_idx"`` or ``"_postsynaptic_idx"`` (a neuron variable read
    from synapse code).
    """

    owner: str
    var: str
    index: str
    dtype: str
    scalar: bool
    conditional: str | None = None  # name of the conditional-write variable (not_refractory)

    def __repr__(self) -> str:
        return f"{self.owner}.{self.var}[{self.index}]"


@dataclass(frozen=True)
class Statement:
    """One compiled statement: ``var op expr`` plus numpy's boolean-where variant."""

    var: str
    op: str
    expr: str
    fn: object
    where_bool: str | None = None  # evaluate where(where_bool, fn_true, fn_false) instead of fn
    fn_true: object = None
    fn_false: object = None
    names: frozenset = frozenset()  # names the expression could read when it was compiled

    def __repr__(self) -> str:
        return f"{self.var} {self.op} {self.expr}"


@dataclass(frozen=True)
class Block:
    """One code runner of the Brian2 schedule.

    ``kind`` is one of ``code`` (state updater or run_regularly over all neurons),
    ``threshold``, ``reset``, ``pathway`` (spike-triggered synapses), ``summed``
    (graded transmission), ``generator`` (spike generator), ``drive`` (external
    values written at the start of a step).
    """

    kind: str
    name: str
    group: str
    when: str
    scalar: tuple = ()
    vector: tuple = ()
    refs: dict = field(default_factory=dict)
    override: frozenset = frozenset()
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        lines = "; ".join(repr(s) for s in self.scalar + self.vector)
        return f"Block({self.kind}, {self.name!r} @ {self.when}: {lines})"


@dataclass(frozen=True)
class Program:
    """Everything the twin needs, read from Brian2."""

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
    # (exact propagators, symplectic_euler decays; `..brian.build`)
    systems: dict = field(default_factory=dict)


def _dtype_name(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return "float"


def _compile_statements(statements, names: set[str], where: str, math: str) -> tuple:
    compiled = []
    known = set(names)
    for stmt in statements:
        fn = compile_expression(stmt.expr, known, where, math)
        boolean = None
        fn_true = fn_false = None
        # numpy's rule (NumpyCodeGenerator.translate_statement): one boolean
        # variable, float statement, and a simplification that pays off
        if (
            stmt.used_boolean_variables is not None
            and len(stmt.used_boolean_variables) == 1
            and _dtype_name(stmt.dtype) == "float"
            and stmt.complexity_std > sum(stmt.complexities.values())
        ):
            boolean = stmt.used_boolean_variables[0]
            for assigns, simplified in stmt.boolean_simplified_expressions.items():
                if assigns[0][1]:
                    fn_true = compile_expression(simplified, known, where, math)
                else:
                    fn_false = compile_expression(simplified, known, where, math)
        compiled.append(Statement(stmt.var, stmt.op, stmt.expr, fn, boolean, fn_true, fn_false, frozenset(known)))
        known.add(stmt.var)
    return tuple(compiled)


@dataclass(frozen=True, eq=False)
class TimedInput:
    """A `TimedArray` the code calls: its values (SI) and their ``dt``."""

    values: np.ndarray
    dt: float


def _refs(codeobj) -> dict:
    refs = {}
    for name, var in codeobj.variables.items():
        if isinstance(var, TimedArray):  # a function of time (and index): the twin reads its values
            refs[name] = TimedInput(var.values, var.dt)
            continue
        source = getattr(var, "bioadapt_noise", None)
        if source is not None:  # a counter-based noise source (`bioadapt.noise`): the twin draws it too
            refs[name] = source
            continue
        if isinstance(var, (Function, Subexpression)):
            continue
        if isinstance(var, Constant):
            refs[name] = var.get_value()
            continue
        if not isinstance(var, ArrayVariable):
            continue
        index = codeobj.variable_indices.get(name, "_idx")
        cond = getattr(var, "conditional_write", None)
        refs[name] = Ref(var.owner.name, var.name, index, _dtype_name(var.dtype), bool(var.scalar), cond.name if cond is not None else None)
    return refs


def _statements(runner, codeobj, where: str, math: str):
    code = runner.abstract_code
    if isinstance(code, dict):
        code = code.get(None, "")
    scalar, vector = make_statements(code, codeobj.variables, prefs.core.default_float_dtype, optimise=True, blockname=None)
    names = set(codeobj.variables)
    scalar_c = _compile_statements(scalar, names, where, math)
    names |= {s.var for s in scalar}
    vector_c = _compile_statements(vector, names, where, math)
    return scalar_c, vector_c


def _own_clock(obj, clock, where: str) -> dict:
    """A code runner on a clock of its own (``run_regularly(..., dt=k*dt)``):
    ``{"every": k}``, empty on the network's clock. Its code reads the group's
    ``t`` and ``dt`` (Brian2 gives a runner its group's variables), so only the
    steps it runs differ."""
    if obj.clock is clock:
        return {}
    own, base = float(obj.clock.dt_), float(clock.dt_)
    every = int(round(own / base))
    if every < 1 or abs(every * base - own) > 1e-9 * own:
        raise BackendError(f"{where}: its clock's dt ({own * 1e3:g} ms) is not a whole number of the network's steps ({base * 1e3:g} ms).")
    return {"every": every}


_USER_THRESHOLD = re.compile(r"^\s*_cond\s*=\s*(?P<expr>.+)$", re.S)


def extract_program(spec: NetworkSpec, drive_vars: dict | None = None, math: str = "numpy") -> Program:
    """Build ``spec`` in Brian2 (numpy runtime, not run) and read its program.

    Parameters
    ----------
    spec : NetworkSpec
    drive_vars : dict, optional
        ``population -> [variables]`` that will receive external drives; a
        placeholder drive object is created for each, so that the schedule
        position matches the Brian2 backends.
    math : {"numpy", "libm"}
        Whose elementary functions the compiled statements reproduce.
    """
    drive_vars = drive_vars or {}
    placeholder = {pop: {var: np.zeros((spec.n_steps, spec.populations[pop].size)) for var in vars_} for pop, vars_ in drive_vars.items()}
    with brian_device("numpy"):
        net = build_network(spec, drive=placeholder, monitors=False)
        network = net.network
        # what Network.before_run does for each object, in schedule order
        for obj in network.sorted_objects:
            if not obj.active:
                continue
            try:
                obj.before_run({})
            except Exception as exc:  # surface Brian2's message, not its traceback
                raise BackendError(f"{spec.source}: {describe_object(spec, obj.name)}: {root_message(exc)}") from None
        blocks = []
        sizes, initial, dtypes = {}, {}, {}
        written = set()
        synapses = {}
        spiking = []
        subgroups = {}  # code run over part of a population (G[:800].run_regularly, a PoissonInput into it)
        for obj in network.sorted_objects:
            owner = getattr(obj, "group", None)
            if isinstance(owner, Subgroup):
                subgroups[owner.name] = owner
                sizes[owner.name] = len(owner)
            where = f"{spec.source}: {describe_object(spec, obj.name)}, in {obj.name}"
            if isinstance(obj, SpikeGeneratorGroup):
                pop = spec.populations[obj.name]
                blocks.append(Block("generator", obj.name, obj.name, obj.when, extra={"steps": pop.input_steps, "indices": pop.input_indices}))
                spiking.append(obj.name)
                sizes[obj.name] = pop.size
                continue
            if not isinstance(obj, CodeRunner) or getattr(obj, "codeobj", None) is None:
                continue
            codeobj = obj.codeobj
            refs = _refs(codeobj)
            override = frozenset(getattr(obj, "override_conditional_write", None) or ())
            group_name = owner.name
            if obj.name in net.drive_objects:
                pop, var = net.drive_objects[obj.name]
                blocks.append(Block("drive", obj.name, pop, obj.when, refs=refs, extra={"var": var}))
                written.add((pop, var))
                continue
            if isinstance(obj, SynapticPathway):
                # on_pre (source: the presynaptic group) or on_post (source: the
                # postsynaptic group, whose spikes trigger it); event-driven
                # equations are part of the pathway's code (Brian2 updates them there)
                scalar, vector = _statements(obj, codeobj, where, math)
                blocks.append(Block("pathway", obj.name, group_name, obj.when, scalar, vector, refs, override, {"source": obj.source.name, "target": obj.target.name, "prepost": obj.prepost, "pathway": obj.objname}))
            elif isinstance(obj, SummedVariableUpdater):
                scalar, vector = _statements(obj, codeobj, where, math)
                target = obj.target_var
                blocks.append(Block("summed", obj.name, group_name, obj.when, scalar, vector, refs, override, {"target": obj.target.name, "target_var": target.name}))
                written.add((obj.target.name, target.name))
            elif isinstance(obj, Thresholder):
                scalar, vector = _statements(obj, codeobj, where, math)
                match = _USER_THRESHOLD.match(obj.user_code)
                surrogate = None
                names = set(codeobj.variables) | {s.var for s in scalar + vector}
                if match is not None:
                    tree = ast.parse(match["expr"], mode="eval").body
                    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], (ast.Gt, ast.GtE)):
                        surrogate = (
                            compile_expression(ast.unparse(tree.left), names, where, math),
                            compile_expression(ast.unparse(tree.comparators[0]), names, where, math),
                            tuple(sorted({n.id for n in ast.walk(tree.left) if isinstance(n, ast.Name)})),
                        )
                blocks.append(Block("threshold", obj.name, group_name, obj.when, scalar, vector, refs, override, {"surrogate": surrogate, "refractory": "lastspike" in owner.variables}))
                spiking.append(group_name)
                if "lastspike" in owner.variables:
                    written.update({(group_name, "lastspike"), (group_name, "not_refractory")})
            elif isinstance(obj, Resetter):
                scalar, vector = _statements(obj, codeobj, where, math)
                blocks.append(Block("reset", obj.name, group_name, obj.when, scalar, vector, refs, override))
            elif isinstance(obj, StateUpdater) or obj.template == "stateupdate":
                # neuron code, or a synapse model's clock-driven equations (run over the synapses)
                scalar, vector = _statements(obj, codeobj, where, math)
                blocks.append(Block("code", obj.name, group_name, obj.when, scalar, vector, refs, override, _own_clock(obj, net.clock, where)))
            else:
                raise BackendError(f"{where}: the twin does not know Brian2 objects of type {type(obj).__name__} (template '{obj.template}').")
            block = blocks[-1]
            for stmt in block.scalar + block.vector:
                ref = refs.get(stmt.var)
                if isinstance(ref, Ref):
                    written.add((ref.owner, ref.var))
        # sizes, initial values and dtypes of every array the blocks use
        for block in blocks:
            for ref in block.refs.values():
                if not isinstance(ref, Ref):
                    continue
                key = (ref.owner, ref.var)
                if key in initial:
                    continue
                owner_obj = net.groups.get(ref.owner) or net.synapses.get(ref.owner) or subgroups.get(ref.owner)
                if owner_obj is not None:
                    var = owner_obj.variables[ref.var]
                elif ref.owner == net.clock.name:
                    var = net.clock.variables[ref.var]
                else:
                    raise BackendError(f"{spec.source}: variable '{ref}' belongs to an object the twin does not know.")
                value = np.array(var.get_value(), copy=True)
                initial[key] = value
                dtypes[key] = value.dtype
        for name, group in net.groups.items():
            sizes[name] = len(group)
            for var in ("lastspike", "not_refractory"):
                if var in group.variables and (name, var) not in initial:
                    value = np.array(group.variables[var].get_value(), copy=True)
                    initial[(name, var)] = value
                    dtypes[(name, var)] = value.dtype
        for proj in spec.projections:
            sizes[proj.name] = proj.size
            synapses[proj.name] = {
                "source": proj.source,
                "target": proj.target,
                "i": proj.i,
                "j": proj.j,
                "delay_steps": proj.delay_steps,
                # every on_pre pathway's delays, by Brian2's pathway name ("pre" for one)
                "pre_delays": {name: np.asarray(steps, dtype=np.int64) for name, _, steps in proj.pathways},
                # on_post acts in the step of the postsynaptic spike, or post_delay_steps later
                "post_delay_steps": np.zeros(proj.size, dtype=np.int64) if proj.post_delay_steps is None else np.asarray(proj.post_delay_steps, dtype=np.int64),
            }
        dt = float(net.clock.variables["dt"].get_value()[0])
        clock = net.clock.name
    return Program(tuple(blocks), sizes, initial, dtypes, frozenset(written), synapses, tuple(spiking), dt, clock, dict(net.linear_systems))
