"""``record=`` is checked by one function (`bioadapt.network.record.check_record`)
at every entry point: the same message wherever a run is asked for."""

import pytest

from helpers import model_network

from bioadapt import BackendError, ConfigError, long_run, network_from_dict, simulate
from bioadapt.backends.brian.build import build_network
from bioadapt.backends.brian.device import brian_device
from bioadapt.backends.torch import Twin
from bioadapt.network.record import check_record

OWNERS = r"\(hid, inp_to_hid_0, hid_to_hid_1\)"


@pytest.fixture(scope="module")
def spec():
    return network_from_dict(model_network("lif", steps=20))


def test_one_message_at_every_entry_point(spec, tmp_path):
    bad = {"nope": ["v"]}
    message = rf"record: 'nope' is not a neuron population or projection {OWNERS}"
    for run in (lambda: simulate(spec, backend="numpy", record=bad), lambda: simulate(spec, backend="torch", record=bad),
                lambda: long_run(spec, tmp_path / "run", record=bad)):
        with pytest.raises(ConfigError, match=message):
            run()
    with brian_device("numpy"), pytest.raises(ConfigError, match=message):
        build_network(spec, record=bad)
    with pytest.raises(BackendError, match=message):
        Twin(spec)(record=bad)


def test_variables_are_looked_up_where_they_live(spec, tmp_path):
    assert check_record(spec, {"hid": "v", "inp_to_hid_0": ("weight",)}) == {"hid": ["v"], "inp_to_hid_0": ["weight"]}
    with pytest.raises(ConfigError, match=r"record: population 'hid' needs variable names, got \[3\]"):
        check_record(spec, {"hid": [3]})
    with pytest.raises(ConfigError, match=r"record: expected a dict"):
        check_record(spec, ["hid"])
    with pytest.raises(ConfigError, match=r"record: 'q', 'r' are not variables of population 'hid' \(model lif: "):
        long_run(spec, tmp_path / "run", record={"hid": ["v", "q", "r"]})
    with brian_device("numpy"), pytest.raises(ConfigError, match=r"record: 'q' is not a variable of projection 'inp_to_hid_0'"):
        build_network(spec, record={"inp_to_hid_0": ["q"]})
    with pytest.raises(BackendError, match=r"record: 'q' is not a variable of population 'hid' used by the program"):
        Twin(spec)(record={"hid": ["q"]})
