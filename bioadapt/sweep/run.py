"""Running a sweep's points as tasks on ``dask.distributed``.

Each point gets a run folder ``OUT/NAME`` holding its own ``train.toml`` and
``network.toml`` (the base files with the point's values), the trainer's
checkpoint and results, and ``result.json`` once its steps are done. A point
runs as one task (`run_point`) on a Dask worker: a process of its own, since
Brian2 and torch keep global state. `run_sweep` skips points whose
``result.json`` says done for the same files, submits the others (an
interrupted one continues from its checkpoint), reports a failed point with
its error without stopping the rest, and gathers every point's row into the
tables and figure of `summary`. Without a scheduler address it starts a
``LocalCluster`` of one single-threaded worker process per core; with one, the
points go to that cluster, whose workers must see ``OUT`` (a shared
filesystem).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .._files import dump_toml, read_toml
from ..errors import BioadaptError, ConfigError
from ..network.params import atomic_write
from .config import SweepConfig

__all__ = ["run_sweep", "run_point", "prepare_point", "SweepResult"]

RESULT = "result.json"
RUNNING = ".running"


@dataclass
class SweepResult:
    rows: list  # one per point: values, status, error, metrics
    files: list  # tables and figure written
    seconds: float

    @property
    def failed(self) -> list:
        return [r for r in self.rows if r["status"] != "done"]


# ------------------------------------------------------------------ point files
def _node(root, parts, key: str, where: str, create: bool):
    node = root
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                if not create:
                    return None
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and all(isinstance(x, dict) for x in node):
            match = [x for x in node if x.get("name") == part]
            if not match:
                raise ConfigError(f"{where}: key '{key}': no entry named '{part}' ({', '.join(str(x.get('name')) for x in node)}).")
            node = match[0]
        else:
            raise ConfigError(f"{where}: key '{key}': '{part}' is inside a value, not a table.")
    return node


def _apply(files: dict, key: str, value, where: str, remove: bool = False):
    parts = key.split(".")
    root, parts = (files["network"], parts[1:]) if parts[0] == "network" else (files["train"], parts)
    parent = _node(root, parts[:-1], key, where, create=not remove)
    if remove:
        if not isinstance(parent, dict) or parts[-1] not in parent:
            raise ConfigError(f"{where}: 'unset' key '{key}' is not in the base files.")
        del parent[parts[-1]]
    elif isinstance(parent, dict):
        parent[parts[-1]] = copy.deepcopy(value)
    else:
        raise ConfigError(f"{where}: key '{key}': '{parts[-2] if len(parts) > 1 else key}' is not a table.")


def _absolute_models(network: dict, folder: Path):
    """Model files named by a relative path, made absolute (the point's network file lives elsewhere)."""
    for pop in network.get("populations", {}).values():
        model = pop.get("model") if isinstance(pop, dict) else None
        if isinstance(model, str) and (model.endswith(".toml") or "/" in model) and not Path(model).is_absolute():
            pop["model"] = str((folder / model).resolve())


def prepare_point(sweep: SweepConfig, point, out: Path) -> Path:
    """Write the point's ``train.toml`` and ``network.toml`` into its folder (unchanged files are left as they are)."""
    base = point.base or sweep.base
    train = read_toml(base, "Training file")
    if not isinstance(train.get("network"), str):
        raise ConfigError(f"{base}: key 'network' must be the path of a network file.")
    network_path = (base.parent / train["network"]).resolve()
    files = {"train": train, "network": read_toml(network_path, "Network file")}
    _absolute_models(files["network"], network_path.parent)
    where = f"{sweep.source}: point '{point.name}'"
    for key, value in point.settings.items():
        _apply(files, key, value, where)
    for key in point.unset:
        _apply(files, key, None, where, remove=True)
    files["train"]["network"] = "network.toml"
    folder = out / point.name
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("network.toml", files["network"]), ("train.toml", files["train"])):
        path = folder / name
        # a file with the same values is left as it is (its bytes are in the checkpoint's fingerprint)
        if not path.is_file() or read_toml(path, "Point file") != data:
            atomic_write(path, f"# sweep {Path(sweep.source).name}, point {point.name}\n" + dump_toml(data))
    return folder / "train.toml"


