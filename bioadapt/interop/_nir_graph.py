"""A NIR graph read as populations and projections.

Nested graphs are flattened (a subgraph's Input and Output nodes become
pass-through nodes, its node names get the subgraph's name as a prefix).
Every path from a spike source (a top-level Input or a neuron node) through
Linear, Affine, Scale, Delay and pass-through nodes to a neuron node becomes
one projection: the product of the path's matrices (NIR's weight shape is
``(out, in)``), the biases it adds, and per-synapse delays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ._nir_models import NEURON_TYPES, SPIKING_TYPES

__all__ = ["GraphPlan", "Path", "read_graph", "latencies"]

#: NIR node types that pass their input on unchanged (on flattened vectors).
_PASS = ("Input", "Output", "Flatten", "Identity")
_LINEAR = ("Linear", "Affine", "Scale")
#: how close to a whole number of steps a Delay must be (relative)
_WHOLE_STEP = 1e-6


@dataclass
class Path:
    """Everything one path from ``source`` to ``target`` contributes."""

    source: str
    target: str
    nodes: list
    matrix: np.ndarray | None = None  # (n_target, n_source); None: one to one
    diagonal: np.ndarray | None = None  # one-to-one weights (Scale), None: 1
    bias: np.ndarray | None = None
    delay_source: np.ndarray | None = None  # seconds, per source neuron (before the matrix)
    delay_target: np.ndarray | None = None  # seconds, per target neuron (after the matrix)

    def synapses(self, n_source: int, n_target: int):
        """``i``, ``j``, weights and delays (seconds) of the synapses, i-major."""
        d_src = np.zeros(n_source) if self.delay_source is None else self.delay_source
        d_tgt = np.zeros(n_target) if self.delay_target is None else self.delay_target
        if self.matrix is None:
            i = np.arange(n_source, dtype=np.int64)
            weight = np.ones(n_source) if self.diagonal is None else np.asarray(self.diagonal, dtype=np.float64)
            return i, i.copy(), weight, d_src + d_tgt
        i, j = np.meshgrid(np.arange(n_source, dtype=np.int64), np.arange(n_target, dtype=np.int64), indexing="ij")
        i, j = i.ravel(), j.ravel()
        return i, j, np.asarray(self.matrix, dtype=np.float64)[j, i], d_src[i] + d_tgt[j]


@dataclass
class GraphPlan:
    """The flattened graph, read as populations and paths."""

    nodes: dict  # flattened name -> NIR node
    sizes: dict  # name -> number of elements
    inputs: list  # top-level Input node names
    outputs: dict  # top-level Output name -> the neuron or Input feeding it
    neurons: list  # neuron node names, in graph order
    paths: list = field(default_factory=list)


def node_type(node) -> str:
    return type(node).__name__


def _size(node, name: str) -> int:
    types = node.output_type if getattr(node, "output_type", None) else node.input_type
    shape = next(iter(types.values())) if types else None
    if shape is None:
        raise ConfigError(f"NIR node '{name}' ({node_type(node)}) has no shape (its input/output type is not set).")
    return int(np.prod(np.asarray(shape, dtype=np.int64)))


def _flatten(graph, prefix: str, nodes: dict, edges: list, top: bool):
    """Add ``graph``'s nodes and edges under ``prefix``; return (entry, exit) names of a subgraph."""
    from nir import Input, NIRGraph, Output

    entries, exits = [], []
    rename = {}
    for name, node in graph.nodes.items():
        full = f"{prefix}{name}"
        if isinstance(node, NIRGraph):
            entry, exit_ = _flatten(node, full + ".", nodes, edges, top=False)
            rename[name] = (entry, exit_)
            continue
        nodes[full] = node
        rename[name] = (full, full)
        if not top and isinstance(node, Input):
            entries.append(full)
        if not top and isinstance(node, Output):
            exits.append(full)
    for src, dst in graph.edges:
        if src not in rename or dst not in rename:
            raise ConfigError(f"NIR graph{' ' + prefix[:-1] if prefix else ''}: edge ({src!r}, {dst!r}) names a node that does not exist.")
        edges.append((rename[src][1], rename[dst][0]))
    if top:
        return None, None
    if len(entries) != 1 or len(exits) != 1:
        raise ConfigError(f"NIR subgraph '{prefix[:-1]}' has {len(entries)} Input and {len(exits)} Output nodes; bioadapt reads subgraphs with one of each.")
    return entries[0], exits[0]


