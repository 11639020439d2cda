"""The training loop: the loss falls, checkpoints are atomic, and a stopped run resumes exactly."""

import json

import numpy as np
import pytest
import torch

from bioadapt import ConfigError
from bioadapt.train import load_train_config
from bioadapt.train.trainer import Trainer, train

from train_problem import TRAIN, write_problem


def _params(trainer):
    return {k: v.detach().clone() for k, v in trainer.twin.state_dict().items()}


def test_loss_falls_on_a_fixed_batch(problem, tmp_path):
    trainer = Trainer(load_train_config(problem), tmp_path / "run")
    idx = trainer.data.subset("train")
    with torch.no_grad():
        before = float(trainer.batch_loss(idx, grad=False)[1])
    result = trainer.fit()
    with torch.no_grad():
        after = float(trainer.batch_loss(idx, grad=False)[1])
    assert result.finished and len(result.history) == 5
    assert after < 0.9 * before, (before, after)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    # every configured value moved, the others did not
    spec = trainer.spec
    assert not np.allclose(trainer.twin.params["hid"]["tau_u"].detach().numpy(), spec.populations["hid"].values["tau_u"])
    assert np.array_equal(trainer.twin.params["hid"]["theta"].detach().numpy(), spec.populations["hid"].values["theta"])
    out = tmp_path / "run"
    for name in ("params.json", "metrics.csv", "metrics.jsonl", "steps.csv", "checkpoint.pt", "learning_curve.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary file
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5] and "valid_accuracy" in rows[0]


@pytest.mark.parametrize("stop_after", [1, 5])
def test_a_stopped_run_resumes_to_the_same_parameters(problem, tmp_path, stop_after):
    """Stop after `stop_after` steps (mid-epoch, not on a checkpoint boundary for 5), start again: bitwise the same run."""
    config = load_train_config(problem)
    full = Trainer(config, tmp_path / "full")
    full.fit()
    first = Trainer(config, tmp_path / "parts")
    partial = first.fit(max_steps=stop_after)
    assert not partial.finished and first.position["step"] == stop_after
    second = Trainer(config, tmp_path / "parts")
    second.fit()
    a, b = _params(full), _params(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    def timeless(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert timeless(full.history) == timeless(second.history)
    assert (tmp_path / "full" / "params.json").read_text().split('"meta"')[0] == (tmp_path / "parts" / "params.json").read_text().split('"meta"')[0]


def test_resume_refuses_another_configuration(problem, tmp_path):
    config = load_train_config(problem)
    train(config, tmp_path / "run", max_steps=1)
    problem.write_text(problem.read_text().replace("lr = 0.1", "lr = 0.2"))
    with pytest.raises(ConfigError, match="checkpoint.pt: written for another configuration"):
        train(load_train_config(problem), tmp_path / "run")
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot be read as a bioadapt checkpoint"):
        train(load_train_config(problem), tmp_path / "run")


def test_a_diverging_loss_is_reported_not_propagated(problem, tmp_path):
    config = load_train_config(problem)
    trainer = Trainer(config, tmp_path / "run")
    with torch.no_grad():
        trainer.twin.params["readout"]["weight"].fill_(float("nan"))
    with pytest.raises(ConfigError, match="the loss became nan at step 0"):
        trainer.fit()


def test_rate_regularization_adds_the_squared_rate_error(problem, tmp_path):
    text = problem.read_text().replace("clip_grad_norm = 1.5", 'clip_grad_norm = 1.5\nrate_regularization = { population = "hid", target = "20*Hz", strength = 3.0 }')
    problem.write_text(text)
    trainer = Trainer(load_train_config(problem), tmp_path / "run")
    idx = trainer.data.subset("train")[:8]
    total, loss, _, _, spikes = trainer.batch_loss(idx, grad=False)
    per_step = spikes["hid"].mean(dim=0)  # (batch, neurons)
    expected = 3.0 * float(((per_step - 20 * 1e-3) ** 2).mean())
    assert expected > 0
    assert float(total - loss) == pytest.approx(expected, rel=1e-12)


@pytest.mark.slow  # two compilations of the training step (about 30 s); tests/backends/torch/test_compiled.py checks the compiled execution in the default run
def test_compiled_training_follows_exact_training(tmp_path):
    """[train] execution = "compiled" (float64): the same optimizer steps as the
    exact execution, up to rounding (torch's exp, fused arithmetic)."""
    trainers = {}
    for execution in ("exact", "compiled"):
        text = TRAIN.format(dtype="float64", synapses="dense").replace("threads = 1", f'threads = 1\nexecution = "{execution}"')
        path = write_problem(tmp_path / f"problem_{execution}", train_text=text)
        trainer = trainers[execution] = Trainer(load_train_config(path), tmp_path / f"run_{execution}")
        assert trainer.twin.execution == execution
        before = _params(trainer)
        trainer.fit(max_steps=6)
        assert any(not torch.equal(before[k], v) for k, v in _params(trainer).items())
    exact, compiled = trainers["exact"], trainers["compiled"]
    assert [step for step, _ in compiled.steps] == [step for step, _ in exact.steps] and len(exact.steps) == 6
    for (_, a), (_, b) in zip(exact.steps, compiled.steps):
        assert abs(a - b) <= 1e-9 * abs(a), (a, b)
    a, b = exact.twin.state_dict(), compiled.twin.state_dict()
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-9, atol=1e-12) for k in a)
