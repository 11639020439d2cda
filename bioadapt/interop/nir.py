"""NIR (Neuromorphic Intermediate Representation): export and import of networks.

`to_nir` turns a `NetworkSpec` into a ``nir.NIRGraph``; `from_nir` turns a
graph (or a ``.nir`` file) into a `NetworkSpec` whose inputs are ``spikes``
populations; `read_nir` also returns how the graph's nodes map to
populations and the latency of each population; `write_network` writes the
model files, the network file and the ``params.json`` of an import.

NIR graphs are continuous-time; the ``convention`` says how they become
discrete-time code (see `bioadapt.interop._nir_models` for the update of
each convention): ``"bioadapt"`` (exact integration, spikes as Dirac
impulses), ``"snntorch"`` and ``"norse"`` (each framework's Euler steps and
operation order, edges acting in the step they are sent).

Exported graphs carry the bioadapt network in their metadata (model files,
schemes, values, synapses in order, delays): `from_nir` reads a bioadapt
export back exactly from it (``use_metadata=True``), whatever NIR can express.

Examples
--------
>>> graph = to_nir(load_network("net.toml"))             # doctest: +SKIP
>>> spec = from_nir("snn.nir", convention="snntorch")      # doctest: +SKIP
>>> from_nir("snn.nir", convention="brian")
Traceback (most recent call last):
...
bioadapt.errors.ConfigError: Unknown NIR convention 'brian'; use one of bioadapt, snntorch, norse (see bioadapt.interop.nir).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models.load import model_from_dict
from ..network.spec import NetworkSpec, PopulationSpec, ProjectionSpec
from ._nir_graph import delay_steps, identifier, latencies, node_type, read_graph
from ._nir_models import CONVENTIONS, PARAMETERS, check_convention, neuron_model
from ._toml import dumps, model_document

__all__ = ["NirImport", "read_nir", "from_nir", "write_network", "to_nir", "write_nir", "population_report", "load_graph", "CONVENTIONS", "METADATA_FORMAT"]

#: Format tag of the bioadapt network carried in a graph's metadata.
METADATA_FORMAT = "bioadapt-nir/1"
#: Framework steps of an import when neither the call nor the graph says.
DEFAULT_STEPS = 100


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError("NIR support needs the 'nir' package: pip install 'bioadapt[nir]'.") from None
    return nir


def load_graph(graph_or_path):
    """A ``nir.NIRGraph`` from a graph or a ``.nir`` file (one error for a bad file)."""
    nir = _nir()
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    path = Path(graph_or_path)
    if not path.is_file():
        raise ConfigError(f"NIR file '{path}' does not exist.")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py, nir's own checks: several exception types
        raise ConfigError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc}).") from None


@dataclass(frozen=True)
class NirImport:
    """A NIR graph read as a bioadapt network.

    Attributes
    ----------
    spec : NetworkSpec
        The network; its ``n_steps`` is ``n_steps`` plus the largest latency.
    convention : str
        ``"bioadapt"``, ``"snntorch"``, ``"norse"``, or ``"metadata"`` for a
        bioadapt export read back from its metadata.
    nodes : dict
        NIR node name (nested names joined with '.') -> population.
    outputs : dict
        NIR Output node -> population it records.
    latency : dict
        Population -> steps: the framework's step ``k`` of population P is
        bioadapt's step ``k + latency[P]`` (0 unless the convention acts in
        the same step).
    n_steps : int
        Framework steps the import was made for.
    models : dict
        Model name -> `ModelSpec` of the generated (or carried) models.
    """

    spec: NetworkSpec
    convention: str
    nodes: dict
    outputs: dict
    latency: dict
    n_steps: int
    models: dict

    @property
    def inputs(self) -> list:
        """The input (``spikes``) populations."""
        return [p.name for p in self.spec.populations.values() if p.is_input]

    def with_inputs(self, rasters: dict) -> NetworkSpec:
        """The network with input spikes: ``population -> 0/1 array (steps, size)``
        in framework steps (at most ``n_steps`` of them)."""
        populations = dict(self.spec.populations)
        for name, raster in rasters.items():
            pop = populations.get(name)
            if pop is None or not pop.is_input:
                raise ConfigError(f"with_inputs: {name!r} is not an input population ({', '.join(self.inputs)}).")
            raster = np.asarray(raster)
            if raster.ndim != 2 or raster.shape[1] != pop.size or raster.shape[0] > self.spec.n_steps:
                raise ConfigError(f"with_inputs: '{name}' needs an array (steps, {pop.size}) with at most {self.spec.n_steps} steps, got {raster.shape}.")
            if not np.all((raster == 0) | (raster == 1)):
                raise ConfigError(f"with_inputs: '{name}' must hold 0/1 spikes.")
            steps, indices = np.nonzero(raster)
            populations[name] = dataclasses.replace(pop, input_steps=steps.astype(np.int64), input_indices=indices.astype(np.int64))
        return dataclasses.replace(self.spec, populations=populations)

    def framework_spikes(self, result, population: str) -> tuple:
        """``(i, step)`` of a population's spikes in framework steps (the latency removed)."""
        i, step = result.spikes[population]
        step = step - self.latency.get(population, 0)
        keep = (step >= 0) & (step < self.n_steps)
        return i[keep], step[keep]

    def framework_trace(self, result, population: str, variable: str) -> np.ndarray:
        """A recorded trace ``(n_steps, size)`` in framework steps."""
        start = self.latency.get(population, 0)
        return result.traces[population][variable][start : start + self.n_steps]


