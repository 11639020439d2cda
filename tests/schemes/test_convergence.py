"""Conformance: every registered scheme shows its order of convergence on a
smooth problem with a closed-form solution."""

import numpy as np
import pytest

from bioadapt.analysis.convergence import T_END, convergence, lif_closed_form
from bioadapt.schemes import SCHEMES

# measured slopes over dt = 1, 0.5, 0.25, 0.125 ms; the asymptotic regime is
# reached within 0.15 of the theoretical order for every scheme
ORDER_TOLERANCE = 0.15
# the exact propagator is exact for this problem: only rounding remains
EXACT_ATOL = 1e-14


def test_closed_form_solves_the_ode():
    t = np.linspace(0, T_END, 401)
    v = lif_closed_form(t)
    dv = np.gradient(v, t, edge_order=2)
    current = 2.0 * np.exp(-t / 5e-3)
    np.testing.assert_allclose(20e-3 * dv, -v + current, atol=2e-3)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_scheme_order(name):
    scheme = SCHEMES[name]
    result = convergence(name)
    if scheme.propagator:
        assert result.errors.max() < EXACT_ATOL
    else:
        assert abs(result.order - scheme.order) < ORDER_TOLERANCE, f"{name}: measured order {result.order:.3f}, expected {scheme.order}"
        assert np.all(np.diff(result.errors) < 0)
