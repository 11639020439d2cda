"""Pages generated from the repository at build time (into docs/generated/, not committed).

- ``generated/api/``: one page per public module, listing the names of its
  ``__all__`` with autosummary; an object importable from several public
  modules is documented once, under the first module that exports it.
- ``generated/models/``: one page per shipped model file (description,
  parameter table from `bioadapt.models.table.parameter_table`, the file).
- ``generated/benchmarks/``: one page per result of ``benchmarks/results/``
  and an index of them (date, machine, load, command from the JSON files).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

DOCS = Path(__file__).parent
ROOT = DOCS.parent
OUT = DOCS / "generated"

#: The public modules, in the order their names are claimed, and what each is.
#: A module given with a tuple of names documents only those.
PUBLIC = [
    ("bioadapt", "Loading models and networks, simulating them, results and errors.", None),
    ("bioadapt.models", "Model files -> `ModelSpec`.", None),
    ("bioadapt.models.table", "Parameter tables of model files.", None),
    ("bioadapt.network", "Network files -> `NetworkSpec`, with every random draw made.", None),
    ("bioadapt.network.inputs", "Input spikes of input populations: Poisson, files, arrays.", None),
    ("bioadapt.network.transfer", "What keeps a network's meaning on another time grid (charge, latency).", None),
    ("bioadapt.noise", "Noise drawn alike in every backend: the counter-based generator.", ("NoiseSource", "rewrite_noise")),
    ("bioadapt.schemes", "Integration schemes.", None),
    ("bioadapt.program", "The per-step program both backends consume (blocks, statements).", None),
    ("bioadapt.program.analysis", "What a network's code writes, assigns and restores.", None),
    ("bioadapt.backends.torch", "The PyTorch twin.", None),
    ("bioadapt.backends.brian", "The Brian2 backends.", None),
    ("bioadapt.backends.brian.standalone", "A network compiled once, rerun with new values.", ("StandaloneNetwork", "GeneratedSynapses")),
    ("bioadapt.train", "Training the twin and carrying the result back to Brian2.", None),
    ("bioadapt.train.distributed", "Data-parallel training in several processes (torch.distributed).", None),
    ("bioadapt.sweep", "Sweeps of training runs as dask.distributed tasks.", None),
    ("bioadapt.analysis", "Stability, I-V curves, firing regimes, heterogeneity.", None),
    ("bioadapt.analysis.compare", "Discretizations against the grid-free reference.", None),
    ("bioadapt.reference", "The event-driven reference integrator (no time grid).", None),
    ("bioadapt.tasks", "Tasks and data sets.", None),
    ("bioadapt.interop.nir", "NIR export and import (snnTorch, Norse and other frameworks).", None),
    ("bioadapt.plot", "Figures of results and analyses.", None),
    ("bioadapt.errors", "Errors and warnings.", None),
]


def _write(path: Path, text: str) -> None:
    """Write only when the content changed, so that Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _title(text: str, mark: str = "=") -> str:
    return f"{text}\n{mark * len(text)}\n"


def _data_entry(package: str, name: str, value) -> str:
    """A constant, described by the ``#:`` comment where it is defined (in the package or one of its modules)."""
    import sys

    from sphinx.pycode import ModuleAnalyzer

    doc = []
    for module_name in sorted(m for m in sys.modules if m == package or m.startswith(package + ".")):
        try:
            attr_docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # a module without source (compiled, namespace)
            continue
        if ("", name) in attr_docs:
            doc = [line for line in attr_docs[("", name)] if line.strip()]
            break
    text = repr(value) if len(repr(value)) < 200 else f"{type(value).__name__} of {len(value)} entries"
    body = "\n".join(f"   {line}" for line in doc)
    return f".. py:data:: {name}\n   :value: {text}\n\n{body}\n"


def api_pages() -> None:
    folder = OUT / "api"
    claimed: dict[int, str] = {}
    entries = []
    for module_name, summary, only in PUBLIC:
        module = importlib.import_module(module_name)
        names = list(only or getattr(module, "__all__", []))
        own, elsewhere = [], []
        for name in names:
            obj = getattr(module, name)
            if isinstance(obj, (str, int, float, tuple, dict)) or obj is None:
                own.append((name, "data"))
                continue
            key = id(obj)
            if key in claimed:
                elsewhere.append((name, claimed[key]))
            else:
                claimed[key] = f"{module_name}.{name}"
                own.append((name, "object"))
        lines = [_title(module_name), f".. automodule:: {module_name}\n   :no-members:\n", f".. currentmodule:: {module_name}\n"]
        objects = [name for name, kind in own if kind == "object"]
        if objects:
            lines.append(".. autosummary::\n   :toctree: .\n   :nosignatures:\n")
            lines += [f"   {name}" for name in objects]
            lines.append("")
        data = [name for name, kind in own if kind == "data"]
        for name in data:
            lines.append(_data_entry(module_name, name, getattr(module, name)))
        if elsewhere:
            lines.append("Also importable from here: " + ", ".join(f":obj:`{name} <{target}>`" for name, target in elsewhere) + ".\n")
        _write(folder / f"{module_name}.rst", "\n".join(lines) + "\n")
        entries.append((module_name, summary))
    index = [_title("API reference"), "Every name below is public: importable from the module it is listed under.", "Names importable from several modules are documented once, under the first.\n"]
    index.append(".. list-table::\n   :header-rows: 0\n   :widths: 35 65\n")
    for module_name, summary in entries:
        index.append(f"   * - :doc:`{module_name}`\n     - {summary}")
    index.append("\n.. toctree::\n   :hidden:\n")
    index += [f"   {module_name}" for module_name, _ in entries]
    _write(folder / "index.rst", "\n".join(index) + "\n")