def read_nir(graph_or_path, dt: float | None = None, convention: str = "bioadapt", n_steps: int | None = None, use_metadata: bool = True) -> NirImport:
    """Read a NIR graph (or ``.nir`` file) as a bioadapt network.

    Parameters
    ----------
    graph_or_path : nir.NIRGraph, str or Path
    dt : float, optional
        Time step in seconds. Default: the convention's (snnTorch 1e-4 s,
        Norse 1e-3 s) or that of a bioadapt export; required otherwise.
    convention : {"bioadapt", "snntorch", "norse"}
        How the continuous-time graph is discretized (module docstring).
    n_steps : int, optional
        Framework steps to simulate (default: a bioadapt export's, else 100).
    use_metadata : bool
        Read a bioadapt export back exactly from its metadata (default); the
        convention then does not apply (the network is bioadapt's own).

    Raises
    ------
    ConfigError
        For an unknown convention, a missing dt, an unsupported node (the
        message names the node and its type), or a graph the convention
        cannot reproduce.
    """
    check_convention(convention)
    if n_steps is not None and (not isinstance(n_steps, (int, np.integer)) or n_steps < 1):
        raise ConfigError(f"read_nir: n_steps must be a positive integer, got {n_steps!r}.")
    graph = load_graph(graph_or_path)
    source = str(graph_or_path) if not isinstance(graph_or_path, _nir().NIRGraph) else "<NIR graph>"
    meta = _graph_metadata(graph)
    if use_metadata and meta is not None:
        return _from_metadata(graph, meta, dt, n_steps, source)
    if dt is None:
        dt = CONVENTIONS[convention].default_dt
    if dt is None:
        raise ConfigError(f"{source}: give dt (seconds) to import a NIR graph under convention '{convention}'.")
    if not dt > 0:
        raise ConfigError(f"read_nir: dt must be positive, got {dt}.")
    return _from_primitives(graph, float(dt), convention, DEFAULT_STEPS if n_steps is None else int(n_steps), source)


def from_nir(graph_or_path, dt: float | None = None, convention: str = "bioadapt", n_steps: int | None = None, use_metadata: bool = True) -> NetworkSpec:
    """The `NetworkSpec` of a NIR graph (see `read_nir`); its inputs are ``spikes`` populations."""
    return read_nir(graph_or_path, dt=dt, convention=convention, n_steps=n_steps, use_metadata=use_metadata).spec


