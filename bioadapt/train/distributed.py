"""Data-parallel training over processes with ``torch.distributed``.

Every process (rank) holds the whole twin and takes a fixed, contiguous shard
of every global batch (`shard`): the global batches are the ones a single
process draws, in the same order. Each rank backpropagates the mean loss of
its shard; the gradients, scaled by ``shard size / global batch size``, are
summed over the ranks by one all-reduce per optimizer step
(`all_reduce_gradients`), so every rank steps with the gradient of the global
batch's mean loss: the single process's gradient up to the rounding of a sum
taken in another order. Metrics are summed over ranks (training loss and
accuracy weighted by shard sizes) or gathered (validation readouts, scored
once over the whole split).

A process group comes from the environment (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``, as ``torchrun`` sets them) or from `launch`,
which starts ``nproc`` local processes (``bioadapt train --nproc N``). The
backend is gloo on CPU and NCCL on CUDA; collectives time out after
``timeout`` seconds, so a rank whose peer died raises instead of waiting for
ever.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import torch

from .. import errors
from ..errors import BackendError, ConfigError

__all__ = ["World", "world_from_env", "shard", "all_reduce_gradients", "launch", "DEFAULT_TIMEOUT"]

#: seconds a collective waits for the other ranks before it raises
DEFAULT_TIMEOUT = 300.0
#: seconds the launcher gives the other ranks to stop by themselves once one has failed
GRACE = 10.0
_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class World:
    """Rank of this process and number of processes (1: no process group)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_from_env(device: str = "cpu", timeout: float = DEFAULT_TIMEOUT) -> World:
    """The process group named by the environment (joined on first use), or a world of one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    missing = [key for key in _ENV if not os.environ.get(key)]
    if missing:
        raise ConfigError(f"WORLD_SIZE={size} but {', '.join(missing)} not set; start the processes with torchrun or `bioadapt train --nproc N`.")
    cuda = str(device).startswith("cuda")
    if cuda:  # one GPU per local rank
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=timeout))
    return World(dist.get_rank(), dist.get_world_size())


def shard(items, world: World) -> np.ndarray:
    """This rank's contiguous part of ``items`` (sizes differ by at most one; rank order = item order)."""
    return np.array_split(np.asarray(items), world.size)[world.rank]


def all_reduce_gradients(params: list, weight: float) -> None:
    """Replace each gradient by the sum over ranks of ``weight * gradient`` (one all-reduce of one flat buffer).

    A parameter without a gradient on this rank (an empty shard) counts as zero.
    """
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    flat.mul_(weight)
    dist.all_reduce(flat)
    offset = 0
    for g in grads:  # copy back in place: the tensors may belong to a CUDA graph
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_sum(values: list, device) -> list:
    """Sums over ranks of a few float64 numbers."""
    import torch.distributed as dist

    buffer = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(buffer)
    return buffer.tolist()


def all_gather(obj) -> list:
    """Every rank's ``obj``, in rank order."""
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def check_same_parameters(params: list) -> None:
    """Raise if the ranks do not hold bitwise the same parameters."""
    h = hashlib.sha256()
    for p in params:
        h.update(p.detach().to("cpu").contiguous().numpy().tobytes())
    digests = all_gather(h.hexdigest())
    if len(set(digests)) > 1:
        raise BackendError(f"The ranks start from different parameters ({len(set(digests))} different sets); every process must load the same configuration and network files.")


# ------------------------------------------------------------------ launcher
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, size: int, port: int, threads: int, conn, target, kwargs):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), LOCAL_WORLD_SIZE=str(size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    try:
        conn.send(("ok", target(**kwargs)))
    except errors.BioadaptError as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        raise SystemExit(2)
    except BaseException as exc:  # noqa: BLE001 - reported by the launcher
        message = str(exc).strip().splitlines()
        conn.send(("error", type(exc).__name__, f"{type(exc).__name__}: {message[-1] if message else ''}"))
        raise SystemExit(1)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def launch(target, kwargs: dict, nproc: int, checkpoint: Path, threads: int | None = None, grace: float = GRACE, on_start=None, start_method: str | None = None):
    """Run ``target(**kwargs)`` in ``nproc`` local processes forming one gloo/NCCL group; rank 0's return value.

    When a rank fails (an error, or killed), the others get ``grace`` seconds
    to stop by themselves (their next collective fails) and are then
    terminated; one `BackendError` (or the rank's own bioadapt error) says
    which rank failed how, and where the run can resume from. ``on_start``
    receives the ranks' process ids.
    """
    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc!r}.")
    # fork (Linux, CPU): the ranks start with the parent's imports, in a fraction of a second;
    # spawn elsewhere and for CUDA, which cannot be used after a fork
    if start_method is None:
        start_method = "fork" if sys.platform == "linux" and not torch.cuda.is_initialized() else "spawn"
    ctx = multiprocessing.get_context(start_method)
    port = _free_port()
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    procs, pipes = [], []
    for rank in range(nproc):
        receive, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_rank_main, args=(rank, nproc, port, threads, send, target, kwargs), name=f"bioadapt-rank{rank}")
        p.start()
        send.close()
        procs.append(p)
        pipes.append(receive)
    if on_start:
        on_start([p.pid for p in procs])
    messages = {}
    failed = None  # (rank, time) of the first failure
    try:
        pending = set(range(nproc))
        deadline = None
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([procs[r].sentinel for r in pending] + [pipes[r] for r in pending if r not in messages], timeout=timeout)
            if not ready:  # the others did not stop within the grace period
                break
            for r in list(pending):
                if r not in messages and pipes[r] in ready:
                    try:
                        messages[r] = pipes[r].recv()
                    except (EOFError, OSError):
                        messages[r] = None
                if procs[r].sentinel in ready:
                    procs[r].join()
                    pending.discard(r)
                    if procs[r].exitcode != 0 and failed is None:
                        failed = r
                        deadline = time.monotonic() + grace
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
    if failed is None:
        return messages[0][1]
    # the cause: a rank killed by a signal, else the first rank that failed
    cause = next((r for r in range(nproc) if procs[r].exitcode is not None and procs[r].exitcode < 0 and procs[r].exitcode != -signal.SIGTERM), failed)
    message = messages.get(cause)
    if message and message[0] == "error" and message[1] in errors.__all__:
        raise getattr(errors, message[1])(message[2])
    what = f"rank {cause} of {nproc} (pid {procs[cause].pid}) {_exit_text(procs[cause].exitcode)}"
    if message and message[0] == "error":
        what = f"rank {cause} of {nproc} failed: {message[2]}"
    raise BackendError(f"{what}; the run stopped. {resume_hint(checkpoint)}")


def resume_hint(checkpoint: Path) -> str:
    """Where a stopped run continues from."""
    if not Path(checkpoint).is_file():
        return f"No checkpoint was written yet ({checkpoint}); running the command again starts afresh."
    try:
        step = torch.load(checkpoint, map_location="cpu", weights_only=False)["position"]["step"]
    except Exception:  # noqa: BLE001 - only a hint
        return f"Running the command again continues from {checkpoint}."
    return f"Running the command again (with any --nproc) continues from {checkpoint} (step {step})."
