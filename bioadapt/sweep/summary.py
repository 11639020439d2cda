"""A sweep's tables and figure: one row per point, and mean and spread over the replicates.

``results.csv``: every point (its values, status, error, metrics).
``summary.csv`` and ``summary.md``: one row per group of points that differ
only in the replicate keys (seeds): for every metric the mean, the standard
deviation (numpy's, ddof = 0) and the number of points done, and the points
that failed. ``summary.png``: the figure's metric per group, a bar at the mean
and a dot per replicate.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..train.params import atomic_write

__all__ = ["write_summary", "group_rows"]

_BOOKKEEPING = {"point", "status", "error", "seconds", "files", "resumed_at_step", "steps", "train_seconds", "brian_samples"}


def _columns(rows: list) -> list:
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return keys


def _csv(rows: list, keys: list) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return text.getvalue()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def group_rows(sweep, rows: list) -> tuple:
    """``(group keys, [(group values, rows)])``: points grouped by every swept value but the replicates."""
    swept = _columns([{"variant": r["variant"]} if r["variant"] else {} for r in rows] + [{k: None for k in p.values} for p in sweep.points])
    keys = [k for k in swept if k not in sweep.replicates and len({repr(r.get(k)) for r in rows}) > 1 or (k == "variant" and any(r["variant"] for r in rows))]
    groups = {}
    for row in rows:
        groups.setdefault(tuple(repr(row.get(k)) for k in keys), []).append(row)
    return keys, [({k: sel[0].get(k) for k in keys}, sel) for sel in groups.values()]


def write_summary(sweep, rows: list, out: Path) -> list:
    """Write ``results.csv``, ``summary.csv``, ``summary.md`` and ``summary.png`` (if matplotlib is there) to ``out``."""
    out = Path(out)
    files = []
    atomic_write(out / "results.csv", _csv(rows, _columns(rows)))
    files.append(out / "results.csv")
    keys, groups = group_rows(sweep, rows)
    swept = set(keys) | set(sweep.replicates) | {"variant"} | {k for p in sweep.points for k in p.values}
    metrics = [k for k in _columns(rows) if k not in _BOOKKEEPING and k not in swept and any(_is_number(r.get(k)) for r in rows if r["status"] == "done")]
    summary = []
    for values, sel in groups:
        ok = [r for r in sel if r["status"] == "done"]
        entry = {**values, "done": len(ok), "failed": len(sel) - len(ok)}
        for m in metrics:
            v = np.array([r[m] for r in ok if _is_number(r.get(m))], dtype=float)
            entry[f"{m}_mean"] = float(v.mean()) if v.size else None
            entry[f"{m}_std"] = float(v.std()) if v.size else None
        summary.append(entry)
    atomic_write(out / "summary.csv", _csv(summary, _columns(summary)))
    files.append(out / "summary.csv")

    replicates = ", ".join(sweep.replicates)
    lines = [f"Sweep `{Path(sweep.source).name}` (base `{sweep.base.name}`): {len(rows)} points, {sum(r['status'] == 'done' for r in rows)} done; mean ± std over the replicates ({replicates}) that finished.", ""]
    head = keys + ["done", "failed"] + metrics
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in summary:
        cells = [str(entry[k]) for k in keys] + [str(entry["done"]), str(entry["failed"])]
        for m in metrics:
            mean, std = entry[f"{m}_mean"], entry[f"{m}_std"]
            cells.append("-" if mean is None else f"{_fmt(mean)} ± {_fmt(std)}")
        lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        lines += ["", "Failed points:", ""] + [f"- `{r['point']}`: {r['error']}" for r in failed]
    atomic_write(out / "summary.md", "\n".join(lines) + "\n")
    files.append(out / "summary.md")
    metric = sweep.metric or next((m for m in metrics if m.startswith("test_") and not m.startswith("test_rate")), metrics[0] if metrics else None)
    figure = _plot(keys, groups, metric, out / "summary.png") if metric else None
    if figure:
        files.append(figure)
    return files


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) and (abs(x) >= 1e-3 or x == 0) else f"{x:.3e}"


def _plot(keys, groups, metric, path: Path):
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(groups) + 1.5), 3.6))
    labels = []
    for k, (values, sel) in enumerate(groups):
        v = [r[metric] for r in sel if r["status"] == "done" and _is_number(r.get(metric))]
        if v:
            ax.bar(k, np.mean(v), color=f"C{k % 10}", alpha=0.5)
            ax.plot([k] * len(v), v, "k.", ms=6)
        failed = sum(r["status"] != "done" for r in sel)
        if failed:
            ax.text(k, 0, f"{failed} failed", rotation=90, ha="center", va="bottom", fontsize=8)
        labels.append("\n".join(f"{val}" if key == "variant" else f"{key.rsplit('.', 1)[-1]}={val}" for key, val in values.items()) or "all")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
