"""Figures and the short text report of a training run (matplotlib, Agg backend)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["plot_learning_curve", "plot_run", "write_report"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curve(history: list, steps: list, path: Path) -> Path | None:
    plt = _pyplot()
    if plt is None or not steps:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    s = np.array(steps, dtype=float)
    axes[0].plot(s[:, 0], s[:, 1], lw=0.8, color="0.6", label="batch")
    if history:
        axes[0].plot([r["step"] for r in history], [r["train_loss"] for r in history], "o-", label="train (epoch mean)")
        if "valid_loss" in history[0]:
            axes[0].plot([r["step"] for r in history], [r["valid_loss"] for r in history], "s-", label="valid")
    axes[0].set_xlabel("optimizer step")
    axes[0].set_ylabel("loss")
    axes[0].legend(frameon=False)
    metric = "accuracy" if history and "train_accuracy" in history[0] else "nmse"
    if history:
        epochs = [r["epoch"] for r in history]
        if f"train_{metric}" in history[0]:
            axes[1].plot(epochs, [r[f"train_{metric}"] for r in history], "o-", label="train")
        if f"valid_{metric}" in history[0]:
            axes[1].plot(epochs, [r[f"valid_{metric}"] for r in history], "s-", label="valid")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel(metric)
    axes[1].legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(sample_npz: Path, params_initial: dict, params_trained: dict, out: Path, readout: str, rules) -> list:
    """Raster and readout traces of one test sample (twin and Brian2), and histograms of the trained values."""
    plt = _pyplot()
    if plt is None:
        return []
    written = []
    d = np.load(sample_npz)
    pops = sorted({k.split(".")[1] for k in d.files if k.startswith("twin.") and k.endswith(".i")})
    fig, axes = plt.subplots(len(pops) + 2, 1, figsize=(8, 2.0 * (len(pops) + 2)), sharex=True)
    steps_in, ch = np.nonzero(d["x"])
    axes[0].plot(steps_in, ch, "|", ms=4, color="k")
    axes[0].set_ylabel("input")
    for ax, pop in zip(axes[1:], pops):
        ax.plot(d[f"twin.{pop}.step"], d[f"twin.{pop}.i"], "|", ms=5, color="C0", label="twin")
        ax.plot(d[f"brian.{pop}.step"], d[f"brian.{pop}.i"], ".", ms=2, color="C3", label="Brian2")
        ax.set_ylabel(pop)
    axes[1].legend(frameon=False, loc="upper right", fontsize=7)
    y_twin, y_brian = d["twin_y"], d["brian_y"]
    for k in range(y_twin.shape[1]):
        axes[-1].plot(y_twin[:, k], color=f"C{k % 10}", lw=1)
        axes[-1].plot(y_brian[:, k], color="k", lw=0.5, ls=":")
    axes[-1].set_ylabel(readout)
    axes[-1].set_xlabel("step (twin: colour, Brian2: dotted)")
    fig.tight_layout()
    fig.savefig(out / "raster_traces.png", dpi=110)
    plt.close(fig)
    written.append(out / "raster_traces.png")
    shown = [(r.owner, "delay_steps" if r.kind == "delay" else r.var) for r in rules]  # learned delays: the rounded steps
    shown = [(owner, var) for owner, var in shown if np.size(params_trained[owner][var]) > 1]
    if shown:
        cols = min(4, len(shown))
        rows = int(np.ceil(len(shown) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
        for ax, (owner, var) in zip(axes.flat, shown):
            before = np.ravel(params_initial[owner][var])
            after = np.ravel(params_trained[owner][var])
            bins = np.histogram_bin_edges(np.concatenate([before, after]), bins=30)
            ax.hist(before, bins=bins, alpha=0.5, label="initial")
            ax.hist(after, bins=bins, alpha=0.5, label="trained")
            ax.set_title(f"{owner}.{var}", fontsize=9)
        for ax in list(axes.flat)[len(shown):]:
            ax.axis("off")
        axes.flat[0].legend(frameon=False, fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "parameters.png", dpi=110)
        plt.close(fig)
        written.append(out / "parameters.png")
    return written


def write_report(out: Path, train_history: list, evaluation: dict, figures: list, seconds: dict) -> Path:
    """``report.md``: the run's numbers and figures."""
    metric = "accuracy" if "accuracy" in evaluation["twin"] else "nmse"
    last = train_history[-1] if train_history else {}
    lines = [
        "# bioadapt training report",
        "",
        f"- training: {len(train_history)} epochs, {last.get('step', 0)} optimizer steps, {seconds.get('train', 0):.1f} s",
        f"- last epoch: train loss {last.get('train_loss', float('nan')):.4f}, valid {metric} {last.get('valid_' + metric, float('nan')):.4f}",
        f"- test set ({evaluation['samples']} samples), twin (float64): {metric} {evaluation['twin'][metric]:.4f}, loss {evaluation['twin']['loss']:.4f}",
        f"- test set, Brian2 {evaluation['backend']}: {metric} {evaluation['brian'][metric]:.4f}, loss {evaluation['brian']['loss']:.4f}",
    ]
    if "prediction_agreement" in evaluation:
        lines.append(f"- same prediction in both: {evaluation['prediction_agreement']:.4f} of the samples")
    lines += [
        f"- identical spike trains (every population, step for step): {evaluation['identical_spike_trains']:.4f} of the samples; spikes twin {evaluation['spikes_twin']}, Brian2 {evaluation['spikes_brian']}",
        f"- largest readout difference twin vs Brian2: {evaluation['max_readout_difference']:.3g}",
        f"- Brian2: compile {evaluation['seconds']['brian_compile']:.1f} s, {evaluation['seconds']['brian']:.1f} s for the test set in all; twin {evaluation['seconds']['twin']:.1f} s",
        "",
    ]
    lines += [f"![{Path(f).stem}]({Path(f).name})" for f in figures]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps({"train": last, "evaluation": evaluation, "seconds": seconds}, indent=1))
    return path
