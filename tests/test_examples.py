"""The example scripts run and print what they promise."""

import runpy
import sys

import pytest


def _run(script, argv, capsys):
    old = sys.argv
    sys.argv = [script] + argv
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = old
    return capsys.readouterr().out


def test_adlif_discretizations_example(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = _run("examples/adlif_discretizations.py", ["--out-dir", str(tmp_path)], capsys)
    assert "|lambda| = 1.01128" in out and "|lambda| = 0.97206" in out
    assert "symplectic_euler   unstable grid points: 0 of" in out
    orders = {line.split()[0]: float(line.split()[-1]) for line in out.splitlines() if "empirical order" in line}
    assert abs(orders["euler"] - 1) < 0.15 and abs(orders["rk4"] - 4) < 0.15 and abs(orders["rk2"] - 2) < 0.15
    for name in ("adlif_error_vs_dt.png", "adlif_stability.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_mtc_iv_example(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = _run("examples/mtc_iv.py", ["--out-dir", str(tmp_path)], capsys)
    assert "equilibrium V* = -2.000000 at I_app = -2" in out and "fast      negative slope: [-0.8814, 0.8814]" in out
    regimes = {line.split("->")[0].split()[0]: line.split("->")[1].split()[0] for line in out.splitlines() if "->" in line}
    assert regimes == {"quiescent": "quiescent", "bursting": "bursting", "tonic": "tonic", "phasic": "phasic"}
    for name in ("mtc_iv.png", "mtc_iv_phasic.png", "mtc_regimes.png"):
        assert (tmp_path / name).stat().st_size > 20_000


def test_stc_moving_shapes_example_smoke(tmp_path, capsys):
    """The pipeline of the STC example at a tiny scale (training, baselines, tables, figure; no Brian2)."""
    pytest.importorskip("matplotlib")
    import json

    out = _run("examples/stc_moving_shapes.py", ["--smoke", "--out", str(tmp_path)], capsys)
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    stc, stc_k, lif, lif_v = rows
    assert [r["model"] for r in rows] == ["stc", "stc_k", "lif", "lif_v"]
    assert stc["trained_parameters"] == lif["trained_parameters"] < stc_k["trained_parameters"] == lif_v["trained_parameters"]  # pairs with the same synapses
    assert stc["copy_last_frame_mse"] == lif["copy_last_frame_mse"] > 0  # the same test clips
    assert "| stc | 25 |" in out and (tmp_path / "results.md").is_file()
    assert (tmp_path / "frames.png").stat().st_size > 5_000


def test_delays_adaptation_example(tmp_path, capsys):
    """Tiny scale (no Brian2 run): four variants trained, table and figure written, delays learned and rounded."""
    pytest.importorskip("matplotlib")
    import json

    out = _run("examples/delays_adaptation.py", ["--out", str(tmp_path), "--samples", "48", "--epochs", "1", "--hidden", "6", "--seeds", "1", "--brian-samples", "0"], capsys)
    for name in ("LIF", "adaptation", "delays", "both"):
        assert f"{name:10s} seed 0: test accuracy" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["variant"] for r in results["rows"]] == ["LIF", "adaptation", "delays", "both"]
    both = results["rows"][3]
    assert 0 <= both["mean_delay_input"] <= 25 and both["moved_input"] > 0  # positions moved off the initial whole steps
    assert "| both |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "delays_adaptation.png").stat().st_size > 10_000


def test_se_adlif_example_smoke(tmp_path, capsys):
    """Tiny scale: the four variants differ only in scheme and q, each is trained and scored."""
    pytest.importorskip("matplotlib")
    import json

    _run("examples/se_adlif.py", ["--out", str(tmp_path), "--samples", "60", "--epochs", "1", "--seeds", "1", "--tasks", "bsd"], capsys)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["variant"], r["scheme"], r["q"]) for r in rows] == [("SE-adLIF", "symplectic_euler", 120), ("EF-adLIF", "exponential_euler", 60), ("EF-adLIF q=120", "exponential_euler", 120), ("LIF", "symplectic_euler", 0)]
    assert all(0 <= r["test_metric"] <= 1 for r in rows)
    assert "| LIF | symplectic_euler | 0 |" in (tmp_path / "results.md").read_text() and (tmp_path / "variants.png").stat().st_size > 10_000


