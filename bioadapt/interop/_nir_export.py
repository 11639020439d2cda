"""A `NetworkSpec` as a NIR graph.

Populations become neuron nodes (`_nir_recognise`), input populations Input
nodes, and every projection a Linear node (Affine where it carries a bias)
from its source to its target, one per distinct delay, each followed by a
Delay node when its delay is not 0 (NIR's weight shape is ``(out, in)``).
Neuron populations that feed no other population get an Output node.

The bioadapt network itself travels in the metadata (JSON text and arrays,
which NIR's HDF5 files keep): each population's model file, scheme and
values, each projection's code, synapses (in order), weights and delays.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import ConfigError
from ._nir_models import check_convention
from ._nir_recognise import read_population
from ._toml import dumps, model_document

__all__ = ["graph_from_spec"]


def _reach(spec) -> dict:
    succ = {n: set() for n in spec.populations}
    for p in spec.projections:
        if p.size:
            succ[p.source].add(p.target)
    changed = True
    while changed:
        changed = False
        for targets in succ.values():
            more = set().union(*(succ[t] for t in targets)) if targets else set()
            if not more <= targets:
                targets |= more
                changed = True
    return succ


def _latency(spec, same_step: bool) -> tuple[dict, dict]:
    """Latency per population and lag per projection (see `_nir_models`)."""
    if not same_step:
        return {n: 0 for n in spec.populations}, {p.name: 0 for p in spec.projections}
    reach = _reach(spec)
    lags = {}
    for p in spec.projections:
        recurrent = p.source == p.target or p.source in reach[p.target]
        if recurrent and p.source != p.target:
            raise ConfigError(
                f"{spec.source}: projection '{p.name}' closes a cycle through '{p.source}' and '{p.target}'; a same-step convention "
                "evaluates such cycles in an order synaptic delays cannot express (self-recurrence is fine); export with convention='bioadapt'."
            )
        lags[p.name] = int(recurrent)
    latency = {n: 0 for n in spec.populations}
    done = {n for n, pop in spec.populations.items() if pop.is_input}
    pending = [n for n in spec.populations if n not in done]
    while pending:
        progressed = False
        for n in list(pending):
            incoming = [p for p in spec.projections if p.target == n and not lags[p.name] and p.size]
            if all(p.source in done for p in incoming):
                if incoming:
                    latency[n] = min(latency[p.source] + 1 + int(np.min(p.delay_steps)) for p in incoming)
                done.add(n)
                pending.remove(n)
                progressed = True
        if not progressed:  # cannot happen: forward edges form no cycle
            raise ConfigError(f"{spec.source}: cannot order the populations {pending} for a same-step convention.")
    return latency, lags


def _is_driven_input(spec, pop) -> bool:
    """A population with no dynamics of its own and no synapses into it: driven from outside (an analog input)."""
    model = pop.model
    return not model.brian_equations.diff_eq_names and not model.programs and not any(p.target == pop.name for p in spec.projections)


def _json(data) -> str:
    return json.dumps(data, sort_keys=True)


def graph_from_spec(spec, convention: str = "bioadapt", metadata: bool = True):
    """The ``nir.NIRGraph`` of ``spec`` (see `bioadapt.interop.nir.to_nir`)."""
    import nir

    conv = check_convention(convention)
    latency, lags = _latency(spec, conv.same_step)
    nodes, edges, readings = {}, [], {}
    pop_meta = {}
    for name, pop in spec.populations.items():
        shape = np.array([pop.size])
        info = {"name": name, "kind": pop.kind, "size": pop.size}
        if pop.is_input:
            info["rate_hz"] = pop.rate_hz
            nodes[name] = nir.Input(input_type={"input": shape})
            pop_meta[name] = {"bioadapt_population": _json(info)}
            continue
        info.update(model_name=pop.model.name, scheme=pop.scheme)
        pop_meta[name] = {
            "bioadapt_population": None,
            "bioadapt_model": dumps(model_document(pop.model)),
            "bioadapt_values": {var: np.array(value, dtype=np.float64) for var, value in pop.values.items()},
        }
        if _is_driven_input(spec, pop):
            info.update(exact=False, issues=["no dynamics: driven from outside (an analog Input)"])
            pop_meta[name]["bioadapt_population"] = _json(info)
            nodes[name] = nir.Input(input_type={"input": shape})
            continue
        reading = read_population(spec, pop, convention)
        readings[name] = reading
        info.update(nir_type=reading.kind, exact=reading.exact, issues=reading.issues)
        pop_meta[name]["bioadapt_population"] = _json(info)
    # projections: one Linear (Affine) per distinct delay, a Delay node after it where the delay is not 0
    proj_meta, bias_done = {}, set()
    parts_of = {}
    for proj in spec.projections:
        src, tgt = spec.populations[proj.source], spec.populations[proj.target]
        offset = (latency[proj.target] - latency[proj.source] - 1 + lags[proj.name]) if conv.same_step else 0
        delays = np.asarray(proj.delay_steps, dtype=np.int64) - offset
        if proj.size and delays.min() < 0:  # cannot happen: latency is the smallest delay allows
            raise ConfigError(f"{spec.source}: projection '{proj.name}' arrives earlier than its source's latency allows.")
        groups = sorted(set(delays.tolist())) or [0]
        reading = readings.get(proj.target)
        wants_bias = reading is not None and reading.bias is not None and np.any(reading.bias) and proj.target not in bias_done and not lags[proj.name]
        if wants_bias and 0 not in groups:
            groups = [0] + groups
        parts = []
        for d in groups:
            keep = delays == d
            weight = np.zeros((tgt.size, src.size))
            np.add.at(weight, (proj.j[keep], proj.i[keep]), proj.weight[keep])
            node_name = proj.name if len(groups) == 1 else f"{proj.name}.d{d}"
            if wants_bias and d == 0:
                nodes[node_name] = nir.Affine(weight=weight, bias=np.array(reading.bias, dtype=np.float64))
                bias_done.add(proj.target)
            else:
                nodes[node_name] = nir.Linear(weight=weight)
            edges.append((proj.source, node_name))
            if d:
                delay_name = f"{node_name}.delay"
                nodes[delay_name] = nir.Delay(delay=np.full(tgt.size, d * spec.dt))
                edges += [(node_name, delay_name), (delay_name, proj.target)]
            else:
                edges.append((node_name, proj.target))
            parts.append({"node": node_name, "delay_steps": int(d + offset)})
        parts_of[proj.name] = parts
        info = {"name": proj.name, "source": proj.source, "target": proj.target, "on_pre": proj.on_pre, "summed": proj.summed, "weight_unit": proj.weight_unit, "parts": parts}
        proj_meta[parts[0]["node"]] = {
            "bioadapt_projection": _json(info),
            "bioadapt_synapses": {"i": np.asarray(proj.i, dtype=np.int64), "j": np.asarray(proj.j, dtype=np.int64), "weight": np.asarray(proj.weight, dtype=np.float64), "delay_steps": np.asarray(proj.delay_steps, dtype=np.int64)},
        }
    for name, reading in readings.items():
        params = dict(reading.params)
        if reading.bias is not None and np.any(reading.bias) and name not in bias_done:
            # no edge to carry it: a constant drive is a shifted rest
            if "v_leak" in params:
                params["v_leak"] = params["v_leak"] + params.get("r", 1.0) * reading.bias
            reading.issues.append("a constant input with no incoming edge, written into v_leak")
            info = json.loads(pop_meta[name]["bioadapt_population"])
            info.update(exact=reading.exact, issues=reading.issues)
            pop_meta[name]["bioadapt_population"] = _json(info)
        nodes[name] = getattr(nir, reading.kind)(**{k: np.asarray(v, dtype=np.float64) for k, v in params.items()})
    feeds_other = {p.source for p in spec.projections if p.target != p.source}
    sinks = [n for n, pop in spec.populations.items() if not pop.is_input and n in readings and n not in feeds_other]
    if not sinks and readings:  # every population feeds another (a loop): NIR needs an Output somewhere
        sinks = [list(readings)[-1]]
    outputs = {}
    for n in sinks:
        out = "output" if len(sinks) == 1 else f"output_{n}"
        while out in nodes:  # a population may be called "output"
            out += "_"
        nodes[out] = nir.Output(output_type={"output": np.array([spec.populations[n].size])})
        edges.append((n, out))
        outputs[out] = n
    if metadata:
        for name, meta in {**pop_meta, **proj_meta}.items():
            nodes[name].metadata = {k: v for k, v in meta.items() if v is not None}
    graph_meta = {}
    if metadata:
        graph_meta["bioadapt"] = _json({
            "format": "bioadapt-nir/1",
            "dt": spec.dt,
            "n_steps": spec.n_steps,
            "seed": spec.seed,
            "source": spec.source,
            "convention": convention,
            "populations": list(spec.populations),
            "projections": [p.name for p in spec.projections],
            "projection_nodes": {p.name: parts_of[p.name][0]["node"] for p in spec.projections},
            "outputs": outputs,
            "latency_steps": latency,
        })
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph_meta)
