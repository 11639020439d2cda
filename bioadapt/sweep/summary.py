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

from ..network.params import atomic_write

__all__ = ["write_summary", "group_rows", "compare", "describe"]

_BOOKKEEPING = {"point", "status", "error", "seconds", "files", "extra", "resumed_at_step", "steps", "train_seconds", "brian_samples"}


def _bases(sweep) -> str:
    """The base files of the points, relative to the sweep file where they lie below it."""
    home = Path(sweep.source).resolve().parent
    names = []
    for point in sweep.points:
        base = point.base or sweep.base
        names.append(str(base.relative_to(home)) if base.is_relative_to(home) else base.name)
    return ", ".join(dict.fromkeys(names))


def compare(rows: list, metric: str, a: str, b: str, pair_by: str = "seed") -> dict:
    """Whether variants ``a`` and ``b`` differ in ``metric`` beyond the spread over replicates.

    ``rows``: a sweep's rows (points not done are left out). Returns the means,
    the difference of the means (a - b) with its Welch standard error, and the
    same for the differences of points paired by ``pair_by`` (the same seed
    draws the same data and, where it is swept, the same initial network, so
    pairing removes that part of the spread). A difference counts as separated
    when it exceeds two standard errors; with fewer than two values a standard
    error is undefined (NaN), and a standard error of 0 (identical values, as
    the coarse accuracies of small test sets give) says nothing: neither is
    separated.

    >>> rows = [{"variant": v, "seed": s, "status": "done", "acc": x}
    ...         for v, xs in (("A", [0.9, 0.8, 0.85]), ("B", [0.7, 0.62, 0.66])) for s, x in enumerate(xs)]
    >>> c = compare(rows, "acc", "A", "B")
    >>> round(c["difference"], 3), c["separated"], round(c["paired_difference"], 3), c["paired_separated"]
    (0.19, True, 0.19, True)
    >>> compare([{**r, "acc": 0.5 + 0.1 * (r["variant"] == "A")} for r in rows], "acc", "A", "B")["paired_separated"]
    False
    """
    done = {v: [r for r in rows if r.get("variant") == v and r.get("status", "done") == "done" and _is_number(r.get(metric))] for v in (a, b)}
    x, y = (np.array([r[metric] for r in done[v]], dtype=float) for v in (a, b))
    nan = float("nan")
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)) if len(x) > 1 and len(y) > 1 else nan
    first = {r.get(pair_by): r[metric] for r in done[a]}
    paired = np.array([first[r.get(pair_by)] - r[metric] for r in done[b] if r.get(pair_by) in first], dtype=float)
    paired_se = float(paired.std(ddof=1) / math.sqrt(len(paired))) if len(paired) > 1 else nan
    diff = float(x.mean() - y.mean()) if len(x) and len(y) else nan
    paired_diff = float(paired.mean()) if len(paired) else nan
    return {"metric": metric, "a": a, "b": b, "n_a": len(x), "n_b": len(y), "mean_a": float(x.mean()) if len(x) else nan, "mean_b": float(y.mean()) if len(y) else nan,
            "difference": diff, "se": se, "separated": bool(se > 0 and abs(diff) > 2 * se), "pairs": len(paired),
            "paired_difference": paired_diff, "paired_se": paired_se, "paired_separated": bool(paired_se > 0 and abs(paired_diff) > 2 * paired_se)}


def describe(c: dict, digits: int = 3) -> str:
    """One sentence for a `compare` result."""
    verdict = lambda sep: "separated" if sep else "not separated"  # noqa: E731
    return (f"{c['a']} - {c['b']} ({c['metric']}, {c['n_a']} and {c['n_b']} runs): {c['difference']:+.{digits}f} ± {c['se']:.{digits}f} (Welch), "
            f"{verdict(c['separated'])}; paired by seed over {c['pairs']}: {c['paired_difference']:+.{digits}f} ± {c['paired_se']:.{digits}f}, {verdict(c['paired_separated'])}.")


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
    lines = [f"Sweep `{Path(sweep.source).name}` (base `{_bases(sweep)}`): {len(rows)} points, {sum(r['status'] == 'done' for r in rows)} done; mean ± std over the replicates ({replicates}) that finished.", ""]
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
