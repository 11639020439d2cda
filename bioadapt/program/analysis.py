"""What a network's code does to its variables, read from the spec's code
strings: which names code writes or assigns, which state a sample must restore,
what may not run as samples one after another, what a drive may not set.

The Brian2 builder (`bioadapt.backends.brian.build`) decides from these which
parameters are constants of a run (derived decays, hoisted exponentials), what
to restore between samples and what to refuse; the NIR exporter reads which
variables are state.
"""

from __future__ import annotations

import re

import numpy as np
from brian2.utils.stringtools import get_identifiers

from ..errors import BackendError, ConfigError
from ..network.spec import NetworkSpec, PopulationSpec, ProjectionSpec

__all__ = ["written_names", "assigned_names", "restored_names", "model_codes", "projection_names", "neuron_writes",
           "synaptic_names", "check_drives", "check_samples"]

#: the left-hand side of an assignment in abstract code (``x = ...``, ``x += ...``)
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:=|\+=|-=|\*=|/=)(?!=)")


def written_names(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> set:
    """Names of ``pop``'s variables that code of the network may write during a
    run (conservatively: every name its reset, every-step and program code
    mentions, every ``X_post``/``X_pre`` name of projections touching it, and
    its driven variables)."""
    names = set(driven) | projection_names(spec, pop)
    for code in model_codes(pop, spec):
        names |= get_identifiers(code)
    return names


def model_codes(pop: PopulationSpec, spec: NetworkSpec) -> list:
    """The reset, every-step and program code of ``pop``'s model, and the network's run_regularly code over it."""
    model = pop.model
    return ([model.reset or ""] + list(model.every_step.values()) + [code for blocks in model.programs.values() for code in blocks.values()]
            + [r.code for r in spec.run_regularly if r.target == pop.name])


def projection_names(spec: NetworkSpec, pop: PopulationSpec) -> set:
    """``pop``'s names that projections' code assigns as ``X_post`` (target) or
    ``X_pre`` (source); names they only read (``w_in_post/tau_syn_post``) stay
    constant."""
    return {var for proj in spec.projections for owner, var, _, _ in neuron_writes(proj) if owner == pop.name}


def neuron_writes(proj: ProjectionSpec) -> list:
    """``(population, variable, key, line)`` for every neuron variable the code of
    ``proj`` writes: ``X_post``/``X_pre`` in on_pre, on_post and summed code, a
    name without suffix that is not synaptic (Brian2 reads it as ``X_post``),
    and the ``(summed)`` variables of its model."""
    synaptic = synaptic_names(proj)
    found = []
    codes = [(proj.pathway_key(name), code) for name, code, _ in proj.pathways] + [("on_post", proj.on_post), ("summed", proj.summed)]
    if proj.model is not None:
        codes += [("model", f"{eq.varname} = {eq.expr}") for eq in proj.equations.values() if "summed" in eq.flags]
    for key, code in codes:
        for line in (code or "").splitlines():
            match = _ASSIGNMENT.match(line)
            if match is None or match.group(1) in synaptic:
                continue
            name = match.group(1)
            if name.endswith("_pre"):
                found.append((proj.source, name[: -len("_pre")], key, line.strip()))
            elif name.endswith("_post"):
                found.append((proj.target, name[: -len("_post")], key, line.strip()))
            elif not name.startswith("_"):
                found.append((proj.target, name, key, line.strip()))
    return found


def check_drives(spec: NetworkSpec, drive_vars: dict):
    """Refuse a drive of a variable that synapses write: the drive sets it at
    the start of every step, so what ``on_pre`` code added to it (recurrent
    input held in ``I``) or a ``summed`` projection computed would be lost
    without a word."""
    for pop_name, variables in drive_vars.items():
        for proj in spec.projections:
            for owner, var, kind, line in neuron_writes(proj):
                if owner == pop_name and var in variables:
                    raise ConfigError(
                        f"{spec.source}: drive {pop_name}.{var}: projection '{proj.name}' writes '{var}' too ({kind} '{line}'); "
                        f"the drive sets '{var}' at the start of every step, so the synaptic input would be lost. "
                        "Drive a variable of its own (e.g. add an external current term to the model's equations) instead.")


def check_samples(spec: NetworkSpec, where: str):
    """Refuse networks whose samples cannot follow one another in one run
    (``build_network(samples > 1)``): state that outlives a sample's restore
    (spikes in flight on delayed synapses, synaptic variables written by
    ``on_pre``) or code that reads the absolute time."""
    for pop in spec.populations.values():
        if pop.is_input:
            continue
        model = pop.model
        codes = [str(model.brian_equations), model.threshold or "", *model_codes(pop, spec)]
        clock_names = {"t", "lastspike"} & set().union(*(get_identifiers(c) for c in codes))
        if clock_names:
            raise BackendError(f"{where}: population '{pop.name}' (model file {model.path}) reads {sorted(clock_names)}: the absolute time differs from sample to sample when samples run one after another; run one sample per binary call.")
    for proj in spec.projections:
        if proj.on_pre is not None and proj.size and (any(np.any(np.asarray(steps) > 0) for _, _, steps in proj.pathways) or np.any(np.asarray(proj.post_delay_steps if proj.post_delay_steps is not None else 0) > 0)):
            raise BackendError(f"{where}: projection '{proj.name}' has delays: its spikes in flight at the end of a sample would reach the next one; run one sample per binary call.")
        synaptic = synaptic_names(proj)
        if proj.has_dynamics:
            raise BackendError(f"{where}: projection '{proj.name}' has synaptic equations: their state would carry over from one sample to the next; run one sample per binary call.")
        for key, code in [(proj.pathway_key(name), code) for name, code, _ in proj.pathways] + [("on_post", proj.on_post)]:
            for line in (code or "").splitlines():
                match = _ASSIGNMENT.match(line)
                if match and match.group(1) in synaptic:
                    raise BackendError(f"{where}: projection '{proj.name}': {key} writes the synaptic variable '{match.group(1)}', which would carry over from one sample to the next; run one sample per binary call.")


def restored_names(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> list:
    """``pop``'s variables that code may change during a run (`written_names`
    and the differential equations' variables): what is set back to its
    initial value at the start of every sample."""
    equations = pop.model.brian_equations
    names = (written_names(spec, pop, driven) | set(equations.diff_eq_names)) & set(equations.names)
    names = [n for n in names if n in equations.diff_eq_names or n in equations.parameter_names]
    # shared variables first: Brian2 wants a block's scalar writes before its vector writes
    return sorted(names, key=lambda n: ("shared" not in equations[n].flags, n))


def assigned_names(spec: NetworkSpec, pop: PopulationSpec, driven=()) -> set:
    """Names of ``pop``'s variables that code of the network assigns during a
    run: the left-hand sides of its reset, every-step and program statements,
    every ``X_post``/``X_pre`` name of projections touching it, and its driven
    variables. A parameter outside this set is constant over a run, so
    functions of it (decays, ``exp`` in programs) can be computed once per
    network (`bioadapt.backends.brian.scheme`)."""
    names = set(driven) | projection_names(spec, pop) | set(pop.linked)  # a linked variable is another population's
    for code in model_codes(pop, spec):
        for line in code.splitlines():
            match = _ASSIGNMENT.match(line)
            if match:
                names.add(match.group(1))
    return names


def synaptic_names(proj: ProjectionSpec) -> set:
    """The synaptic variables of ``proj``: ``weight`` and its model's names."""
    names = {"weight"}
    if proj.model is not None:
        names |= set(proj.equations.names) | {"lastupdate"}
    return names
