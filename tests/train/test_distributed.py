"""Data-parallel training (torch.distributed, gloo on CPU): real processes, real collectives.

The reference is the single-process run of the same configuration: 2 processes
must train the same parameters up to the rounding of the gradient sum, gather
the same validation metrics, and a run whose rank is SIGKILLed must stop with
one error and resume (with another number of processes) from its checkpoint.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bioadapt.train import load_train_config
from bioadapt.train.distributed import launch
from bioadapt.train.trainer import Trainer, train_parallel

from train_problem import TRAIN, write_problem

#: optimizer steps compared (4 epochs of 5 batches)
STEPS = 20
EPS = np.finfo(np.float64).eps
#: Largest |difference| between the 1- and 2-process parameters, in units of
#: eps * max|parameter| of each tensor. Per step the two runs differ only in
#: the order of the gradient sums (each shard sums its samples, one all-reduce
#: adds the shards): a few ulps of each gradient. Adam turns a relative
#: gradient change d into an update change of about lr * d (lr = 0.1 here,
#: updates are at most ~lr), and a parameter update rounds once more, so each
#: step adds at most a few ulps of the parameter scale; no spike flips at
#: these perturbations (float64), so over STEPS steps the difference stays
#: below STEPS * 4 ulps. Measured here: 5.3 ulps at most (largest element-wise
#: relative difference 6.8e-14); with batch 8, 4.2 ulps (benchmarks/parallel.py).
ULPS_PER_STEP = 4


def _problem(tmp_path, batch_size=7, epochs=4, checkpoint_every=2):
    # batch 7 over 2 processes: shards of 4 and 3 samples (a wrong weighting of unequal shards shows)
    text = TRAIN.format(dtype="float64", synapses="dense").replace("batch_size = 8", f"batch_size = {batch_size}")
    text = text.replace("epochs = 5", f"epochs = {epochs}").replace("checkpoint_every = 2", f"checkpoint_every = {checkpoint_every}")
    return write_problem(tmp_path / "p", train_text=text)


def _parameters(run):
    model = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    return {k: v.numpy() for k, v in model.items() if v.is_floating_point()}


def _ulps(a: dict, b: dict) -> float:
    """Largest |a - b| of every tensor in units of eps * max|a|."""
    return max(float(np.max(np.abs(a[k] - b[k])) / (EPS * np.max(np.abs(a[k])))) for k in a if a[k].size and np.max(np.abs(a[k])) > 0)


@pytest.fixture(autouse=True)
def _no_world(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)


def _one_process(config, out):
    trainer = Trainer(load_train_config(config), out)
    trainer.fit()
    return trainer


def test_two_processes_train_the_parameters_of_one(tmp_path):
    config = _problem(tmp_path)
    one = _one_process(config, tmp_path / "one")
    assert one.position["step"] == STEPS
    summary = train_parallel(config, tmp_path / "two", 2)
    assert summary["world"] == 2 and summary["finished"] and summary["step"] == STEPS
    a, b = _parameters(tmp_path / "one"), _parameters(tmp_path / "two")
    assert a.keys() == b.keys()
    assert _ulps(a, b) <= STEPS * ULPS_PER_STEP
    # the training metrics are the global batch's (shard sums weighted by shard sizes), validation over the whole split
    two = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=False)["history"]
    for r1, r2 in zip(one.history, two):
        assert r1["train_accuracy"] == r2["train_accuracy"] and r1["valid_accuracy"] == r2["valid_accuracy"]
        assert abs(r1["train_loss"] - r2["train_loss"]) <= 1e3 * EPS * abs(r1["train_loss"])
        assert abs(r1["valid_loss"] - r2["valid_loss"]) <= 1e3 * EPS * abs(r1["valid_loss"])


def _validation(config, out):
    trainer = Trainer(load_train_config(config), out)  # the process group from the environment
    trainer.load_checkpoint()
    return trainer.world.size, trainer.evaluate_split("valid")


def test_validation_is_gathered_over_the_processes(tmp_path):
    """Each process evaluates its share of the validation chunks (2 + 1 chunks of 2 samples): the same numbers as one process."""
    text = TRAIN.format(dtype="float64", synapses="dense").replace("threads = 1", "threads = 1\neval_batch_size = 2")
    config = write_problem(tmp_path / "p", train_text=text)
    trainer = Trainer(load_train_config(config), tmp_path / "run")
    trainer.fit(max_steps=3)
    single = trainer.evaluate_split("valid")
    world, gathered = launch(_validation, {"config": str(config), "out": str(tmp_path / "run")}, 2, tmp_path / "run" / "checkpoint.pt", threads=1)
    assert world == 2 and gathered == single


def test_a_killed_rank_stops_the_run_with_one_error_and_it_resumes_with_one_process(tmp_path):
    config = _problem(tmp_path, batch_size=8, epochs=8, checkpoint_every=2)
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bioadapt.cli", "train", str(config), "--out", str(run), "--nproc", "2", "--timeout", "60"], stdout=subprocess.DEVNULL, stderr=err, env=env)
        pids, deadline = None, time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            found = re.search(r"pids (\d+) (\d+)", (tmp_path / "stderr.txt").read_text())
            if found and (run / "checkpoint.pt").is_file():
                pids = [int(found.group(1)), int(found.group(2))]
                break
            time.sleep(0.01)
        assert pids is not None and proc.poll() is None, "the run ended before a rank could be killed"
        os.kill(pids[1], signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=120)
        seconds = time.monotonic() - killed
    assert proc.returncode == 2
    assert seconds < 30  # the launcher sees the death at once; the other rank gets 10 s to stop by itself
    text = (tmp_path / "stderr.txt").read_text()
    errors = [line for line in text.splitlines() if line.startswith("bioadapt: error:")]
    assert len(errors) == 1 and "Traceback" not in text
    assert re.fullmatch(rf"bioadapt: error: rank 1 of 2 \(pid {pids[1]}\) was killed by SIGKILL; the run stopped\. Running the command again \(with any --nproc\) continues from .*checkpoint\.pt \(step \d+\)\.", errors[0]), errors[0]
    step = torch.load(run / "checkpoint.pt", weights_only=False)["position"]["step"]
    assert 0 < step < 40
    resumed = Trainer(load_train_config(config), run)
    assert resumed.world.size == 1
    resumed.fit()
    assert resumed.position["step"] == 40 and (run / "params.json").is_file()
    # the same parameters as one process all along (up to the rounding of the steps made by two)
    whole = _one_process(config, tmp_path / "whole")
    assert _ulps(_parameters(tmp_path / "whole"), _parameters(run)) <= 40 * ULPS_PER_STEP
    assert [r["valid_accuracy"] for r in whole.history] == [r["valid_accuracy"] for r in resumed.history]