def read_graph(graph) -> GraphPlan:
    """Flatten ``graph`` and find its paths; one error naming the node for anything unsupported."""
    from nir import Input, Output

    nodes, edges = {}, []
    _flatten(graph, "", nodes, edges, top=True)
    top_inputs = [n for n in graph.nodes if isinstance(graph.nodes[n], Input)]
    top_outputs = [n for n in graph.nodes if isinstance(graph.nodes[n], Output)]
    supported = set(_PASS) | set(_LINEAR) | {"Delay"} | set(NEURON_TYPES)
    for name, node in nodes.items():
        if node_type(node) not in supported:
            raise ConfigError(
                f"NIR node '{name}' is of type {node_type(node)}, which bioadapt cannot import; "
                f"supported node types: {', '.join(sorted(supported - {'Identity'}))} and nested graphs."
            )
    sizes = {name: _size(node, name) for name, node in nodes.items()}
    successors = {name: [] for name in nodes}
    for src, dst in edges:
        successors[src].append(dst)
    for name in top_inputs:
        if any(dst == name for _, dst in edges):
            raise ConfigError(f"NIR Input node '{name}' receives an edge; a graph's inputs are its sources.")
    neurons = [n for n, node in nodes.items() if node_type(node) in NEURON_TYPES]
    plan = GraphPlan(nodes=nodes, sizes=sizes, inputs=top_inputs, outputs={}, neurons=neurons)
    for source in top_inputs + neurons:
        _walk(plan, successors, source, Path(source, "", [source]), set(top_outputs))
    for name in top_outputs:
        if name not in plan.outputs:
            raise ConfigError(f"NIR Output node '{name}' is not fed by a neuron node or an Input.")
    return plan


def _walk(plan: GraphPlan, successors: dict, here: str, path: Path, outputs: set):
    for nxt in successors[here]:
        node = plan.nodes[nxt]
        kind = node_type(node)
        if nxt in outputs:
            if len(path.nodes) > 1 and any(node_type(plan.nodes[n]) not in _PASS for n in path.nodes[1:]):
                raise ConfigError(f"NIR Output node '{nxt}' is fed through {path.nodes[1:]} from '{path.source}'; bioadapt records neuron nodes, so an Output must follow a neuron node (or an Input) directly.")
            plan.outputs[nxt] = path.source
            continue
        if kind in NEURON_TYPES:
            if plan.sizes[path.source] != plan.sizes[nxt] and path.matrix is None:
                raise ConfigError(f"NIR edge '{path.nodes[-1]}' -> '{nxt}': {plan.sizes[path.source]} elements reach a node of {plan.sizes[nxt]} neurons without a weight matrix.")
            if path.source in plan.neurons and node_type(plan.nodes[path.source]) not in SPIKING_TYPES:
                raise ConfigError(
                    f"NIR node '{path.source}' ({node_type(plan.nodes[path.source])}) sends its graded state to '{nxt}'; "
                    "bioadapt imports edges from spiking nodes and Inputs only (a non-spiking node may feed an Output)."
                )
            plan.paths.append(Path(path.source, nxt, path.nodes + [nxt], path.matrix, path.diagonal, path.bias, path.delay_source, path.delay_target))
            continue
        if nxt in path.nodes:
            raise ConfigError(f"NIR graph: a cycle through {path.nodes[1:] + [nxt]} has no neuron node; bioadapt needs a neuron on every cycle.")
        _walk(plan, successors, nxt, _extend(plan, path, nxt), outputs)


