"""`bioadapt sweep` on a real 2-worker dask.distributed LocalCluster: a point whose worker is
SIGKILLed mid-training resumes from its checkpoint, a failing point is reported without stopping
the others, a rerun skips what is done; and the sweep file's errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from bioadapt.errors import ConfigError  # noqa: E402
from bioadapt.sweep import load_sweep, run_sweep  # noqa: E402
from bioadapt.train import load_train_config  # noqa: E402
from bioadapt.train.trainer import Trainer  # noqa: E402
from train_problem import write_problem  # noqa: E402

SWEEP = """
base = "p/train.toml"
steps = ["train", "test"]

[grid]
seed = [4]

[variants.long]                # killed after its first checkpoint
"train.epochs" = 8
"runtime.checkpoint_every" = 1
[variants.wrong]               # the task gives 7 channels, the network has 6: fails on its worker
"task.channels" = 7
"train.epochs" = 1
"""


def test_sweep_on_two_workers_resumes_a_killed_point_and_reports_a_failed_one(tmp_path):
    write_problem(tmp_path / "p")
    (tmp_path / "sweep.toml").write_text(SWEEP)
    out = tmp_path / "out"
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bioadapt.cli", "sweep", str(tmp_path / "sweep.toml"), "--out", str(out), "--workers", "2"],
                                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
        long = out / "long"
        pid, deadline = None, time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            if (long / "checkpoint.pt").is_file() and (long / ".running").is_file():
                pid = int((long / ".running").read_text().split()[1])
                break
            time.sleep(0.01)
        assert pid is not None, "the point finished before its worker could be killed"
        os.kill(pid, signal.SIGKILL)  # the worker process running the point; Dask restarts it and runs the point again
        assert proc.wait(timeout=600) == 1  # one point failed
    text = (tmp_path / "log.txt").read_text()
    assert "1 of 2 points done, 1 failed" in text
    assert "failed: wrong:" in text and "[task] gives 7 input channels, population 'inp' of the network has size 6" in text
    row = json.loads((long / "result.json").read_text())
    assert row["status"] == "done" and row["resumed_at_step"] > 0 and row["steps"] == 40
    # resuming reproduces the uninterrupted run exactly (CPU arithmetic is deterministic)
    reference = Trainer(load_train_config(long / "train.toml"), tmp_path / "reference")
    reference.fit()
    assert json.loads((long / "params.json").read_text())["groups"] == json.loads((tmp_path / "reference" / "params.json").read_text())["groups"]
    assert row["test_accuracy"] == reference.evaluate_split("test")["accuracy"]
    summary = (out / "summary.md").read_text()
    assert "| long | 1 | 0 |" in summary and "| wrong | 0 | 1 |" in summary and "input channels" in summary
    assert (out / "summary.png").is_file() and (out / "results.csv").read_text().count("\n") == 3
    # a rerun skips the done point (no cluster is started for it) and leaves its folder alone
    (tmp_path / "sweep.toml").write_text(SWEEP.split("[variants.wrong]")[0])
    stamp = (long / "result.json").stat().st_mtime_ns
    again = run_sweep(load_sweep(tmp_path / "sweep.toml"), out, progress=False)
    assert [r["status"] for r in again.rows] == ["done"] and (long / "result.json").stat().st_mtime_ns == stamp
    # a sweep that adds columns (extra) does not take that row as done: the point runs again (from its finished checkpoint)
    more = run_sweep(load_sweep(tmp_path / "sweep.toml"), out, progress=False, workers=1, extra=_steps_seen)
    assert more.rows[0]["status"] == "done" and more.rows[0]["checkpoint_step"] == 40 and (long / "result.json").stat().st_mtime_ns != stamp


def _steps_seen(trainer, folder):
    return {"checkpoint_step": trainer.position["step"]}


@pytest.mark.parametrize("text, message", [
    ('base = "p/train.toml"\nbogus = 1', r"sweep.toml: unknown key\(s\) \['bogus'\]"),
    ('base = "nowhere.toml"', r"sweep.toml: key 'base': file 'nowhere.toml' not found"),
    ('base = "p/train.toml"\n[grid]\n"train.lr" = 0.1', r"sweep.toml: \[grid\] key 'train.lr' must be a non-empty list of values"),
    ('base = "p/train.toml"\nsteps = ["test"]', r"sweep.toml: key 'steps' must be a list starting with \"train\""),
    ('base = "p/train.toml"\nsteps = ["train", "robustness"]', r"sweep.toml: \[robustness\] key 'targets'"),
    ('base = "p/train.toml"\n[variants.a]\nunset = ["train.nothing"]', r"sweep.toml: point 'a': 'unset' key 'train.nothing' is not in the base files"),
    ('base = "p/train.toml"\n[grid]\n"train.lrr" = [0.1]', r"sweep.toml: point 'point': .*train.toml: \[train\]: unknown key\(s\) \['lrr'\]"),
    ('base = "p/train.toml"\n[grid]\n"network.projections.nope.weight" = [1]', r"sweep.toml: point 'point': key 'network.projections.nope.weight': no entry named 'nope'"),
    ('[variants.a]\nbase = "p/train.toml"\n[variants.b]\n"train.lr" = 0.1', r"sweep.toml: key 'base' .* is required unless every \[variants.NAME\] names its own"),
    ('[variants.a]\nbase = "p/other.toml"', r"sweep.toml: \[variants.a\] key 'base': file 'p/other.toml' not found"),
    ('[variants.a]\nbase = 3', r"sweep.toml: \[variants.a\] key 'base' must be the path of a training file"),
])
def test_sweep_file_errors_name_file_and_key(tmp_path, text, message):
    write_problem(tmp_path / "p")
    (tmp_path / "sweep.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        run_sweep(load_sweep(tmp_path / "sweep.toml"), tmp_path / "out", progress=False)


def test_points_are_named_by_their_values_and_get_their_files(tmp_path):
    write_problem(tmp_path / "p")
    (tmp_path / "sweep.toml").write_text('base = "p/train.toml"\n[grid]\nseed = [0, 1]\n"network.populations.hid.scheme" = ["symplectic_euler", "exponential_euler"]\n'
                                          '[variants.lif]\n"network.populations.hid.values.a" = 0\nunset = ["train.params.hid.a"]\n')
    sweep = load_sweep(tmp_path / "sweep.toml")
    assert [p.name for p in sweep.points] == ["lif_seed=0_scheme=symplectic_euler", "lif_seed=0_scheme=exponential_euler", "lif_seed=1_scheme=symplectic_euler", "lif_seed=1_scheme=exponential_euler"]
    from bioadapt.sweep.run import prepare_point

    config = load_train_config(prepare_point(sweep, sweep.points[1], tmp_path / "out"))
    assert config.seed == 0 and config.network.populations["hid"].scheme == "exponential_euler"
    assert (config.network.populations["hid"].values["a"] == 0).all()
    assert ("hid", "a") not in {(r.owner, r.var) for r in config.train.params} and ("hid", "b") in {(r.owner, r.var) for r in config.train.params}


def test_a_point_keeps_its_files_when_the_sweep_file_is_named_otherwise(tmp_path, monkeypatch):
    """The files' bytes are in the checkpoint's fingerprint: naming the sweep file by another path must not rewrite them."""
    from bioadapt.sweep.run import prepare_point

    write_problem(tmp_path / "p")
    (tmp_path / "sweep.toml").write_text('base = "p/train.toml"\n[grid]\nseed = [0, 1]\n')
    monkeypatch.chdir(tmp_path)
    relative = load_sweep("sweep.toml")
    path = prepare_point(relative, relative.points[0], tmp_path / "out")
    before = path.read_bytes(), (path.parent / "network.toml").read_bytes()
    absolute = load_sweep(tmp_path / "sweep.toml")
    assert absolute.source != relative.source
    prepare_point(absolute, absolute.points[0], tmp_path / "out")
    assert (path.read_bytes(), (path.parent / "network.toml").read_bytes()) == before


def test_variants_may_start_from_training_files_of_their_own(tmp_path):
    """A variant's `base` replaces the sweep's: its files, with the grid's values on top."""
    from bioadapt.sweep.run import prepare_point

    write_problem(tmp_path / "p")
    other = tmp_path / "q"
    other.mkdir()
    (other / "net.toml").write_text((tmp_path / "p" / "net.toml").read_text().replace("seed = 2", "seed = 9"))
    (other / "train.toml").write_text((tmp_path / "p" / "train.toml").read_text())
    (tmp_path / "sweep.toml").write_text('[grid]\nseed = [0, 1]\n[variants.first]\nbase = "p/train.toml"\n[variants.second]\nbase = "q/train.toml"\n"train.lr" = 0.5\n')
    sweep = load_sweep(tmp_path / "sweep.toml")
    assert sweep.base is None and [p.name for p in sweep.points] == ["first_seed=0", "first_seed=1", "second_seed=0", "second_seed=1"]
    first = load_train_config(prepare_point(sweep, sweep.points[1], tmp_path / "out"))
    second = load_train_config(prepare_point(sweep, sweep.points[2], tmp_path / "out"))
    assert (first.seed, first.network.seed) == (1, 2) and (second.seed, second.network.seed) == (0, 9)
    assert second.train.lr == 0.5 and first.train.lr != 0.5