def test_se_adlif_variant_changes_only_scheme_and_adaptation_scale():
    import dataclasses
    import runpy

    import numpy as np

    from bioadapt.demo import CONFIG
    from bioadapt.train import load_train_config

    variant = runpy.run_path("examples/se_adlif.py")["variant"]
    base = load_train_config(CONFIG)
    ef = variant(base, "exponential_euler", 60)
    pop, ref = ef.network.populations["hid"], base.network.populations["hid"]
    assert pop.scheme == "exponential_euler" and np.array_equal(pop.values["a"], ref.values["a"] * 60 / 120) and np.array_equal(pop.values["tau_u"], ref.values["tau_u"])
    assert {(r.var, r.scale) for r in ef.params if r.owner == "hid" and r.var in ("a", "b")} == {("a", 60.0), ("b", 60.0)}
    lif = variant(base, "symplectic_euler", 0)
    assert not lif.network.populations["hid"].values["a"].any() and not any(r.owner == "hid" and r.var in ("a", "b") for r in lif.params)
    assert dataclasses.replace(lif, network=base.network, params=base.params) == base


def test_mackey_glass_example_smoke(tmp_path, capsys):
    """Two models, two seeds, one epoch through the sweep (one Dask worker); a second run skips the finished points."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("dask.distributed")
    import json

    argv = ["--out", str(tmp_path), "--epochs", "1", "--seeds", "2", "--models", "adlif,mtc", "--workers", "1"]
    out = _run("examples/mackey_glass_models.py", argv, capsys)
    assert "[variants.mtc_h1]" in (tmp_path / "sweep.toml").read_text()
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["model"], r["seed"], r["status"]) for r in rows] == [("adlif", 0, "done"), ("adlif", 1, "done"), ("mtc", 0, "done"), ("mtc", 1, "done")]
    assert rows[0]["persistence_nrmse"] == rows[2]["persistence_nrmse"] > 0 and rows[0]["epochs"] == 1  # the same seed, the same series
    assert 0 < rows[2]["events_per_neuron_step"] <= rows[2]["active_fraction"] <= 1  # MTC: upstrokes are rarer than graded activity
    assert "| mtc | 1 | 2 |" in out and "- mtc_h1 - adlif_h1 (test_nrmse, 2 and 2 runs)" in out and "failed" not in out
    assert (tmp_path / "predictions.png").stat().st_size > 10_000
    result = tmp_path / "runs" / "mtc_h1_seed=1" / "result.json"
    before = result.stat().st_mtime_ns
    assert _run("examples/mackey_glass_models.py", argv, capsys) == out and result.stat().st_mtime_ns == before


@pytest.mark.slow
def test_nir_frameworks_example_smoke(tmp_path, capsys):
    """Every row of the NIR comparison at a tiny scale: no spike differs (snnTorch and Norse in float64)."""
    pytest.importorskip("nir")
    pytest.importorskip("snntorch")
    import json

    out = _run("examples/nir_frameworks.py", ["--steps", "40", "--seeds", "1", "--out", str(tmp_path)], capsys)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = [v for k, v in results.items() if isinstance(v, dict) and "differing" in v]
    assert rows and all(r["differing"] == 0 for r in rows)
    assert all(v["identical"] for k, v in results.items() if k.startswith("round trip"))
    assert "| lif, t_ref = 0 | CubaLIF, exact |" in out


def test_dt_convergence_example_smoke(tmp_path, capsys):
    """Tiny scale (no reference, no Brian2): the demo network trained briefly,
    run at dt = 1, 0.5 and 0.25 ms with both timings; the readout error
    against the finest run shrinks with dt, the tables and the figure are written."""
    pytest.importorskip("matplotlib")
    import json

    _run("examples/dt_convergence.py", ["--out", str(tmp_path), "--samples", "60", "--epochs", "1", "--dts", "1,0.5,0.25", "--test-samples", "8",
                                        "--spike-samples", "8", "--reference-samples", "0", "--brian-dt", "0"], capsys)
    results = json.loads((tmp_path / "results.json").read_text())
    for timing in ("trained", "declared"):
        rows = results["timings"][timing]["rows"]
        assert [r["dt_ms"] for r in rows] == [1, 0.5, 0.25] and all(0 <= r["accuracy"] <= 1 for r in rows)
        assert rows[0]["readout_rms_vs_finest"] > rows[1]["readout_rms_vs_finest"] > rows[2]["readout_rms_vs_finest"] == 0
        assert rows[0]["same_prediction_as_1ms"] == 1 and rows[2]["matched_vs_finest"] == 1
    assert '## timing = "trained"' in (tmp_path / "results.md").read_text() and (tmp_path / "convergence.png").stat().st_size > 10_000


def test_stdp_example_smoke(tmp_path, capsys):
    """Brian2's STDP example as a network file: cpp_standalone in chunks, the twin against it."""
    pytest.importorskip("matplotlib")
    out = _run("examples/stdp_song2000.py", ["--duration", "0.6", "--twin-duration", "0.3", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")], capsys)
    assert "| twin against cpp_standalone over 0.3 s | identical spikes" in out and "largest difference of the sampled weights 0 |" in out
    assert (tmp_path / "out" / "stdp.png").stat().st_size > 20_000
