"""Parameter tables (``bioadapt models NAME``, the docs' model pages) come from the model files."""

import pytest
from brian2 import Equations

from bioadapt import load_model, shipped_models
from bioadapt.errors import ConfigError
from bioadapt.models.table import parameter_rows, parameter_table


@pytest.mark.parametrize("name", shipped_models())
def test_markdown_table_has_a_row_per_variable_with_brian_units(name):
    model = load_model(name)
    eqs = Equations(model.equations)
    lines = parameter_table(model, format="markdown").splitlines()
    assert lines[:2] == ["| name | kind | unit | default |", "|---|---|---|---|"]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [r[0] for r in rows] == [r[0] for r in parameter_rows(model)]
    assert {r[0] for r in rows} == set(eqs.names)  # every variable once, nothing else
    for name_, kind, unit, default in rows:
        assert (kind == "state (ODE)") == (name_ in eqs.diff_eq_names)
        assert unit == ("1" if eqs[name_].dim.is_dimensionless else str(eqs[name_].unit))
        if name_ in model.defaults:
            assert default == str(model.defaults[name_])


def test_unknown_format_is_refused():
    with pytest.raises(ConfigError, match='format \'csv\'; use "text" or "markdown"'):
        parameter_table(load_model("lif"), format="csv")
