"""Long runs in chunks (`bioadapt.long_run`): the spikes and samples of one plain run, bit for bit."""

import json
import warnings

import numpy as np
import pytest

from bioadapt import ConfigError, at_dt, network_from_dict, simulate
from bioadapt.cli import main
from bioadapt.long_run import load_long_run, long_run
from helpers import model_network

RECORD = {"hid": ["u", "w"], "out": ["y"]}
NEURONS = {"hid": [0, 3, 7, 29], "out": [1, 4]}


def _spec():
    """adlif with recurrent delays and a li readout at dt = 0.25 ms (charges and latencies of the transfer)."""
    net = model_network("adlif", steps=100, seed=7)
    net["populations"]["out"] = {"model": "li", "size": 5}
    net["projections"].append({"name": "readout", "source": "hid", "target": "out", "on_pre": "I_post += weight", "connect": "all_to_all", "weight": "normal(0, 1)", "delay": "uniform(0*ms, 2.4*ms)"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return at_dt(network_from_dict(net), "0.25ms")


def _same_as_plain(folder, plain):
    run = load_long_run(folder)
    for pop in plain.spikes:
        assert np.array_equal(run.spikes[pop][0], plain.spikes[pop][0]) and np.array_equal(run.spikes[pop][1], plain.spikes[pop][1]), pop
    for pop, variables in RECORD.items():
        for var in variables:
            expected = plain.traces[pop][var][3::4][:, NEURONS[pop]]  # the ends of steps 3, 7, ...: every 1 ms
            assert run.traces[pop][var].shape == expected.shape and np.array_equal(run.traces[pop][var], expected), (pop, var)
    return json.loads((folder / "run.json").read_text())


@pytest.mark.parametrize("backend, plain_backend, math", [
    ("torch", "torch", "numpy"),
    ("numpy", "numpy", "numpy"),
    pytest.param("cpp_standalone", "torch", "libm", marks=pytest.mark.brian_standalone),
])
def test_chunks_give_the_plain_run_bitwise(tmp_path, backend, plain_backend, math):
    """400 steps in chunks of 37 (not a divisor: the last chunk is shorter),
    recorded every 4 steps on chosen neurons: the spikes of every population
    and the samples equal those of one plain run (cpp_standalone: the twin
    with the C library's functions, as everywhere)."""
    spec = _spec()
    plain = simulate(spec, backend=plain_backend, record=RECORD, **({"math": math} if plain_backend == "torch" else {}))
    assert plain.spike_count("hid") > 20
    info = long_run(spec, tmp_path / "run", backend=backend, record=RECORD, neurons=NEURONS, record_every="1*ms", chunk=37 * spec.dt, progress=False, **({"math": math} if backend == "torch" else {}))
    info = _same_as_plain(tmp_path / "run", plain)
    assert info["n_steps"] == 400 and info["chunk_steps"] == 37 and info["record_every_steps"] == 4
    assert info["spikes"]["hid"] == plain.spike_count("hid") and info["real_time_factor"] > 0 and info["peak_memory_bytes"] > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"record_every": "0.3*ms"}, r"record_every: 0.3 ms must be a positive whole number of steps of dt = 0.25 ms"),
    ({"chunk": "1*mV"}, r"chunk: expected a time"),
    ({"backend": "cuda_standalone"}, r"long_run: backend must be one of numpy, cpp_standalone, torch, got \'cuda_standalone\'"),
    ({"record": {"inp": ["u"]}}, r"record: 'inp' is not a neuron population"),
    ({"record": {"hid": ["q"]}}, r"record: 'q' is not a variable of population 'hid'"),
    ({"record": {"hid": ["u"]}, "neurons": {"hid": [30]}}, r"neurons: population 'hid' needs distinct indices from 0 to 29"),
    ({"neurons": {"hid": [1]}}, r"neurons: population 'hid' has no recorded variables"),
])
def test_long_run_errors(tmp_path, kwargs, message):
    with pytest.raises(Exception, match=message):
        long_run(_spec(), tmp_path / "run", **{"backend": "torch", **kwargs})
    with pytest.raises(ConfigError, match="must be a folder"):
        long_run(_spec(), tmp_path / "run.npz", backend="torch")


def test_command_line_long_run(tmp_path, capsys):
    folder = tmp_path / "long"
    argv = ["simulate", "examples/adlif_network.toml", "--backend", "torch", "--dt", "0.5ms", "--duration", "30ms", "--out", str(folder),
            "--record", "hid.u", "--record-every", "2ms", "--chunk", "7ms", "--neurons", "hid=0:3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "real-time factor" in out and f"wrote {folder}/" in out
    run = load_long_run(folder)
    assert run.traces["hid"]["u"].shape == (15, 3) and run.n_steps == 60
    assert main(["simulate", "examples/adlif_network.toml", "--chunk", "2ms", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--chunk and --neurons are options of long runs: give --out a folder" in capsys.readouterr().err
    # a short run records at an interval too (Brian2's StateMonitor dt)
    assert main(["simulate", "examples/adlif_network.toml", "--duration", "30ms", "--record", "hid.u", "--record-every", "2ms", "--out", str(tmp_path / "x.npz")]) == 0
    saved = np.load(tmp_path / "x.npz")
    assert saved["hid.u"].shape == (15, 40) and int(saved["record_every"]) == 2