def files_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("train.toml", "network.toml"):
        h.update((Path(folder) / name).read_bytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ one point
def _name(extra) -> str | None:
    """What made a row's extra columns (a point done without them is not done for a sweep that adds them)."""
    return None if extra is None else f"{getattr(extra, '__module__', '?')}.{getattr(extra, '__qualname__', type(extra).__name__)}"


def run_point(folder: str, steps: tuple, values: dict, options: dict, extra=None) -> dict:
    """Train (continuing a checkpoint) and run the point's other steps; its row, also written to ``result.json``.

    Runs in a worker process. Any error ends the point (status ``failed``,
    with the message) without raising, so that the sweep goes on.
    """
    import torch

    folder = Path(folder)
    start = time.perf_counter()
    (folder / RUNNING).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    row = {"status": "failed", "error": None}
    try:
        from ..train import evaluate, load_train_config
        from ..train.trainer import Trainer

        config = load_train_config(folder / "train.toml")
        torch.set_num_threads(config.runtime.threads or 1)
        trainer = Trainer(config, folder)
        resumed = trainer.load_checkpoint()
        row["resumed_at_step"] = trainer.position["step"] if resumed else None
        result = trainer.fit(resume=False)
        last = result.history[-1]
        row.update(steps=last["step"], train_seconds=sum(r["seconds"] for r in result.history))
        row.update({k: v for k, v in last.items() if k.startswith(("train_", "valid_"))})
        if "test" in steps:
            row.update({f"test_{k}": v for k, v in trainer.evaluate_split("test").items()})
        if "evaluate" in steps:
            opts = options.get("evaluate", {})
            ev = evaluate(config, result.params_path, backend=opts.get("backend", "cpp_standalone"), split=opts.get("split", "test"), max_samples=opts.get("samples"), out=folder)
            metric = "accuracy" if "accuracy" in ev["twin"] else "nmse"
            row.update({f"brian_{metric}": ev["brian"][metric], f"twin_{metric}": ev["twin"][metric], "identical_spike_trains": ev["identical_spike_trains"], "brian_samples": ev["samples"]})
            if "prediction_agreement" in ev:
                row["prediction_agreement"] = ev["prediction_agreement"]
        if "robustness" in steps:
            from ..train.robustness import robustness

            opts = options.get("robustness", {})
            rows = robustness(config, result.params_path, targets=list(opts["targets"].items()), relative=tuple(opts.get("relative", (0.0, 0.1))),
                              input_flip=tuple(opts.get("input_flip", (0.0,))), split=opts.get("split", "test"), max_samples=opts.get("samples"), seeds=tuple(opts.get("seeds", (0,))))
            metric = "accuracy" if "accuracy" in rows[0] else "nmse"
            for level in dict.fromkeys(r["relative"] for r in rows):
                for flip in dict.fromkeys(r["input_flip"] for r in rows):
                    sel = [r[metric] for r in rows if r["relative"] == level and r["input_flip"] == flip]
                    row[f"robust_{metric}_r{level}_flip{flip}"] = sum(sel) / len(sel)
        if extra is not None:
            row.update(extra(trainer=trainer, folder=folder))
        row["extra"] = _name(extra)
        row["status"] = "done"
    except BioadaptError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - the sweep reports it and goes on
        lines = str(exc).strip().splitlines()
        row["error"] = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
        (folder / "error.txt").write_text(traceback.format_exc())
    row["seconds"] = time.perf_counter() - start
    row["files"] = files_hash(folder)
    atomic_write(folder / RESULT, json.dumps({**row, "values": values}, indent=1, default=str))
    (folder / RUNNING).unlink(missing_ok=True)
    return row


# ------------------------------------------------------------------ the sweep
class _Progress:
    def __init__(self, total: int, skipped: int, enabled: bool, stream=None):
        stream = sys.stderr if stream is None else stream  # the current one (not the one at import)
        self.total, self.skipped, self.enabled, self.stream = total, skipped, enabled, stream
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last = None

    def status(self, done: int, running: int, failed: int):
        text = f"points: {done + self.skipped}/{self.total} done ({self.skipped} earlier), {running} running, {failed} failed, {self.total - done - self.skipped - running - failed} waiting"
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
        elif self.enabled and text != self.last:
            self.stream.write(text + "\n")
            self.stream.flush()
        self.last = text

    def line(self, text: str):
        if self.enabled:
            self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
            self.stream.flush()


def _client(scheduler: str | None, workers: int | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc}).") from None
    n = workers or os.cpu_count() or 1
    # processes, one thread each: Brian2 and torch keep global state per process
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
    return Client(cluster), cluster


