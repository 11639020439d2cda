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
    """The STC example at a tiny scale through the sweep (training, baselines, claims, tables, figures; no Brian2); run again, it trains nothing."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("dask.distributed")
    import json

    argv = ["--smoke", "--seeds", "2", "--workers", "2", "--out", str(tmp_path)]
    out = _run("examples/stc_moving_shapes.py", argv, capsys)
    assert (tmp_path / "configs" / "lif_v" / "train.toml").is_file() and 'base = "configs/stc_k/train.toml"' in (tmp_path / "sweep.toml").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["variant"], r["seed"]): r for r in results["rows"]}
    assert list(rows) == [(m, s) for m in ("stc", "stc_k", "lif", "lif_v") for s in (0, 1)] and all(r["status"] == "done" for r in rows.values())
    assert rows["lif", 1]["network.seed"] == 6 and json.loads((tmp_path / "runs" / rows["lif", 1]["point"] / "result.json").read_text())["values"] == {"seed": 1, "network.seed": 6}
    stc, stc_k, lif, lif_v = (rows[m, 0] for m in ("stc", "stc_k", "lif", "lif_v"))
    assert stc["trained_parameters"] == lif["trained_parameters"] < stc_k["trained_parameters"] == lif_v["trained_parameters"]  # pairs with the same synapses
    assert stc["copy_last_frame_mse"] == lif["copy_last_frame_mse"] > 0 and stc["copy_last_frame_mse"] != rows["stc", 1]["copy_last_frame_mse"]  # a seed's test clips
    assert [(c["a"], c["b"], c["pairs"]) for c in results["claims"]][:2] == [("stc", "lif", 2), ("stc_k", "stc", 2)]
    table = (tmp_path / "results.md").read_text()
    assert "| stc | 2 | 25 |" in out and table in out and "stc_k - lif_v (test_mse, 2 and 2 runs)" in table
    assert (tmp_path / "frames.png").stat().st_size > 5_000 and (tmp_path / "test_mse.png").is_file()
    point = tmp_path / "runs" / stc["point"] / "result.json"
    mtime = point.stat().st_mtime_ns
    _run("examples/stc_moving_shapes.py", argv, capsys)  # every point done: none is trained again
    assert point.stat().st_mtime_ns == mtime and (tmp_path / "results.md").read_text() == table


def test_delays_adaptation_example(tmp_path, capsys):
    """Tiny scale (no Brian2 run): four variants x two seeds trained as sweep points, table, claims and
    figure written, delays learned and rounded; a second run skips the points done."""
    pytest.importorskip("matplotlib")
    import json

    argv = ["--out", str(tmp_path), "--samples", "48", "--epochs", "1", "--hidden", "6", "--seeds", "2", "--brian-samples", "0", "--workers", "2"]
    out = _run("examples/delays_adaptation.py", argv, capsys)
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [(r["variant"], r["seed"], r["network.seed"], r["status"]) for r in rows] == [(v, s, 100 + s, "done") for v in ("LIF", "adaptation", "delays", "both") for s in (0, 1)]
    both = rows[6]
    assert both["point"] == "both_seed=0_network.seed=100" and (tmp_path / "configs" / "both" / "net.toml").is_file()
    assert 0 <= both["mean_delay_input"] <= 25 and both["moved_input"] > 0  # positions moved off the initial whole steps
    assert "mean_delay_input" not in rows[0] and 0 <= rows[0]["order_only_accuracy"] <= 1
    assert "| both | 2 |" in out and "- both better than adaptation, " in out and "paired by seed over 2" in out
    assert (tmp_path / "delays_adaptation.png").stat().st_size > 10_000
    stamp = (tmp_path / "runs" / both["point"] / "result.json").stat().st_mtime_ns
    assert "| both | 2 |" in _run("examples/delays_adaptation.py", argv, capsys)
    assert (tmp_path / "runs" / both["point"] / "result.json").stat().st_mtime_ns == stamp  # skipped, not retrained


def test_se_adlif_example_smoke(tmp_path, capsys):
    """Tiny scale: the four variants of the sweep file are trained as sweep points and scored; a rerun trains nothing."""
    pytest.importorskip("matplotlib")
    import json

    argv = ["--out", str(tmp_path), "--samples", "60", "--epochs", "1", "--seeds", "1", "--tasks", "bsd", "--workers", "2"]
    _run("examples/se_adlif.py", argv, capsys)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["variant"], r["scheme"], r["q"], r["status"]) for r in rows] == [("SE-adLIF", "symplectic_euler", 120, "done"), ("EF-adLIF", "exponential_euler", 60, "done"),
                                                                                ("EF-adLIF_q120", "exponential_euler", 120, "done"), ("LIF", "symplectic_euler", 0, "done")]
    assert all(0 <= r["test_metric"] <= 1 for r in rows)
    table = (tmp_path / "results.md").read_text()
    assert "| LIF | symplectic_euler | 0 |" in table and "SE-adLIF - LIF (test_accuracy, 1 and 1 runs)" in table and (tmp_path / "variants.png").stat().st_size > 10_000
    result = tmp_path / "runs" / "bsd" / "LIF_seed=0" / "result.json"
    stamp = result.stat().st_mtime_ns
    _run("examples/se_adlif.py", argv, capsys)
    assert result.stat().st_mtime_ns == stamp


def test_se_adlif_variants_change_only_scheme_and_adaptation_scale(tmp_path):
    import numpy as np

    from bioadapt.demo import CONFIG
    from bioadapt.sweep import load_sweep
    from bioadapt.sweep.run import prepare_point
    from bioadapt.train import load_train_config

    base = load_train_config(CONFIG)
    sweep = load_sweep("examples/sweeps/se_adlif_bsd.toml")
    points = {p.variant: p for p in sweep.points if p.values["seed"] == 0}
    ef, lif = (load_train_config(prepare_point(sweep, points[v], tmp_path)) for v in ("EF-adLIF", "LIF"))
    pop, ref = ef.network.populations["hid"], base.network.populations["hid"]
    assert pop.scheme == "exponential_euler" and np.array_equal(pop.values["a"], ref.values["a"] / 2) and np.array_equal(pop.values["tau_u"], ref.values["tau_u"])
    assert {(r.var, r.scale) for r in ef.train.params if r.owner == "hid" and r.var in ("a", "b")} == {("a", 60.0), ("b", 60.0)}
    assert not lif.network.populations["hid"].values["a"].any() and not any(r.owner == "hid" and r.var in ("a", "b") for r in lif.train.params)
    assert [(r.owner, r.var) for r in lif.train.params] == [(r.owner, r.var) for r in base.train.params if not (r.owner == "hid" and r.var in ("a", "b"))]


@pytest.mark.slow
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
    result = tmp_path / "runs" / "mtc_h1_seed=1_network.seed=12" / "result.json"
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


@pytest.mark.slow
def test_stdp_example_smoke(tmp_path, capsys):
    """Brian2's STDP example as a network file: cpp_standalone in chunks, the twin against it."""
    pytest.importorskip("matplotlib")
    out = _run("examples/stdp_song2000.py", ["--duration", "0.6", "--twin-duration", "0.3", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")], capsys)
    assert "| twin against cpp_standalone over 0.3 s | identical spikes" in out and "largest difference of the sampled weights 0 |" in out
    assert (tmp_path / "out" / "stdp.png").stat().st_size > 20_000
