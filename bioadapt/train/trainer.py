"""Backpropagation through time over the twin: the training loop, checkpoints and resume.

`train(config, out)` builds the twin of the configured network, makes the
configured values trainable (`params.attach_rules`), and runs Adam with
gradient-norm clipping and a learning-rate schedule over the task's training
split, validating after every epoch. Everything the run needs to continue is in
``out/checkpoint.pt`` (model, optimizer and scheduler state, position in the
epoch, metrics so far), written atomically every ``checkpoint_every`` optimizer
steps and at the end of every epoch; a run started again on the same folder
continues from it and reaches the parameters it would have reached without the
interruption (batch order is a function of seed and epoch, the CPU arithmetic
is deterministic). Learned delays (a ``delay`` rule) train as continuous
positions with an annealed kernel width that is a function of the optimizer
step; validation and the parameter file use the positions rounded to whole
steps. At the end, ``out/params.json`` holds the trained values with
units (for Brian2), and ``metrics.csv``/``metrics.jsonl`` and
``learning_curve.png`` the learning curves.

Under ``torch.distributed`` (``bioadapt train --nproc N`` or ``torchrun``),
every process trains on its shard of each global batch and the gradients are
summed over the processes (`distributed`); rank 0 alone writes the checkpoint
and the result files, which hold nothing specific to a process, so a run
resumes with any number of processes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.utils import parametrize

from ..backends.torch import CudaGraphStep, Twin
from ..errors import BackendError, ConfigError
from .config import TrainConfig, make_surrogate
from .schedules import SCHEDULES
from .data import batches, make_dataset, to_inputs, twin_inputs
from .distributed import DEFAULT_TIMEOUT, World, all_gather, all_reduce_gradients, all_reduce_sum, check_same_parameters, shard, world_from_env
from .losses import predict, readout_loss, score
from .params import anneal_delays, atomic_write, attach_rules, clamp_, rounded_delays, save_params, trainable_values

__all__ = ["Trainer", "TrainResult", "train"]

CHECKPOINT = "checkpoint.pt"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class TrainResult:
    history: list
    steps: list
    params_path: Path | None
    finished: bool
    out: Path


class _Progress:
    """One status line on a terminal (a line per epoch otherwise)."""

    def __init__(self, enabled: bool, stream=sys.stderr):
        self.enabled = enabled
        self.stream = stream
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()

    def update(self, text: str):
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()

    def line(self, text: str):
        if self.enabled:
            self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
            self.stream.flush()


def _fingerprint(config: TrainConfig) -> str:
    """Identifies the training problem: config and network files, and the drawn network."""
    h = hashlib.sha256()
    for path in (config.source, config.network.source):
        h.update(Path(path).read_bytes() if Path(path).is_file() else path.encode())
    return h.hexdigest()[:16]


def _atomic_save(obj, path: Path):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, buffer.getvalue())


@dataclass(frozen=True)
class _Parts:
    """What `Trainer.setup` builds."""

    world: World
    progress: _Progress
    data: object
    spec: object
    dtype: torch.dtype
    twin: Twin
    device: torch.device
    groups: list
    optimizer: torch.optim.Optimizer
    scheduler: object
    steps_per_epoch: int
    total_steps: int
    fingerprint: str
    graph_batch: int


def _built(name: str, doc: str) -> property:
    """A read-only attribute of the trainer that `Trainer.setup` builds."""
    return property(lambda self: getattr(self.setup()._parts, name), doc=doc)


def _train_indices(config: TrainConfig, data):
    idx = data.subset("train")
    return idx[: config.train.max_samples] if config.train.max_samples else idx


class Trainer:
    """Training state of one run (see the module docstring): the dataset, the
    twin with its trainable values, the optimizer and schedule, the position.

    The constructor only stores its arguments; `setup` builds the parts (at
    their first use, or when called), so a trainer can be made, inspected
    and handed around without touching torch or the process's settings.

    Parameters
    ----------
    config : TrainConfig
        A training configuration (`load_train_config`).
    out : str or Path
        The run folder (checkpoints, history, ``params.json``).
    progress : bool
        A status line on the terminal.
    world : World, optional
        This process's rank among the training processes; by default the
        process group named by the environment (``torchrun``), joined with
        collectives that time out after ``timeout`` seconds, or a world of one.
    timeout : float
        Seconds a collective may wait for another rank.

    Examples
    --------
    >>> import tempfile
    >>> from bioadapt.train import Trainer, load_train_config
    >>> trainer = Trainer(load_train_config("bioadapt/demo/bsd.toml"), tempfile.mkdtemp())
    >>> trainer.steps_per_epoch, sorted(trainer.twin.params["hid"])[:2]  # built at this first use
    (33, ['a', 'b'])
    >>> result = trainer.fit(max_steps=1)  # one optimizer step; fit() again continues
    """

    def __init__(self, config: TrainConfig, out: str | Path, progress: bool = False, world: World | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.config = config
        self.out = Path(out)
        self.show_progress = progress
        self.timeout = timeout
        self._world = world
        self._parts = None  # what `setup` builds
        self.position = {"epoch": 0, "batch": 0, "step": 0}
        self.running = {"loss": 0.0, "correct": 0.0, "count": 0, "seconds": 0.0}
        self.history: list = []  # one row per epoch
        self.steps: list = []  # (step, loss) per optimizer step
        self._graph = None  # the CUDA graph of a full batch's step ([runtime] cuda_graph), made at the first one
        self._graph_out = {}  # its loss without regularization and readout trace (the graph's tensors)

    def setup(self) -> "Trainer":
        """Build what the run needs, once; the first use of any part below calls it.

        Joins the process group (``world``), makes the dataset, the twin on its
        device with the trainable values attached (``groups``), Adam and the
        schedule. ``[runtime] threads`` sets torch's CPU thread count, a setting
        of the whole process. Nothing is drawn from torch's random generators
        (batch order comes from ``(seed, epoch)``, noise from the network's
        counter-based generator), so none is seeded.
        """
        if self._parts is not None:
            return self
        c = self.config
        world = world_from_env(c.runtime.device, self.timeout) if self._world is None else self._world
        if c.runtime.threads:
            torch.set_num_threads(c.runtime.threads)
        data = make_dataset(c)
        spec = dataclasses.replace(c.network, n_steps=data.n_steps)
        dtype = _DTYPES[c.runtime.dtype]
        twin = Twin(spec, drive_vars=c.task.drive_vars, dtype=dtype, surrogate=make_surrogate(c.train.surrogate), synapses=c.runtime.synapses, execution=c.runtime.execution)
        try:
            cuda_rank = world.size > 1 and c.runtime.device == "cuda"
            device = torch.device(f"cuda:{torch.cuda.current_device()}" if cuda_rank else c.runtime.device)
            twin.to(device)
        except (RuntimeError, AssertionError) as exc:
            raise ConfigError(f"{c.source}: [runtime] key 'device': {c.runtime.device!r} is not usable here ({exc}).") from None
        groups = attach_rules(twin, c.train.params)
        optimizer = torch.optim.Adam([{"params": g["params"], "lr": c.train.lr * g["lr_scale"]} for g in groups], lr=c.train.lr)
        steps_per_epoch = len(batches(_train_indices(c, data), c.train.batch_size, None))
        total_steps = c.train.epochs * steps_per_epoch
        anneal_delays(twin, c.train.params, 0, total_steps)
        self._parts = _Parts(
            world=world, progress=_Progress(self.show_progress and world.is_main), data=data, spec=spec, dtype=dtype, twin=twin, device=device,
            groups=groups, optimizer=optimizer, scheduler=SCHEDULES[c.train.schedule](optimizer, c, steps_per_epoch),
            steps_per_epoch=steps_per_epoch, total_steps=total_steps, fingerprint=_fingerprint(c),
            graph_batch=len(shard(range(c.train.batch_size), world)),  # this rank's share of a full batch
        )
        return self

    world = _built("world", "This process's `World` (rank and size among the training processes).")
    progress = _built("progress", "The status line.")
    data = _built("data", "The task's dataset.")
    spec = _built("spec", "The network on the task's time grid.")
    dtype = _built("dtype", "The twin's torch dtype (``[runtime] dtype``).")
    twin = _built("twin", "The `Twin` with the trainable values attached.")
    device = _built("device", "The torch device the twin runs on.")
    groups = _built("groups", "The optimizer's parameter groups (`attach_rules`).")
    optimizer = _built("optimizer", "Adam over ``groups``.")
    scheduler = _built("scheduler", "The learning-rate schedule (``[train] schedule``), stepped per optimizer step.")
    steps_per_epoch = _built("steps_per_epoch", "Optimizer steps in one epoch.")
    total_steps = _built("total_steps", "Optimizer steps of the whole run.")
    fingerprint = _built("fingerprint", "Identifies the training problem in checkpoints.")

    def _train_indices(self):
        return _train_indices(self.config, self.data)

    # -------------------------------------------------------------- checkpoints
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT

    def save_checkpoint(self):
        if not self.world.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_save({
            "format": "bioadapt-checkpoint/1",
            "fingerprint": self.fingerprint,
            "model": self.twin.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "position": dict(self.position),
            "running": dict(self.running),
            "history": list(self.history),
            "steps": list(self.steps),
        }, self.checkpoint_path())

    def load_checkpoint(self) -> bool:
        path = self.checkpoint_path()
        if not path.is_file():
            return False
        try:
            ckpt = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as exc:
            raise ConfigError(f"{path}: cannot be read as a bioadapt checkpoint ({exc}); remove it to start afresh.") from None
        if not isinstance(ckpt, dict) or ckpt.get("format") != "bioadapt-checkpoint/1":
            raise ConfigError(f"{path}: not a bioadapt checkpoint.")
        if ckpt["fingerprint"] != self.fingerprint:
            raise ConfigError(f"{path}: written for another configuration or network (files changed since); use a new --out folder or remove the checkpoint.")
        self.twin.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.position, self.running = dict(ckpt["position"]), dict(ckpt["running"])
        self.history, self.steps = list(ckpt["history"]), list(ckpt["steps"])
        return True

    # ----------------------------------------------------------------- training
    def batch_loss(self, idx, grad: bool = True):
        """Loss (with regularization), loss, readout trace, target and spikes of one batch."""
        inputs, drive, target = to_inputs(self.config, self.data, idx, self.dtype, self.device)
        with torch.set_grad_enabled(grad):
            total, loss, y, spikes = self._losses(inputs, drive, target)
        return total, loss, y, target, spikes

    def _losses(self, inputs, drive, target):
        c = self.config
        with parametrize.cached():
            out = self.twin(inputs=inputs, drive=drive, record={c.readout.population: [c.readout.variable]})
            y = out.traces[c.readout.population][c.readout.variable]
            loss = readout_loss(c.readout.loss, y, target, c.readout.ignore_first)
            total = loss
            for pop, rate, strength in c.train.rate_regularization:
                per_step = out.spikes[pop].mean(dim=0)  # (batch, neurons) spikes per step
                total = total + strength * ((per_step - rate * self.spec.dt) ** 2).mean()
        return total, loss, y, out.spikes

    def _train_step(self, idx) -> tuple:
        """Forward and backward pass of one batch: ``(total, loss, readout, target)``,
        gradients in the parameters. With ``[runtime] cuda_graph``, a full batch
        replays the CUDA graph of the step (captured at the first full batch);
        a smaller last batch of an epoch runs eagerly. Both give the same numbers."""
        c = self.config
        if not c.runtime.cuda_graph or len(idx) != self.setup()._parts.graph_batch:
            total, loss, y, target, _ = self.batch_loss(idx)
            self._check_finite(total)
            total.backward()
            return total, loss, y, target
        inputs, drive, target = to_inputs(c, self.data, idx, self.dtype, self.device)
        x = next(iter(inputs.values())) if inputs else next(iter(next(iter(drive.values())).values()))
        if self._graph is None:

            def loss_fn(x, target):
                total, loss, y, _ = self._losses(*twin_inputs(c, x), target)
                self._graph_out.update(loss=loss.detach(), y=y.detach())
                return total

            try:
                self._graph = CudaGraphStep(loss_fn, [p for g in self.groups for p in g["params"]], x, target)
            except BackendError as exc:
                raise ConfigError(f"{c.source}: [runtime] key 'cuda_graph': {exc}; set cuda_graph = false to train eagerly.") from None
        total = self._graph(x, target)
        self._check_finite(total)
        return total, self._graph_out["loss"], self._graph_out["y"], target

    def _check_finite(self, total):
        if not torch.isfinite(total):
            c = self.config
            raise ConfigError(f"{c.source}: the loss became {float(total.detach())} at step {self.position['step']} (epoch {self.position['epoch'] + 1}); lower [train] lr, or bound the parameters in [train.params].")

    def evaluate_split(self, split: str) -> dict:
        """Loss and accuracy (or NMSE) of the training twin on a split, and mean firing rates (Hz);
        learned delays act as their rounded whole steps (as in Brian2). Under
        several processes each evaluates its share of the chunks and the
        readouts are gathered: the same numbers as one process."""
        idx = self.data.subset(split)
        if len(idx) == 0:
            return {}
        chunks = batches(idx, self.config.runtime.eval_batch_size, None)
        mine = [chunks[k] for k in shard(range(len(chunks)), self.world)]
        parts = []  # per chunk: readout, target, spikes per population
        for chunk in mine:
            with self.twin.hard_delays():
                _, _, y, target, s = self.batch_loss(chunk, grad=False)
            parts.append((y.detach().to(torch.float64).cpu(), target.cpu(), {pop: float(v.sum()) for pop, v in s.items()}))
        if self.world.size > 1:
            parts = [part for rank in all_gather(parts) for part in rank]
        spikes = {}
        for _, _, s in parts:
            for pop, count in s.items():
                spikes[pop] = spikes.get(pop, 0.0) + count
        y = torch.cat([p[0] for p in parts], dim=1)
        target = torch.cat([p[1] for p in parts], dim=1 if self.data.kind == "regression" else 0)
        result = score(self.config.readout.loss, y, target, self.config.readout.ignore_first)
        for pop, total in spikes.items():
            size = self.spec.populations[pop].size
            result[f"rate_{pop}_hz"] = total / (len(idx) * size * self.data.n_steps * self.spec.dt)
        return result

    def fit(self, max_steps: int | None = None, resume: bool = True) -> TrainResult:
        """Train to the configured number of epochs (or stop after ``max_steps`` optimizer steps)."""
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        if resume and self.load_checkpoint():
            self.progress.line(f"resuming {self.out} at epoch {self.position['epoch'] + 1}, step {self.position['step']}")
        params = [p for g in self.groups for p in g["params"]]
        if self.world.size > 1:
            check_same_parameters(params)
        done_now = 0
        while self.position["epoch"] < c.train.epochs:
            epoch = self.position["epoch"]
            plan = batches(self._train_indices(), c.train.batch_size, c.seed, epoch)
            while self.position["batch"] < len(plan):
                if max_steps is not None and done_now >= max_steps:
                    self.save_checkpoint()
                    return TrainResult(self.history, self.steps, None, False, self.out)
                batch = plan[self.position["batch"]]
                idx = shard(batch, self.world)  # the whole batch in a world of one
                start = time.perf_counter()
                self.optimizer.zero_grad(set_to_none=True)
                anneal_delays(self.twin, c.train.params, self.position["step"], self.total_steps)
                if len(idx):
                    total, loss, y, target = self._train_step(idx)
                    loss = loss.detach()
                else:  # a last batch smaller than the number of processes: nothing for this one
                    loss = torch.zeros((), dtype=torch.float64)
                if self.world.size > 1:  # the global batch's mean loss: shard means weighted by shard sizes
                    all_reduce_gradients(params, len(idx) / len(batch))
                    correct = float((predict(c.readout.loss, y.detach(), c.readout.ignore_first) == target).sum()) if self.data.kind == "classification" and len(idx) else 0.0
                    loss_sum, correct, _ = all_reduce_sum([float(loss) * len(idx), correct, 0.0], self.device)
                    loss = torch.tensor(loss_sum / len(batch), dtype=torch.float64)
                if c.train.clip_grad_norm:
                    torch.nn.utils.clip_grad_norm_(params, c.train.clip_grad_norm)
                self.optimizer.step()
                clamp_(self.twin, c.train.params)
                self.scheduler.step()
                self.position["batch"] += 1
                self.position["step"] += 1
                done_now += 1
                self.running["loss"] += float(loss) * len(batch)
                self.running["count"] += len(batch)
                if self.data.kind == "classification":
                    self.running["correct"] += correct if self.world.size > 1 else float((predict(c.readout.loss, y.detach(), c.readout.ignore_first) == target).sum())
                self.running["seconds"] += time.perf_counter() - start
                self.steps.append((self.position["step"], float(loss)))
                self.progress.update(f"epoch {epoch + 1}/{c.train.epochs}  batch {self.position['batch']}/{len(plan)}  loss {float(loss):.4f}")
                if self.position["step"] % c.runtime.checkpoint_every == 0:
                    self.save_checkpoint()
            self._end_epoch(epoch)
        params_path = self.finish() if self.world.is_main else None
        return TrainResult(self.history, self.steps, params_path, True, self.out)

    def _end_epoch(self, epoch: int):
        row = {"epoch": epoch + 1, "step": self.position["step"], "lr": self.optimizer.param_groups[0]["lr"], "train_loss": self.running["loss"] / max(1, self.running["count"]), "seconds": self.running["seconds"]}
        if self.data.kind == "classification":
            row["train_accuracy"] = self.running["correct"] / max(1, self.running["count"])
        for key, value in self.evaluate_split("valid").items():
            row[f"valid_{key}"] = value
        self.history.append(row)
        self.position = {"epoch": epoch + 1, "batch": 0, "step": self.position["step"]}
        self.running = {"loss": 0.0, "correct": 0.0, "count": 0, "seconds": 0.0}
        self.save_checkpoint()
        if self.world.is_main:
            self.write_metrics()
        acc = f"  train acc {row['train_accuracy']:.3f}" if "train_accuracy" in row else ""
        valid = f"  valid acc {row['valid_accuracy']:.3f}" if "valid_accuracy" in row else (f"  valid nmse {row['valid_nmse']:.4f}" if "valid_nmse" in row else "")
        self.progress.line(f"epoch {epoch + 1}/{self.config.train.epochs}  loss {row['train_loss']:.4f}{acc}{valid}  ({row['seconds']:.1f} s)")

    def write_metrics(self):
        keys = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write(self.out / "metrics.csv", text.getvalue())
        atomic_write(self.out / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in self.history))
        atomic_write(self.out / "steps.csv", "step,loss\n" + "".join(f"{s},{v!r}\n" for s, v in self.steps))

    def finish(self) -> Path:
        """Write the trained values (params.json) and the learning curve figure."""
        self.write_metrics()
        meta = {"config": self.config.source, "epochs": self.config.train.epochs, "steps": self.position["step"], "history": self.history}
        if len(self.twin.relaxed_delays):  # the continuous positions, for reference (Brian2 gets delay_steps)
            meta["delay_positions"] = {name: m.position.detach().to("cpu", torch.float64).tolist() for name, m in self.twin.relaxed_delays.items()}
        path = save_params(self.out / "params.json", rounded_delays(self.spec, self.twin), trainable_values(self.twin), meta=meta)
        from .report import plot_learning_curve

        plot_learning_curve(self.history, self.steps, self.out / "learning_curve.png")
        return path


def train(config: TrainConfig, out: str | Path, resume: bool = True, max_steps: int | None = None, progress: bool = False) -> TrainResult:
    """Train ``config`` into the folder ``out``.

    Parameters
    ----------
    config : TrainConfig
        A training configuration (`load_train_config`).
    out : str or Path
        The run folder: the checkpoint (written atomically), the history and,
        once the run is finished, the trained values (``params.json``).
    resume : bool
        Continue from the checkpoint in ``out`` when there is one (a killed
        run resumes where it stopped).
    max_steps : int, optional
        Stop after this many optimizer steps in all (the run is then not
        finished; train again to continue it).
    progress : bool
        A status line on the terminal.

    Returns
    -------
    TrainResult
        ``history`` (a row per epoch), ``steps`` (``(step, loss)`` per optimizer
        step), ``params_path`` (None until finished), ``finished``, ``out``.

    Examples
    --------
    >>> import tempfile
    >>> from bioadapt.train import load_train_config, train
    >>> config = load_train_config("bioadapt/demo/bsd.toml")
    >>> result = train(config, tempfile.mkdtemp(), max_steps=2)
    >>> [step for step, loss in result.steps], result.finished
    ([1, 2], False)
    """
    return Trainer(config, out, progress=progress).fit(max_steps=max_steps, resume=resume)


def train_file(config: str | Path, out: str | Path, epochs: int | None = None, max_steps: int | None = None, resume: bool = True, progress: bool = False, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Train a configuration file into ``out`` in this process (one rank of the
    process group the environment names, if any); a summary of the run."""
    from .config import load_train_config

    cfg = load_train_config(config)
    if epochs:
        cfg = cfg.with_(epochs=epochs)
    trainer = Trainer(cfg, out, progress=progress, timeout=timeout)
    result = trainer.fit(max_steps=max_steps, resume=resume)
    if trainer.world.size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return {"finished": result.finished, "last": result.history[-1] if result.history else None, "step": trainer.position["step"],
            "params": str(result.params_path) if result.params_path else None, "checkpoint": str(trainer.checkpoint_path()), "world": trainer.world.size, "rank": trainer.world.rank}


def train_parallel(config: str | Path, out: str | Path, nproc: int, threads: int | None = None, on_start=None, **kwargs) -> dict:
    """`train_file` in ``nproc`` local processes (gloo on CPU, NCCL on CUDA); rank 0's summary.

    A failing or killed process stops the run with one error saying which and
    where it resumes from (`distributed.launch`)."""
    from .config import load_train_config
    from .distributed import launch

    device = load_train_config(config).runtime.device
    start_method = "spawn" if device.startswith("cuda") or sys.platform != "linux" else "fork"
    return launch(train_file, {"config": str(config), "out": str(out), **kwargs}, nproc, Path(out) / CHECKPOINT, threads=threads, on_start=on_start, start_method=start_method)
