"""Comparing discretizations with the reference: metrics and convergence in dt."""

import json

import numpy as np
import pytest

from bioadapt import network_from_dict
from bioadapt.analysis.compare import compare, match_spikes, van_rossum
from bioadapt.cli import main


def test_match_spikes_counts_missed_and_extra():
    ref = np.array([1.0, 2.0, 3.0, 10.0])
    grid = np.array([1.1, 2.05, 5.0, 9.8, 12.0])
    diffs, missed, extra = match_spikes(ref, grid, window=0.5)
    np.testing.assert_allclose(np.sort(np.abs(diffs)), [0.05, 0.1, 0.2])
    assert (missed, extra) == (1, 2)


def test_van_rossum_closed_form():
    a = np.array([0.01, 0.05])
    assert van_rossum(a, a, 5e-3) == 0.0
    assert van_rossum(a, np.array([0.01]), 5e-3) == pytest.approx(np.sqrt(0.5), rel=1e-3)


def _network():
    return network_from_dict({
        "dt": "0.025*ms", "duration": "120*ms", "seed": 1,
        "populations": {"inp": {"kind": "poisson", "size": 10, "rate": "100*Hz"}, "hid": {"model": "lif", "size": 4, "values": {"tau_m": "uniform(10*ms, 30*ms)"}}},
        "projections": [{"source": "inp", "target": "hid", "on_pre": "I_post += weight", "connect": {"p": 0.6}, "weight": "normal(0.9, 0.2)", "delay": "uniform(0*ms, 1*ms)"}],
    })


@pytest.mark.slow  # every scheme at several time steps against the reference
def test_errors_shrink_with_dt_and_spikes_converge():
    rows = compare(_network(), ["exact", "euler"], [0.4e-3, 0.1e-3, 0.025e-3, 0.00625e-3])
    for scheme in ("exact", "euler"):
        sel = [r for r in rows if r.scheme == scheme]
        assert sel[0].reference_spikes > 20
        assert sel[-1].trace_rms < 0.5 * sel[0].trace_rms
        assert sel[-1].van_rossum < 0.5 * sel[0].van_rossum
        assert sel[-1].missed + sel[-1].extra <= 0.1 * sel[-1].reference_spikes
        assert sel[-1].timing_error_mean_ms < 0.1


@pytest.mark.slow  # every scheme at four time steps through the command line
def test_cli_writes_table_json_and_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["compare", "examples/lif_compare.toml", "--schemes", "exact,rk4", "--dt", "0.1ms,0.05ms,0.1ms", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and "rk4" in out
    rows = json.loads((tmp_path / "compare.json").read_text())
    assert {(r["scheme"], r["dt_ms"]) for r in rows} == {("exact", 0.1), ("exact", 0.05), ("rk4", 0.1), ("rk4", 0.05)}
    assert (tmp_path / "compare.csv").read_text().startswith("scheme,dt_ms,")
    assert (tmp_path / "compare.png").stat().st_size > 10_000
