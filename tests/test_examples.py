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


def test_adlif_stability_example(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = _run("examples/adlif_stability.py", ["--out", str(tmp_path / "map.png")], capsys)
    assert "exponential_euler" in out and "|lambda| = 1.01128" in out and "|lambda| = 0.97206" in out
    assert "symplectic_euler   unstable grid points: 0 of" in out
    assert (tmp_path / "map.png").stat().st_size > 10_000