def run_sweep(sweep: SweepConfig, out: str | Path, scheduler: str | None = None, workers: int | None = None, progress: bool = True, extra=None, client=None) -> SweepResult:
    """Run every point of ``sweep`` into ``out/NAME`` and write the summary tables and figure to ``out``.

    ``scheduler``: the address of a running Dask scheduler; otherwise a
    LocalCluster of ``workers`` processes (default: one per core), or the given
    ``client``. ``extra(trainer=, folder=)`` adds columns to a point's row
    (it runs on the workers). Points done earlier with the same files (and
    the same ``extra``) are skipped; a failed point gets status ``failed`` and its error.
    """
    from dask.distributed import TimeoutError as DaskTimeout
    from dask.distributed import wait

    from ..train import load_train_config
    from .summary import write_summary

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, todo = {}, []
    for point in sweep.points:  # files and their checks first: a bad value stops the sweep before any work
        path = prepare_point(sweep, point, out)
        try:
            load_train_config(path)
        except BioadaptError as exc:
            raise ConfigError(f"{sweep.source}: point '{point.name}': {exc}") from None
        previous = out / point.name / RESULT
        if previous.is_file():
            old = json.loads(previous.read_text())
            if old.get("status") == "done" and old.get("files") == files_hash(out / point.name) and old.get("extra") == _name(extra):
                rows[point.name] = {k: v for k, v in old.items() if k != "values"}
                continue
        todo.append(point)
    atomic_write(out / "sweep.json", json.dumps({"source": sweep.source, "base": str(sweep.base), "steps": sweep.steps, "points": [{"name": p.name, "variant": p.variant, "values": p.values, **({"base": str(p.base)} if p.base else {})} for p in sweep.points]}, indent=1, default=str))
    show = _Progress(len(sweep.points), len(rows), progress)
    own = None
    if todo:
        for point in todo:  # markers of an earlier, interrupted sweep
            (out / point.name / RUNNING).unlink(missing_ok=True)
        if client is None:
            client, own = _client(scheduler, workers)
            own = (client, own)
        options = {"evaluate": sweep.evaluate, "robustness": sweep.robustness}
        try:
            futures = {client.submit(run_point, str(out / p.name), sweep.steps, p.values, options, extra, key=f"bioadapt-point-{p.name}-{time.time_ns()}", pure=False): p for p in todo}
            pending, done, failed = set(futures), 0, 0
            while pending:
                try:
                    finished = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED").done
                except DaskTimeout:
                    finished = set()
                for future in finished:
                    point = futures[future]
                    pending.discard(future)
                    try:
                        row = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. its worker died too often (KilledWorker)
                        lines = str(exc).strip().splitlines()
                        row = {"status": "failed", "error": f"{type(exc).__name__}: {lines[-1] if lines else ''}"}
                    rows[point.name] = row
                    if row["status"] == "done":
                        done += 1
                        show.line(f"done    {point.name} ({row.get('seconds', 0):.0f} s)")
                    else:
                        failed += 1
                        show.line(f"FAILED  {point.name}: {row['error']}")
                running = sum(1 for f in pending if (out / futures[f].name / RUNNING).is_file())
                show.status(done, running, failed)
        finally:
            if own is not None:
                own[0].close()
                if own[1] is not None:
                    own[1].close()
    table = [{"point": p.name, "variant": p.variant, **p.values, **rows[p.name]} for p in sweep.points]
    files = write_summary(sweep, table, out)
    return SweepResult(table, files, time.perf_counter() - start)