def model_pages() -> None:
    from bioadapt import load_model, shipped_models
    from bioadapt.models.table import parameter_table

    folder = OUT / "models"
    names = shipped_models()
    rows = []
    for name in names:
        model = load_model(name)
        description = model.description.strip()
        first = description.splitlines()[0] if description else ""
        rows.append(f"| [`{name}`]({name}.md) | {first} |")
        relative = Path("../../../equations") / f"{name}.toml"
        text = [f"# `{name}`\n"]
        if description:
            text.append("```text\n" + description + "\n```\n")
        text.append("## Variables\n")
        text.append(parameter_table(model, format="markdown") + "\n")
        facts = []
        if model.threshold:
            facts.append(f"- threshold: `{model.threshold}`")
        if model.reset:
            facts.append("- reset: `" + "; ".join(line.strip() for line in model.reset.strip().splitlines()) + "`")
        if model.refractory:
            facts.append(f"- refractory: `{model.refractory}`")
        if model.default_scheme:
            facts.append(f"- default scheme: `{model.default_scheme}`")
        if model.programs:
            facts.append("- discrete-time programs: " + ", ".join(f"`{p}`" for p in sorted(model.programs)))
        if facts:
            text.append("\n".join(facts) + "\n")
        text.append(f"`bioadapt models {name}` prints this table. The model file, `equations/{name}.toml`:\n")
        text.append(f"```{{literalinclude}} {relative.as_posix()}\n:language: toml\n```\n")
        _write(folder / f"{name}.md", "\n".join(text))
    index = [
        "# Shipped models\n",
        "Generated from the model files in `equations/` (see [Model files](../../guide/models.md) for the format).\n",
        "| model | description |",
        "|---|---|",
        *rows,
        "",
        "```{toctree}\n:hidden:\n\n" + "\n".join(names) + "\n```\n",
    ]
    _write(folder / "index.md", "\n".join(index))


def _literal_stars(markdown: str) -> str:
    """``*`` outside code as a literal star: the results' prose writes products as ``a*b``."""
    import re

    out = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or line.startswith("```"):
            out.append(line)
            continue
        parts = re.split(r"(`[^`]*`)", line)
        out.append("".join(part if part.startswith("`") else part.replace("*", "\\*") for part in parts))
    return "\n".join(out) + "\n"


def _command(markdown: str) -> str:
    """The command line a results file names (its first line that is one code span)."""
    import re

    for line in markdown.splitlines():
        match = re.fullmatch(r"`([^`]+)`\s*", line.strip() + " ")
        if match:
            return match.group(1)
    return ""


def benchmark_pages() -> None:
    folder = OUT / "benchmarks"
    results = ROOT / "benchmarks" / "results"
    rows, names = [], []
    for md in sorted(results.glob("*.md")):
        name = md.stem
        names.append(name)
        page = [_literal_stars(md.read_text())]
        data = md.with_suffix(".json")
        machine = {}
        if data.exists():
            machine = json.loads(data.read_text()).get("machine", {})
            page.append(f"Every timing of this run: {{download}}`{data.name} <../../../benchmarks/results/{data.name}>`.\n")
        _write(folder / f"{name}.md", "\n".join(page))
        load = machine.get("loadavg_start"), machine.get("loadavg_end")
        load_text = f"{load[0][0]:.1f} / {load[1][0]:.1f}" if all(load) else ""
        command = machine.get("command") or _command(md.read_text())
        rows.append(f"| [{name}]({name}.md) | {machine.get('date', '')[:10]} | {machine.get('cpu', '')} | {load_text} | {'`' + command + '`' if command else ''} |")
    index = [
        "# Benchmark results\n",
        "Generated from `benchmarks/results/` (a markdown table and a JSON file per run, written by the scripts in `benchmarks/`).",
        "Load: the load average at start and end of the run (these are shared machines).\n",
        "| result | date | CPU | load | command |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "```{toctree}\n:hidden:\n\n" + "\n".join(names) + "\n```\n",
    ]
    _write(folder / "index.md", "\n".join(index))


def generate() -> None:
    api_pages()
    model_pages()
    benchmark_pages()
