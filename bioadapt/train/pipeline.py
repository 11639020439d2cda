"""Train, evaluate in Brian2, and report: the whole loop in one call (`bioadapt demo`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .config import TrainConfig
from .evaluate import evaluate
from .params import load_params
from .report import plot_run, write_report
from .trainer import Trainer

__all__ = ["train_and_evaluate"]


def _initial_values(config: TrainConfig) -> dict:
    spec = config.network
    values = {name: dict(pop.values) for name, pop in spec.populations.items() if not pop.is_input}
    values.update({proj.name: {"weight": proj.weight} | ({} if proj.several_pathways else {"delay_steps": proj.delay_steps}) for proj in spec.projections})
    return values


def train_and_evaluate(config: TrainConfig, out: str | Path, backend: str = "cpp_standalone", epochs: int | None = None, samples: int | None = None, progress: bool = True) -> dict:
    """Train (resuming a checkpoint in ``out``), evaluate twin and Brian2 on the test split, write figures and ``report.md``."""
    out = Path(out)
    if epochs is not None:
        config = config.with_(epochs=epochs)
    if samples is not None:
        config = config.with_(options={**config.task.options, "samples": samples})
    start = time.perf_counter()
    trainer = Trainer(config, out, progress=progress)
    result = trainer.fit()
    seconds = {"train": time.perf_counter() - start}

    def tick(n, total):
        if progress and sys.stderr.isatty():
            sys.stderr.write(f"\r\033[KBrian2 {backend}: sample {n}/{total}")
            sys.stderr.flush()

    start = time.perf_counter()
    evaluation = evaluate(config, result.params_path, backend=backend, out=out, progress=tick)
    if progress and sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    seconds["evaluate"] = time.perf_counter() - start
    trained = {owner: {var: value for var, (_, value) in table.items()} for owner, table in load_params(result.params_path)["groups"].items()}
    figures = [out / "learning_curve.png"] + plot_run(out / f"evaluation_{backend}_sample0.npz", _initial_values(config), trained, out, config.readout.variable, config.train.params)
    report = write_report(out, result.history, evaluation, [f for f in figures if Path(f).is_file()], seconds)
    return {"history": result.history, "evaluation": evaluation, "report": report, "seconds": seconds, "params": result.params_path}
