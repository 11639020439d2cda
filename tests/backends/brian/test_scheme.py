"""What a population's scheme gives its Brian2 group (`bioadapt.backends.brian.scheme`):
one `SchemeResult` per population, which the builder applies as it is."""

import pytest

from bioadapt import ConfigError, network_from_dict
from bioadapt.backends.brian.scheme import SchemeResult, scheme_result
from bioadapt.schemes.exact import LinearSystem
from bioadapt.schemes.hoisting import ProgramExponentials
from bioadapt.schemes.symplectic_euler import DecaySystem


def _result(model, scheme=None, values=None, projections=()):
    pop = {"model": model, "size": 3, "values": values or {}}
    if scheme is not None:
        pop["scheme"] = scheme
    spec = network_from_dict({"dt": "1*ms", "duration": "5*ms", "populations": {"hid": pop}, "projections": list(projections)})
    return scheme_result(spec, spec.populations["hid"])


def test_exact_gives_propagators_declared_as_constants():
    result = _result("lif", "exact")
    assert isinstance(result, SchemeResult) and isinstance(result.system, LinearSystem)
    assert result.method == "bioadapt_exact" and set(result.method_options) == {"code"}  # (the state updater registered for it)
    assert all(f"{name} : 1 (constant)" in result.equations for name in result.system.derived_names())
    assert result.after_resets == () and result.program == {}


def test_symplectic_euler_integrates_the_rest_after_the_reset():
    result = _result("adlif")  # its default scheme
    assert result.method_options["after_resets"] == list(result.after_resets) == ["w"]  # u is thresholded
    assert isinstance(result.system, DecaySystem) and set(result.method_options["decays"]) == set(result.system.decays())


def test_a_program_gives_its_blocks_with_constant_exponentials():
    result = _result("li")  # default scheme: its discrete-time program
    assert result.program and all(slot for slot in result.program)
    assert isinstance(result.system, ProgramExponentials) and "exp(" not in " ".join(result.program.values())
    assert result.method == "euler" and result.method_options is None  # (no equations of its own to integrate)


def test_exact_refuses_a_time_constant_written_during_the_run():
    with pytest.raises(ConfigError, match=r"scheme 'exact' computes its propagators once per network from .*tau_m.* change during the run"):
        _result("lif", "exact", projections=[{"source": "hid", "target": "hid", "on_pre": "tau_m_post += 1*ms", "connect": "one_to_one"}])
