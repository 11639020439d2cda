"""`bioadapt train` / `evaluate` from the command line, and a run killed mid-training that resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bioadapt.cli import main

from train_problem import write_problem


def test_train_then_evaluate(tmp_path, capsys):
    config = write_problem(tmp_path / "p")
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "trained 2 epochs (10 steps)" in out and (run / "params.json").is_file()
    assert main(["evaluate", str(config), "--params", str(run / "params.json"), "--backend", "numpy", "--max-samples", "3", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "identical spike trains 1.0000 of the samples" in out and "same prediction       1.0000" in out
    assert json.loads((run / "evaluation_numpy.json").read_text())["samples"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nowhere.toml", "--out", "x"], "Training file 'nowhere.toml' does not exist."),
        (["evaluate", "{config}", "--params", "missing.json"], "Parameter file 'missing.json' does not exist."),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, argv, message):
    config = write_problem(tmp_path / "p")
    argv = [a.replace("{config}", str(config)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bioadapt: error: {message}"]


def test_a_killed_run_resumes_to_the_parameters_of_an_uninterrupted_one(tmp_path):
    """SIGKILL a `bioadapt train` process after its first checkpoints, run it again: same params.json as a run never killed."""
    config = write_problem(tmp_path / "p")
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "bioadapt.cli", "train", str(config), "--quiet", "--out"]
    subprocess.run(cmd + [str(tmp_path / "whole")], check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (killed / "metrics.csv").is_file():  # first epoch done; later checkpoints may be mid-write
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "params.json").exists()
    subprocess.run(cmd + [str(killed)], check=True, env=env, capture_output=True)
    whole = json.loads((tmp_path / "whole" / "params.json").read_text())
    again = json.loads((killed / "params.json").read_text())
    assert whole["groups"] == again["groups"]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in whole["meta"]["history"]] == [{k: v for k, v in r.items() if k != "seconds"} for r in again["meta"]["history"]]


def test_evaluate_on_cuda_without_a_gpu_is_one_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi, no nvcc on PATH
    config = write_problem(tmp_path / "p")
    (tmp_path / "params.json").write_text("{}")
    assert main(["evaluate", str(config), "--params", str(tmp_path / "params.json"), "--backend", "cuda_standalone"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bioadapt: error: ") and ("GPU" in err[0] or "brian2cuda" in err[0] or "nvcc" in err[0] or "CUDA" in err[0])
