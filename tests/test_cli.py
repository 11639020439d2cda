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
    (tmp_path / "folder.npz").mkdir()  # (a folder without .npz is a long run's output)
    assert main(["simulate", EXAMPLE, "--backend", backend, "--out", str(tmp_path / "folder.npz")]) == 2
    assert "is a folder; give a file name for the .npz file" in capsys.readouterr().err


def test_simulate_records_synaptic_variables(tmp_path):
    """--record PROJECTION.VAR: one column per synapse, in the spec's synapse order, alike in both backends."""
    from bioadapt import load_network

    weights = load_network(EXAMPLE).projections[1].weight
    for backend in ("numpy", "torch"):
        out = tmp_path / f"{backend}.npz"
        assert main(["simulate", EXAMPLE, "--backend", backend, "--out", str(out), "--record", "recurrent.weight"]) == 0
        recorded = np.load(out)["recurrent.weight"]
        assert recorded.shape == (5000, len(weights)) and np.array_equal(recorded[-1], weights) and np.array_equal(recorded[0], weights)


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
        (["compare", "examples/lif_compare.toml", "--dt", "0.1mV"], "--dt 0.1mV: expected a time such as '0.1*ms' or '0.1ms', got '0.1mV'"),
        (["compare", "examples/lif_compare.toml", "--population", "inp"], "compare: 'inp' is not a neuron population"),
        (["compare", "examples/lif_compare.toml", "--schemes", ","], "compare: no scheme given"),
        (["compare", "examples/lif_compare.toml", "--window", "nan"], "compare: the spike matching window must be a positive time"),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1



TRAINED = """
dt = "1*ms"
duration = "20*ms"
seed = 4
[populations.inp]
kind = "spikes"
size = 6
[populations.hid]
model = "adlif"
size = 12
[populations.out]
model = "li"
size = 3
[[projections]]
name = "input"
source = "inp"
target = "hid"
on_pre = "I_post += weight"
weight = "uniform(0, 8)"
[[projections]]
name = "recurrent"
source = "hid"
target = "hid"
on_pre = "I_post += weight"
weight = "uniform(-1, 1)"
delay = "uniform(0*ms, 2*ms)"
[[projections]]
name = "readout"
source = "hid"
target = "out"
on_pre = "I_post += weight"
weight = "uniform(-1, 1)"
"""


def test_simulate_a_trained_network_at_another_dt_duration_and_input(tmp_path):
    """--params, --duration, --dt and --input give what the Python calls give
    (apply_params, with_duration, at_dt, simulate(inputs=...)), bit for bit."""
    from bioadapt import at_dt, load_network, simulate
    from bioadapt.network.retime import with_duration
    from bioadapt.train.params import apply_params, load_params, save_params

    (tmp_path / "net.toml").write_text(TRAINED)
    spec = load_network(tmp_path / "net.toml")
    rng = np.random.default_rng(0)
    trained = {"hid": {"tau_u": rng.uniform(5e-3, 25e-3, 12)}, "recurrent": {"weight": rng.normal(0, 1, spec.projections[1].size)}}
    save_params(tmp_path / "params.json", spec, trained)
    np.savez(tmp_path / "spikes.npz", i=np.array([0, 3, 5, 0]), t=np.array([1e-3, 2.5e-3, 7e-3, 31e-3]))
    out = tmp_path / "run.npz"
    argv = ["simulate", str(tmp_path / "net.toml"), "--params", str(tmp_path / "params.json"), "--duration", "40ms", "--dt", "0.25ms",
            "--input", f"inp={tmp_path / 'spikes.npz'}", "--backend", "torch", "--record", "hid.u", "--record", "out.y", "--out", str(out)]
    assert main(argv) == 0
    expected = at_dt(with_duration(apply_params(spec, load_params(tmp_path / "params.json")), "40ms"), "0.25ms")
    assert expected.n_steps == 160
    result = simulate(expected, backend="torch", record={"hid": ["u"], "out": ["y"]}, inputs={"inp": str(tmp_path / "spikes.npz")})
    data = np.load(out)
    assert np.array_equal(data["inp.step"], [4, 10, 28, 124]) and data["hid.u"].shape == (160, 12)
    assert result.spike_count("hid") > 0
    for key, value in [("hid.u", result.traces["hid"]["u"]), ("out.y", result.traces["out"]["y"]), ("hid.i", result.spikes["hid"][0]), ("hid.step", result.spikes["hid"][1])]:
        assert np.array_equal(data[key], value), key
    untrained = simulate(at_dt(with_duration(spec, "40ms"), "0.25ms"), backend="torch", record={"hid": ["u"]}, inputs={"inp": str(tmp_path / "spikes.npz")})
    assert not np.array_equal(data["hid.u"], untrained.traces["hid"]["u"])  # the trained values were used


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "input population(s) 'inp' (kind 'spikes') have no spikes: give them with --input POP=poisson:RATE or --input POP=FILE.npz"),
        (["--input", "inp"], "--input inp: expected POP=poisson:RATE (e.g. inp=poisson:20Hz) or POP=FILE.npz"),
        (["--input", "hid=poisson:5Hz"], "inputs: 'hid' is not an input population"),
        (["--input", "inp=poisson:5Hz", "--dt", "0.1mV"], "at_dt: dt: expected a time such as '0.1*ms' or '0.1ms', got '0.1mV'"),
        (["--input", "inp=poisson:5Hz", "--duration", "0.2ms"], "duration: 0.2 ms is shorter than half a step (dt = 1 ms)"),
        (["--input", "inp=poisson:5Hz", "--params", "nothing.json"], "Parameter file 'nothing.json' does not exist"),
        (["--input", "inp=poisson:5Hz", "--neurons", "hid=a", "--out", "dir"], "--neurons hid=a: expected POP=0,3,5 or POP=0:8"),
    ],
)
def test_simulate_trained_errors_are_one_line(tmp_path, capsys, extra, message):
    (tmp_path / "net.toml").write_text(TRAINED)
    assert main(["simulate", str(tmp_path / "net.toml"), "--backend", "torch"] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