def _values_of(node, name: str, kind: str, size: int) -> dict:
    values = {}
    for param in PARAMETERS[kind]:
        raw = getattr(node, param, None)
        arr = np.asarray(0.0 if raw is None else raw, dtype=np.float64).ravel()
        if arr.size == 1:
            arr = np.full(size, arr[0])
        elif arr.size != size:
            raise ConfigError(f"NIR node '{name}' ({kind}): parameter '{param}' has {arr.size} values for {size} neurons.")
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"NIR node '{name}' ({kind}): parameter '{param}' is not finite.")
        values[param] = arr.copy()
    for param in ("tau", "tau_mem", "tau_syn"):
        if param in values and np.any(values[param] <= 0):
            raise ConfigError(f"NIR node '{name}' ({kind}): '{param}' must be positive (seconds).")
    return values


def _from_primitives(graph, dt: float, convention: str, n_steps: int, source: str) -> NirImport:
    conv = CONVENTIONS[convention]
    plan = read_graph(graph)
    taken = set()
    names = {n: identifier(n, taken) for n in plan.inputs + plan.neurons}
    synapses, steps = [], []
    for p in plan.paths:
        i, j, w, d = p.synapses(plan.sizes[p.source], plan.sizes[p.target])
        synapses.append((i, j, w))
        steps.append(delay_steps(d, dt, f"NIR path {' -> '.join(p.nodes)}"))
    if conv.same_step:
        latency, lags = latencies(plan, steps)
    else:
        latency, lags = {n: 0 for n in names}, [0] * len(plan.paths)
    populations = {}
    for n in plan.inputs:
        empty = np.zeros(0, dtype=np.int64)
        populations[names[n]] = PopulationSpec(names[n], plan.sizes[n], "spikes", input_steps=empty, input_indices=empty.copy())
    models, generated = {}, {}
    for n in plan.neurons:
        node, kind, size = plan.nodes[n], node_type(plan.nodes[n]), plan.sizes[n]
        values = _values_of(node, n, kind, size)
        recurrent = conv.same_step and any(lag and p.target == n for p, lag in zip(plan.paths, lags))
        generated[n] = neuron_model(kind, convention, values, dt, recurrent=recurrent)
        model = models.setdefault(generated[n].model.name, generated[n].model)
        declared = set(model.variables)
        pop_values = {k: v for k, v in values.items() if k in declared}
        for port, var in generated[n].bias.items():
            pop_values.setdefault(var, np.zeros(size))
        for k, p in enumerate(plan.paths):
            if p.target == n and p.bias is not None:
                var = generated[n].bias["previous" if lags[k] else "same"]
                pop_values[var] = pop_values[var] + p.bias
        for var, param in generated[n].initial.items():
            pop_values[var] = values[param].copy()
        if "t_start" in declared:  # half a step early: no float equality with t
            pop_values["t_start"] = np.full(size, (latency[n] - 0.5) * dt)
        populations[names[n]] = PopulationSpec(names[n], size, "neurons", model=model, scheme=generated[n].scheme, values=pop_values)
    projections = []
    for k, p in enumerate(plan.paths):
        i, j, w = synapses[k]
        delay = steps[k] + ((latency[p.target] - latency[p.source] - 1 + lags[k]) if conv.same_step else 0)
        inner = [m for m in p.nodes[1:-1] if node_type(plan.nodes[m]) not in ("Input", "Output", "Flatten", "Identity")]
        name = identifier(inner[0] if len(inner) == 1 else f"{p.source}_to_{p.target}", taken)
        on_pre = generated[p.target].on_pre["previous" if lags[k] else "same"]
        projections.append(ProjectionSpec(name, names[p.source], names[p.target], i, j, w, delay.astype(np.int64), on_pre=on_pre))
    latency = {names[n]: int(latency[n]) for n in names}
    total = n_steps + max(latency.values(), default=0)
    spec = NetworkSpec(dt=dt, n_steps=total, seed=0, populations=populations, projections=tuple(projections), source=source)
    outputs = {o: names[src] for o, src in plan.outputs.items()}
    return NirImport(spec, convention, dict(names), outputs, latency, n_steps, models)


