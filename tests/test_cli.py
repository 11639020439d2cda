"""The command line: simulate to .npz, list models, one clear error per mistake."""

import numpy as np
import pytest

from bioadapt.cli import main

EXAMPLE = "examples/adlif_network.toml"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_simulate_writes_npz(tmp_path, capsys, backend):
    out = tmp_path / "run.npz"
    assert main(["simulate", EXAMPLE, "--backend", backend, "--out", str(out), "--record", "hid.u", "--record", "w"]) == 0
    data = np.load(out)
    for pop in ("inp", "hid"):
        assert data[f"{pop}.i"].dtype == np.int64 and data[f"{pop}.step"].dtype == np.int64
    assert data["hid.u"].shape == (5000, 40) and data["hid.w"].shape == (5000, 40)
    assert len(data["hid.i"]) > 100
    assert "hid" in capsys.readouterr().out
    assert main(["simulate", EXAMPLE, "--backend", backend, "--out", str(tmp_path)]) == 2
    assert "is a folder; give a file name for the .npz file" in capsys.readouterr().err


def test_backends_write_identical_files(tmp_path):
    paths = {}
    for backend in ("numpy", "torch"):
        paths[backend] = tmp_path / f"{backend}.npz"
        assert main(["simulate", EXAMPLE, "--backend", backend, "--out", str(paths[backend]), "--record", "hid.u"]) == 0
    a, b = np.load(paths["numpy"]), np.load(paths["torch"])
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        assert np.array_equal(a[key], b[key]), key


def test_models_lists_and_shows(capsys):
    assert main(["models"]) == 0
    assert "adlif" in capsys.readouterr().out
    assert main(["models", "lif"]) == 0
    text = capsys.readouterr().out
    assert "tau_m" in text and "20*ms" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "missing.toml"], "Network file 'missing.toml' does not exist"),
        (["simulate", EXAMPLE, "--record", "hid.q"], "--record hid.q: 'q' is not a variable of model 'adlif'"),
        (["simulate", EXAMPLE, "--record", "inp.u"], "--record inp.u: 'inp' is not a neuron population"),
        (["simulate", "."], "Network file '.' is a folder, not a file"),
        (["simulate", EXAMPLE, "--math", "libm"], "math: not an option of backend 'numpy'"),
        (["simulate", EXAMPLE, "--backend", "torch", "--fast-math"], "fast_math: not an option of backend 'torch'"),
        (["simulate", EXAMPLE, "--backend", "torch", "--device", "tpu"], "device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'tpu'"),
        (["compare", "examples/lif_compare.toml", "--dt", "0ms"], "compare: time step 0 ms must be positive"),
        (["compare", "examples/lif_compare.toml", "--dt", "0.1mV"], "--dt 0.1mV: expected a time such as 0.5ms"),
        (["compare", "examples/lif_compare.toml", "--population", "inp"], "compare: 'inp' is not a neuron population"),
        (["compare", "examples/lif_compare.toml", "--schemes", ","], "compare: no scheme given"),
        (["compare", "examples/lif_compare.toml", "--window", "nan"], "compare: the spike matching window must be a positive time"),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