def _extend(plan: GraphPlan, path: Path, name: str) -> Path:
    node = plan.nodes[name]
    kind = node_type(node)
    new = Path(path.source, "", path.nodes + [name], path.matrix, path.diagonal, path.bias, path.delay_source, path.delay_target)
    size_in = plan.sizes[path.source] if path.matrix is None else path.matrix.shape[0]
    if kind in _PASS:
        return new
    if kind == "Delay":
        delay = np.broadcast_to(np.asarray(node.delay, dtype=np.float64).ravel(), (size_in,)).copy()
        if np.any(delay < 0) or not np.all(np.isfinite(delay)):
            raise ConfigError(f"NIR Delay node '{name}' has negative or non-finite delays.")
        if path.bias is not None and np.any(path.bias):
            raise ConfigError(f"NIR Delay node '{name}' follows an Affine bias; bioadapt treats biases as constant inputs and cannot delay them.")
        if path.matrix is None:
            new.delay_source = delay if path.delay_source is None else path.delay_source + delay
        else:
            new.delay_target = delay if path.delay_target is None else path.delay_target + delay
        return new
    weight = np.asarray(node.scale if kind == "Scale" else node.weight, dtype=np.float64)
    if kind == "Scale":
        scale = np.broadcast_to(weight.ravel(), (size_in,)).copy()
        if path.matrix is None:
            new.diagonal = scale if path.diagonal is None else path.diagonal * scale
        else:
            new.matrix = scale[:, None] * path.matrix
        if path.bias is not None:
            new.bias = scale * path.bias
        if path.delay_target is not None:
            new.delay_target = path.delay_target
        return new
    if weight.ndim != 2:
        raise ConfigError(f"NIR {kind} node '{name}' has a weight of shape {weight.shape}; bioadapt reads 2-D weights (out, in).")
    if weight.shape[1] != size_in:
        raise ConfigError(f"NIR {kind} node '{name}': weight of shape {weight.shape} (out, in) receives {size_in} elements.")
    if path.delay_target is not None and np.unique(path.delay_target).size > 1:
        raise ConfigError(f"NIR {kind} node '{name}' follows a Delay with different delays per element after another weight matrix; bioadapt cannot give such a path one delay per synapse.")
    first = path.matrix
    if first is None:
        first = np.diag(np.ones(size_in) if path.diagonal is None else path.diagonal)
        new.diagonal = None
    new.matrix = weight @ first
    if path.delay_target is not None:  # a uniform delay commutes with the matrix
        new.delay_target = np.full(weight.shape[0], path.delay_target[0])
    bias = None if path.bias is None else weight @ path.bias
    if kind == "Affine":
        b = np.broadcast_to(np.asarray(node.bias, dtype=np.float64).ravel(), (weight.shape[0],))
        bias = b.copy() if bias is None else bias + b
    new.bias = bias
    return new


def identifier(name: str, taken: set) -> str:
    """A Brian2 group name for a NIR node name (letters, digits, '_'; unique)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "node"
    if not text[0].isalpha():
        text = "n" + text
    text = re.sub(r"_+", "_", text)
    candidate, k = text, 2
    while candidate in taken or candidate.startswith("bioadapt") or candidate.endswith(("_pre", "_post")):
        candidate, k = f"{text}_{k}", k + 1
    taken.add(candidate)
    return candidate


def delay_steps(seconds: np.ndarray, dt: float, where: str) -> np.ndarray:
    """Delays in whole steps; one error when a delay is not a whole number of steps."""
    steps = np.round(np.asarray(seconds, dtype=np.float64) / dt)
    off = np.abs(steps * dt - seconds)
    if np.any(off > _WHOLE_STEP * np.maximum(dt, np.abs(seconds))):
        bad = float(np.asarray(seconds)[np.argmax(off)])
        raise ConfigError(f"{where}: a delay of {bad:g} s is not a whole number of steps of dt = {dt:g} s; import with a dt that divides it.")
    return steps.astype(np.int64)


def latencies(plan: GraphPlan, path_steps: list) -> tuple[dict, list]:
    """Per-node latency and per-path lag (1 for a recurrent edge) of a same-step convention.

    ``path_steps[k]`` holds the Delay steps of the synapses of path k. A
    path is recurrent when its target reaches its source (frameworks feed it
    from the previous step); only self-loops can be compensated.
    """
    reach = {n: set() for n in plan.inputs + plan.neurons}
    for p in plan.paths:
        reach[p.source].add(p.target)
    changed = True
    while changed:  # transitive closure (graphs are small)
        changed = False
        for n, targets in reach.items():
            more = set().union(*(reach[t] for t in targets)) if targets else set()
            if not more <= targets:
                targets |= more
                changed = True
    lags = []
    for p in plan.paths:
        recurrent = p.source in reach[p.target] or p.source == p.target
        if recurrent and p.source != p.target:
            raise ConfigError(
                f"NIR graph: the cycle through '{p.source}' and '{p.target}' spans two neuron nodes; in a same-step convention the framework "
                "evaluates such a cycle in an order bioadapt cannot reproduce with synaptic delays (a self-recurrent node is fine); use convention='bioadapt'."
            )
        lags.append(1 if recurrent else 0)
    latency = {n: 0 for n in plan.inputs + plan.neurons}
    order = _topological(plan, lags)
    for n in order:
        for k, p in enumerate(plan.paths):
            if p.target == n and not lags[k]:
                latency[n] = max(latency[n], latency[p.source] + 1 - (int(path_steps[k].min()) if path_steps[k].size else 0))
    return latency, lags


def _topological(plan: GraphPlan, lags: list) -> list:
    forward = [(p.source, p.target) for p, lag in zip(plan.paths, lags) if not lag]
    names = plan.inputs + plan.neurons
    indegree = {n: 0 for n in names}
    for _, t in forward:
        indegree[t] += 1
    ready = [n for n in names if indegree[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for s, t in forward:
            if s == n:
                indegree[t] -= 1
                if indegree[t] == 0:
                    ready.append(t)
    return order
