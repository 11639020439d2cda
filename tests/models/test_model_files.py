"""Model files: every rule has a valid and an invalid file; errors name file and key."""

from pathlib import Path

import pytest

from bioadapt import ModelError, load_model, network_from_dict, shipped_models
from bioadapt.errors import BioadaptError

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", shipped_models())
def test_shipped_models_load(name):
    model = load_model(name)
    assert model.path.is_file() and model.path.suffix == ".toml"
    assert set(model.defaults) <= set(model.variables)


def test_shipped_models_are_installed_package_data():
    from importlib import resources

    assert (resources.files("bioadapt.equations") / "adlif.toml").is_file()


def test_valid_minimal():
    model = load_model(HERE / "valid" / "minimal.toml")
    assert model.name == "minimal" and "tau" in model.variables


@pytest.mark.parametrize(
    "name, message",
    [
        ("bad_toml", r"bad_toml\.toml: not valid TOML"),
        ("missing_equations", r"missing_equations\.toml: missing required key 'equations'"),
        ("bad_equations", r"bad_equations\.toml: key 'equations': Brian2 cannot parse"),
        ("unknown_default", r"unknown_default\.toml: \[defaults\] key 'tau_x' is not a variable"),
        ("bad_quantity", r"bad_quantity\.toml: \[defaults\] key 'tau': unknown unit or name 'parsecs'"),
        ("unknown_key", r"unknown_key\.toml: unknown key\(s\) \['treshold'\]"),
        ("bad_slot", r"bad_slot\.toml: \[programs\.discrete\] key 'during_groups' is not a Brian2 schedule slot"),
        ("dead_assignment", r"dead_assignment\.toml: key 'reset': 'u = 0' assigns 'u', which is not a variable \(tau, v\) and which no later statement reads"),
        ("retime_impulse", r"retime_impulse\.toml: \[retime\] key 'impulse': 'v' is not a variable that holds one step of input; use one of I, tau"),
        ("retime_key", r"retime_key\.toml: \[retime\] has unknown key\(s\) \['impulses'\]; allowed keys are 'impulse' and 'per_step'"),
        ("retime_both", r"retime_both\.toml: \[retime\] takes either 'impulse' or 'per_step', not both"),
        ("reserved_name", r"reserved_name\.toml: key 'equations': bioadapt_P_v_v: names beginning with 'bioadapt_' are reserved for the constants bioadapt derives"),
    ],
)
def test_invalid_model_files(name, message):
    with pytest.raises(ModelError, match=message):
        load_model(HERE / "invalid" / f"{name}.toml")


def test_program_temporaries_that_are_read_are_fine():
    model = load_model(HERE / "valid" / "program_temporaries.toml")
    assert set(model.programs["step"]) == {"groups"}


def test_unknown_model_name():
    with pytest.raises(ModelError, match=r"Unknown model 'adlf'\. Shipped models: adlif"):
        load_model("adlf")


def test_unit_mismatch_is_reported_with_file_and_key():
    net = {"dt": "0.1*ms", "duration": "1*ms", "populations": {"p": {"model": "invalid/unit_mismatch.toml", "size": 2}}}
    with pytest.raises(BioadaptError, match=r"unit_mismatch\.toml: \[defaults\] key 'tau': '10\*mV' is in volt, but 'tau' is in second"):
        network_from_dict(net, folder=HERE)
