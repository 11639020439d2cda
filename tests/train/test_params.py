"""Parametrizations, clamping, and the parameter file that carries trained values to Brian2."""

import json

import numpy as np
import pytest
import torch

from bioadapt import ConfigError
from bioadapt.train import apply_params, load_params, load_train_config, save_params
from bioadapt.train.params import clamp_, trainable_values
from bioadapt.train.trainer import Trainer


def test_parametrized_values_are_the_brian2_values(problem, tmp_path):
    trainer = Trainer(load_train_config(problem), tmp_path / "run")
    twin, spec = trainer.twin, trainer.spec
    hid = twin.params["hid"]
    # before training the twin holds the network's drawn values (SI), through the raw parameters
    assert torch.allclose(hid["tau_u"], torch.as_tensor(spec.populations["hid"].values["tau_u"]), rtol=1e-12, atol=0)
    r = hid.parametrizations.tau_u.original
    assert torch.all((r >= 0) & (r <= 1))
    assert torch.allclose(hid["tau_u"], r * 0.025 + (1 - r) * 0.005, rtol=1e-14, atol=0)
    a_raw = hid.parametrizations.a.original
    assert torch.allclose(hid["a"], 120 * a_raw, rtol=1e-14, atol=0)
    # only the configured values are trainable
    trainable = {name for name, p in twin.named_parameters() if p.requires_grad}
    assert trainable == {"params.hid.parametrizations.tau_u.original", "params.hid.parametrizations.tau_w.original", "params.hid.parametrizations.a.original", "params.hid.parametrizations.b.original", "params.input.weight", "params.recurrent.weight", "params.readout.weight"}
    # clamping after a step keeps every raw value in its range
    with torch.no_grad():
        r.add_(5.0)
        a_raw.sub_(3.0)
    clamp_(twin, trainer.config.train.params)
    assert torch.all(r == 1) and torch.all(a_raw == 0)
    assert torch.allclose(hid["tau_u"], torch.full_like(r, 0.025), rtol=1e-15, atol=0)


def test_parameter_file_round_trip_is_bitwise(problem, tmp_path):
    trainer = Trainer(load_train_config(problem), tmp_path / "run")
    with torch.no_grad():
        trainer.twin.params["recurrent"]["weight"].mul_(1 / 3)  # values with long decimal expansions
    values = trainable_values(trainer.twin)
    path = save_params(tmp_path / "p.json", trainer.spec, values)
    doc = json.loads(path.read_text())
    assert doc["groups"]["hid"]["tau_u"]["unit"] == "second" and doc["groups"]["hid"]["a"]["unit"] == "1"
    assert doc["groups"]["recurrent"]["delay_steps"]["unit"] == "steps"
    loaded = load_params(path)
    spec = apply_params(trainer.spec, loaded)
    for owner, table in values.items():
        for var, value in table.items():
            got = spec.populations[owner].values[var] if owner in spec.populations else getattr(next(p for p in spec.projections if p.name == owner), var)
            assert np.array_equal(got, value), (owner, var)
    rec = next(p for p in spec.projections if p.name == "recurrent")
    assert np.array_equal(rec.delay_steps, next(p for p in trainer.spec.projections if p.name == "recurrent").delay_steps)


def test_parameter_file_errors(problem, tmp_path):
    trainer = Trainer(load_train_config(problem), tmp_path / "run")
    path = save_params(tmp_path / "p.json", trainer.spec, trainable_values(trainer.twin))
    doc = json.loads(path.read_text())

    def broken(change):
        d = json.loads(json.dumps(doc))
        change(d)
        p = tmp_path / "broken.json"
        p.write_text(json.dumps(d))
        return load_params(p)

    with pytest.raises(ConfigError, match="'hid.tau_u' is in ms, the network's variable in second"):
        apply_params(trainer.spec, broken(lambda d: d["groups"]["hid"]["tau_u"].update(unit="ms")))
    with pytest.raises(ConfigError, match="'hid.tau_w' has 3 values, the network 10"):
        apply_params(trainer.spec, broken(lambda d: d["groups"]["hid"]["tau_w"].update(value=[0.1, 0.1, 0.1])))
    with pytest.raises(ConfigError, match="'hid.ghost' is not a variable of the network's population 'hid'"):
        apply_params(trainer.spec, broken(lambda d: d["groups"]["hid"].update(ghost={"unit": "1", "value": [0.0] * 10})))
    with pytest.raises(ConfigError, match="'ghost' is not a population or projection"):
        apply_params(trainer.spec, broken(lambda d: d["groups"].update(ghost={})))
    with pytest.raises(ConfigError, match="delay_steps' must be non-negative"):
        apply_params(trainer.spec, broken(lambda d: d["groups"]["recurrent"]["delay_steps"]["value"].__setitem__(0, -1)))
    with pytest.raises(ConfigError, match="trained with dt"):
        apply_params(trainer.spec, broken(lambda d: d["dt"].update(value=0.0005)))
    # caught when the file is read: values a hand edit (or a diverged run) may leave
    with pytest.raises(ConfigError, match="'recurrent.delay_steps': delays must be whole steps"):
        broken(lambda d: d["groups"]["recurrent"]["delay_steps"]["value"].__setitem__(0, 0.5))
    with pytest.raises(ConfigError, match="'hid.tau_u': contains NaN"):
        broken(lambda d: d["groups"]["hid"]["tau_u"]["value"].__setitem__(0, float("nan")))
    with pytest.raises(ConfigError, match="'hid.tau_u': the values must be numbers"):
        broken(lambda d: d["groups"]["hid"]["tau_u"].update(value="fast"))
    with pytest.raises(ConfigError, match="a parameter file needs the tables 'dt' and 'groups'"):
        broken(lambda d: d.pop("groups"))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a bioadapt parameter file"):
        load_params(tmp_path / "x.json")
