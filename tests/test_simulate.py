"""`simulate` checks what it is given once, the same way for every backend."""

import numpy as np
import pytest

from bioadapt import ConfigError, simulate

EXAMPLE = "examples/adlif_network.toml"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(
    "record, drive, message",
    [
        ({"inp": ["u"]}, None, r"record: 'inp' is not a neuron population \(hid\)"),
        ({"hid": [3]}, None, r"record: population 'hid' needs variable names, got \[3\]"),
        (None, {"hid": {"I": np.zeros((10, 40))}}, r"drive hid.I: expected shape \(n_steps, size\) = \(5000, 40\), got \(10, 40\)"),
        (None, {"hid": {"I": np.full((5000, 40), np.nan)}}, r"drive hid.I: contains NaN or infinite values"),
        (None, {"nope": {"I": np.zeros((5000, 40))}}, r"drive: 'nope' is not a neuron population \(hid\)"),
    ],
)
def test_simulate_checks_record_and_drive_alike_for_every_backend(backend, record, drive, message):
    with pytest.raises(ConfigError, match=message):
        simulate(EXAMPLE, backend=backend, record=record, drive=drive)


def test_record_takes_one_name_for_a_list_of_one():
    assert set(simulate(EXAMPLE, backend="numpy", record={"hid": "u"}).traces["hid"]) == {"u"}