# ---------------------------------------------------------------- metadata


def _graph_metadata(graph) -> dict | None:
    raw = (graph.metadata or {}).get("bioadapt") if isinstance(graph.metadata, dict) else None
    if raw is None:
        return None
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == METADATA_FORMAT else None


def _node_json(node, key: str, where: str) -> dict:
    try:
        return json.loads(str(node.metadata[key]))
    except (KeyError, TypeError, json.JSONDecodeError):
        raise ConfigError(f"{where}: the bioadapt metadata of this node is missing or damaged; import with use_metadata=False.") from None


def _from_metadata(graph, meta: dict, dt: float | None, n_steps: int | None, source: str) -> NirImport:
    if dt is not None and abs(dt - meta["dt"]) > 1e-12 * meta["dt"]:
        raise ConfigError(f"{source}: this bioadapt export runs at dt = {meta['dt']} s, not {dt} s; import it without dt, or with use_metadata=False.")
    populations, models, nodes = {}, {}, {}
    for name in meta["populations"]:
        where = f"{source}: node '{name}'"
        if name not in graph.nodes:
            raise ConfigError(f"{where}: missing from the graph; import with use_metadata=False.")
        node = graph.nodes[name]
        info = _node_json(node, "bioadapt_population", where)
        nodes[name] = name
        if info["kind"] in ("poisson", "spikes"):
            empty = np.zeros(0, dtype=np.int64)
            populations[name] = PopulationSpec(name, int(info["size"]), "spikes", input_steps=empty, input_indices=empty.copy())
            continue
        try:
            data = tomllib.loads(str(node.metadata["bioadapt_model"]))
        except (KeyError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{where}: the model file in its metadata cannot be read ({exc}).") from None
        model = model_from_dict(data, Path(f"<NIR node '{name}'>"), name=info["model_name"])
        models.setdefault(model.name, model)
        values = {var: np.array(value, dtype=np.float64) for var, value in dict(node.metadata.get("bioadapt_values", {})).items()}
        populations[name] = PopulationSpec(name, int(info["size"]), "neurons", model=model, scheme=info["scheme"], values=values)
    projections = []
    for name in meta["projections"]:
        node_name = meta["projection_nodes"][name]
        where = f"{source}: node '{node_name}'"
        node = graph.nodes.get(node_name)
        if node is None:
            raise ConfigError(f"{where}: missing from the graph; import with use_metadata=False.")
        info = _node_json(node, "bioadapt_projection", where)
        syn = node.metadata.get("bioadapt_synapses", {})
        i, j = np.asarray(syn["i"], dtype=np.int64), np.asarray(syn["j"], dtype=np.int64)
        weight, delay = np.asarray(syn["weight"], dtype=np.float64), np.asarray(syn["delay_steps"], dtype=np.int64)
        _check_weights(graph, info, i, j, weight, delay, populations, where)
        projections.append(ProjectionSpec(name, info["source"], info["target"], i, j, weight, delay, on_pre=info.get("on_pre"), summed=info.get("summed"), weight_unit=info["weight_unit"]))
    steps = int(meta["n_steps"]) if n_steps is None else int(n_steps)
    spec = NetworkSpec(dt=float(meta["dt"]), n_steps=steps, seed=int(meta["seed"]), populations=populations, projections=tuple(projections), source=source)
    outputs = {o: src for o, src in meta.get("outputs", {}).items()}
    return NirImport(spec, "metadata", nodes, outputs, {n: 0 for n in populations}, steps, models)


def _check_weights(graph, info: dict, i, j, weight, delay, populations: dict, where: str):
    """The graph's weight matrices must still be those of the metadata (not retrained elsewhere)."""
    for part in info.get("parts", []):
        node = graph.nodes.get(part["node"])
        if node is None:
            raise ConfigError(f"{where}: node '{part['node']}' of this projection is missing; import with use_metadata=False.")
        keep = delay == part["delay_steps"]
        dense = np.zeros((populations[info["target"]].size, populations[info["source"]].size))
        np.add.at(dense, (j[keep], i[keep]), weight[keep])
        if not np.array_equal(dense, np.asarray(node.weight, dtype=np.float64)):
            raise ConfigError(f"{where}: the weights of node '{part['node']}' differ from those in its bioadapt metadata (changed by another tool?); import with use_metadata=False to read the NIR nodes.")


# ------------------------------------------------------------------- files


def _connect_entry(proj: ProjectionSpec, n_src: int, n_tgt: int):
    """The network file's ``connect`` for ``proj`` when a rule gives its synapses in order, else None."""
    i_all, j_all = np.meshgrid(np.arange(n_src), np.arange(n_tgt), indexing="ij")
    if proj.size == n_src * n_tgt and np.array_equal(proj.i, i_all.ravel()) and np.array_equal(proj.j, j_all.ravel()):
        return "all_to_all"
    if n_src == n_tgt and np.array_equal(proj.i, np.arange(n_src)) and np.array_equal(proj.j, np.arange(n_src)):
        return "one_to_one"
    return None


def write_network(imported: NirImport, out: str | Path) -> dict:
    """Write ``models/*.toml``, ``network.toml``, ``params.json`` (and
    ``synapses/*.npz`` for projections no connection rule gives) for an import.

    ``bioadapt.load_network(out/"network.toml")`` with
    ``bioadapt.train.apply_params(..., load_params(out/"params.json"))`` is
    ``imported.spec`` again, value for value. Returns the written paths by role.
    """
    from ..train.params import save_params

    spec = imported.spec
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    written = {"models": [], "synapses": []}
    files, texts = {}, {}  # population -> file name; model text -> file name
    for pop in spec.populations.values():
        if pop.is_input:
            continue
        text = dumps(model_document(pop.model), header=f"model '{pop.model.name}' written by bioadapt import-nir")
        if text not in texts:
            stem, k = pop.model.name, 2
            while stem in texts.values():  # two different models of one name (e.g. from two folders)
                stem, k = f"{pop.model.name}_{k}", k + 1
            texts[text] = stem
            path = out / "models" / f"{stem}.toml"
            path.write_text(text, encoding="utf-8")
            written["models"].append(path)
        files[pop.name] = texts[text]
    doc = {"dt": f"{spec.dt!r}*second", "duration": f"{spec.n_steps * spec.dt!r}*second", "seed": spec.seed, "populations": {}, "projections": []}
    for pop in spec.populations.values():
        if pop.is_input:
            doc["populations"][pop.name] = {"kind": "spikes", "size": pop.size}
        else:
            doc["populations"][pop.name] = {"model": f"models/{files[pop.name]}.toml", "size": pop.size}
            if pop.scheme is not None:
                doc["populations"][pop.name]["scheme"] = pop.scheme
    for proj in spec.projections:
        entry = {"name": proj.name, "source": proj.source, "target": proj.target}
        entry["on_pre" if proj.on_pre is not None else "summed"] = proj.on_pre if proj.on_pre is not None else proj.summed
        connect = _connect_entry(proj, spec.populations[proj.source].size, spec.populations[proj.target].size)
        if connect is None:
            (out / "synapses").mkdir(exist_ok=True)
            path = out / "synapses" / f"{proj.name}.npz"
            np.savez(path, i=proj.i, j=proj.j)
            written["synapses"].append(path)
            connect = {"file": f"synapses/{proj.name}.npz"}
        entry["connect"] = connect
        entry["weight"] = 0.0 if proj.weight_unit == "1" else f"0*{proj.weight_unit}"
        doc["projections"].append(entry)
    header = (
        f"network written by bioadapt import-nir from {spec.source} (convention '{imported.convention}');\n"
        "values, weights and delays are in params.json (bioadapt.train.apply_params)"
    )
    if any(imported.latency.values()):
        header += "\nlatency (steps) of each population against the framework: " + ", ".join(f"{k} {v}" for k, v in imported.latency.items())
    written["network"] = out / "network.toml"
    written["network"].write_text(dumps(doc, header=header), encoding="utf-8")
    values = {p.name: dict(p.values) for p in spec.populations.values() if not p.is_input}
    values.update({p.name: {"weight": p.weight} for p in spec.projections})
    meta = {"nir": {"convention": imported.convention, "latency_steps": imported.latency, "framework_steps": imported.n_steps, "nodes": imported.nodes, "outputs": imported.outputs}}
    written["params"] = save_params(out / "params.json", spec, values, meta=meta)
    return written


# ------------------------------------------------------------------ export


def to_nir(spec: NetworkSpec, convention: str = "bioadapt", metadata: bool = True):
    """The ``nir.NIRGraph`` of a network.

    Each population becomes the NIR node its code matches (read from the
    structure of its equations or program, never from its name): under the
    ``bioadapt`` convention LIF, CubaLIF, LI, CubaLI, IF, I for the matching
    differential equations; under ``snntorch``/``norse`` the same types for
    programs that are one Euler step of them. Others become a LIF (spiking)
    or LI node flagged ``exact: false`` in their metadata, with the reasons.
    Projections become Linear/Affine nodes (NIR's ``(out, in)`` weights),
    Delay nodes where delayed. With ``metadata`` (default) the graph carries
    the whole network, which `from_nir` reads back exactly.

    Raises
    ------
    ConfigError
        For an unknown convention, a network a same-step convention cannot
        express (a cycle through two populations), synapses with a model
        of their own (NIR has fixed weights only), or poisson inputs.
    """
    from ._nir_export import graph_from_spec

    _nir()
    for proj in spec.projections:
        if proj.model is not None or proj.on_post is not None:
            raise ConfigError(f"{spec.source}: projection '{proj.name}' has a synapse model or on_post code (plastic synapses); NIR describes fixed weights only, so it cannot be exported.")
        if proj.several_pathways:
            raise ConfigError(f"{spec.source}: projection '{proj.name}' has several on_pre pathways ({', '.join(sorted(proj.on_pre))}); bioadapt's NIR export writes one pathway per projection (split it into projections of one pathway each).")
    if spec.poisson_inputs:
        raise ConfigError(f"{spec.source}: poisson input '{spec.poisson_inputs[0].name}' (Brian2's PoissonInput) has no NIR node; export the network without it.")
    return graph_from_spec(spec, convention, metadata)


def write_nir(graph_or_spec, path: str | Path, convention: str = "bioadapt", metadata: bool = True) -> Path:
    """Write a graph (or the `to_nir` graph of a network) to a ``.nir`` file (HDF5)."""
    nir = _nir()
    graph = graph_or_spec if isinstance(graph_or_spec, nir.NIRGraph) else to_nir(graph_or_spec, convention, metadata)
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder; give a file name for the .nir file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, graph)
    return path


def population_report(graph) -> list:
    """``(node, NIR type, exact, issues)`` of every population node of a bioadapt export."""
    rows = []
    for name, node in graph.nodes.items():
        raw = (getattr(node, "metadata", None) or {}).get("bioadapt_population")
        if raw is None:
            continue
        info = json.loads(str(raw))
        if info["kind"] != "neurons":
            continue
        rows.append((name, type(node).__name__, bool(info.get("exact")), list(info.get("issues", []))))
    return rows
