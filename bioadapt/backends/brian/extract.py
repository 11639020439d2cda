"""Read the per-step program out of a Brian2 network (`extract_program`).

The twin does not re-derive anything from the model file: this builds the very
same Brian2 objects the Brian2 backends run (`.build.build_network`,
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

The result is a `bioadapt.program.Program`.
"""

from __future__ import annotations

import ast
import re

import numpy as np
from brian2 import SpikeGeneratorGroup, TimedArray, prefs
from brian2.codegen.translation import make_statements
from brian2.core.functions import Function
from brian2.core.variables import ArrayVariable, Constant, Subexpression
from brian2.groups.group import CodeRunner
from brian2.groups.neurongroup import Resetter, StateUpdater, Thresholder
from brian2.groups.subgroup import Subgroup
from brian2.synapses.synapses import SummedVariableUpdater, SynapticPathway

from .build import build_network, describe_object, root_message
from .device import brian_device
from ...errors import BackendError
from ...network.spec import NetworkSpec
from ...program.ir import Block, Inputs, Kind, Pathway, Program, Ref, Statement, Summed, Threshold, TimedInput, dtype_kind

__all__ = ["extract_program"]


def _abstract_statements(statements, names: set[str]) -> tuple:
    """Brian2's statements as `Statement`s: numpy's boolean-where variant kept
    where numpy's code generator uses it, and the names each may read."""
    out = []
    known = set(names)
    for stmt in statements:
        boolean = expr_true = expr_false = None
        # numpy's rule (NumpyCodeGenerator.translate_statement): one boolean
        # variable, float statement, and a simplification that pays off
        if (
            stmt.used_boolean_variables is not None
            and len(stmt.used_boolean_variables) == 1
            and dtype_kind(stmt.dtype) == "float"
            and stmt.complexity_std > sum(stmt.complexities.values())
        ):
            boolean = stmt.used_boolean_variables[0]
            for assigns, simplified in stmt.boolean_simplified_expressions.items():
                if assigns[0][1]:
                    expr_true = simplified
                else:
                    expr_false = simplified
        out.append(Statement(stmt.var, stmt.op, stmt.expr, boolean, expr_true, expr_false, frozenset(known)))
        known.add(stmt.var)
    return tuple(out)


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
        refs[name] = Ref(var.owner.name, var.name, index, dtype_kind(var.dtype), bool(var.scalar), cond.name if cond is not None else None)
    return refs


def _statements(runner, codeobj):
    code = runner.abstract_code
    if isinstance(code, dict):
        code = code.get(None, "")
    scalar, vector = make_statements(code, codeobj.variables, prefs.core.default_float_dtype, optimise=True, blockname=None)
    names = set(codeobj.variables)
    scalar_a = _abstract_statements(scalar, names)
    names |= {s.var for s in scalar}
    return scalar_a, _abstract_statements(vector, names)


def _own_clock(obj, clock, where: str) -> int | None:
    """A code runner on a clock of its own (``run_regularly(..., dt=k*dt)``):
    ``k``, None on the network's clock. Its code reads the group's
    ``t`` and ``dt`` (Brian2 gives a runner its group's variables), so only the
    steps it runs differ."""
    if obj.clock is clock:
        return None
    own, base = float(obj.clock.dt_), float(clock.dt_)
    every = int(round(own / base))
    if every < 1 or abs(every * base - own) > 1e-9 * own:
        raise BackendError(f"{where}: its clock's dt ({own * 1e3:g} ms) is not a whole number of the network's steps ({base * 1e3:g} ms).")
    return every


_USER_THRESHOLD = re.compile(r"^\s*_cond\s*=\s*(?P<expr>.+)$", re.S)


def extract_program(spec: NetworkSpec, drive_vars: dict | None = None) -> Program:
    """Build ``spec`` in Brian2 (numpy runtime, not run) and read its program.

    Parameters
    ----------
    spec : NetworkSpec
    drive_vars : dict, optional
        ``population -> [variables]`` that will receive external drives; a
        placeholder drive object is created for each, so that the schedule
        position matches the Brian2 backends.
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
                blocks.append(Block(Kind.GENERATOR, obj.name, obj.name, obj.when, where=where, inputs=Inputs(pop.input_steps, pop.input_indices)))
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
                blocks.append(Block(Kind.DRIVE, obj.name, pop, obj.when, refs=refs, where=where, drive_var=var))
                written.add((pop, var))
                continue
            if isinstance(obj, SynapticPathway):
                # on_pre (source: the presynaptic group) or on_post (source: the
                # postsynaptic group, whose spikes trigger it); event-driven
                # equations are part of the pathway's code (Brian2 updates them there)
                scalar, vector = _statements(obj, codeobj)
                blocks.append(Block(Kind.PATHWAY, obj.name, group_name, obj.when, scalar, vector, refs, override, where, pathway=Pathway(obj.source.name, obj.target.name, obj.prepost, obj.objname)))
            elif isinstance(obj, SummedVariableUpdater):
                scalar, vector = _statements(obj, codeobj)
                target = obj.target_var
                blocks.append(Block(Kind.SUMMED, obj.name, group_name, obj.when, scalar, vector, refs, override, where, summed=Summed(obj.target.name, target.name)))
                written.add((obj.target.name, target.name))
            elif isinstance(obj, Thresholder):
                scalar, vector = _statements(obj, codeobj)
                match = _USER_THRESHOLD.match(obj.user_code)
                threshold = Threshold("lastspike" in owner.variables)
                if match is not None:
                    tree = ast.parse(match["expr"], mode="eval").body
                    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], (ast.Gt, ast.GtE)):
                        threshold = Threshold(threshold.refractory, ast.unparse(tree.left), ast.unparse(tree.comparators[0]),
                                              frozenset(set(codeobj.variables) | {s.var for s in scalar + vector}),
                                              tuple(sorted({n.id for n in ast.walk(tree.left) if isinstance(n, ast.Name)})))
                blocks.append(Block(Kind.THRESHOLD, obj.name, group_name, obj.when, scalar, vector, refs, override, where, threshold=threshold))
                spiking.append(group_name)
                if "lastspike" in owner.variables:
                    written.update({(group_name, "lastspike"), (group_name, "not_refractory")})
            elif isinstance(obj, Resetter):
                scalar, vector = _statements(obj, codeobj)
                blocks.append(Block(Kind.RESET, obj.name, group_name, obj.when, scalar, vector, refs, override, where))
            elif isinstance(obj, StateUpdater) or obj.template == "stateupdate":
                # neuron code, or a synapse model's clock-driven equations (run over the synapses)
                scalar, vector = _statements(obj, codeobj)
                blocks.append(Block(Kind.CODE, obj.name, group_name, obj.when, scalar, vector, refs, override, where, every=_own_clock(obj, net.clock, where)))
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
