"""The schemes' derived constants computed with torch
(`bioadapt.backends.torch.propagators`): the values of the schemes' numpy
versions (what Brian2 receives), with gradients."""

import numpy as np
import pytest
import torch

from bioadapt import load_model
from bioadapt.backends.torch.propagators import torch_propagators
from bioadapt.errors import BackendError
from bioadapt.schemes.exact import linear_system
from bioadapt.schemes.hoisting import ProgramExponentials


def test_exact_propagators_match_scipy_and_carry_gradients():
    system = linear_system(load_model("adlif").brian_equations)
    values = {"tau_u": np.array([5e-3, 12e-3, 25e-3]), "tau_w": np.array([60e-3, 60e-3, 300e-3]), "a": np.array([0.0, 50.0, 500.0])}
    params = {p: torch.as_tensor(values.get(p, np.zeros(3)), dtype=torch.float64).requires_grad_() for p in system.parameters}
    derived = torch_propagators(system, params, 3, 1e-3)
    expected = system.propagators({p: values.get(p, np.zeros(3)) for p in system.parameters}, 3, 1e-3)
    assert set(derived) == set(expected) == set(system.derived_names())
    for name, value in expected.items():  # matrix_exp vs scipy's expm: the same up to a few ulp
        np.testing.assert_allclose(derived[name].detach().numpy(), value, rtol=1e-12, atol=1e-15)
    sum(d.sum() for d in derived.values()).backward()
    assert params["tau_u"].grad is not None and torch.all(torch.isfinite(params["tau_u"].grad))


def test_exponentials_match_numpy():
    system = ProgramExponentials({"groups": "y = exp(-dt/tau)*y + exp(-dt/tau_u + 0.5)"}, {"tau", "tau_u"})
    tau, tau_u = np.array([5e-3, 20e-3]), np.array([1e-3, 2e-3])
    derived = torch_propagators(system, {"tau": torch.as_tensor(tau), "tau_u": torch.as_tensor(tau_u)}, 2, 1e-3)
    expected = system.propagators({"tau": tau, "tau_u": tau_u}, 2, 1e-3)
    assert list(derived) == list(expected) == system.derived_names()
    for name, value in expected.items():
        np.testing.assert_allclose(derived[name].numpy(), value, rtol=1e-15)


def test_unknown_system_is_refused():
    with pytest.raises(BackendError, match="derived constants"):
        torch_propagators(object(), {}, 1, 1e-3)
