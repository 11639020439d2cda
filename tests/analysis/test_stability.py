"""Stability of the discrete maps, measured on the generated code, against science.md's closed forms."""

import numpy as np
import pytest

from bioadapt.analysis import discrete_map, stability_grid

# Matrices are measured with finite probes of an affine map: exact up to
# float64 rounding divided by the probe size (1e-3), i.e. ~1e-13.
MAP_ATOL = 1e-10
# science.md prints the radii with 5 decimals
PRINTED = 0.5e-5

TAU_U, TAU_W, A, DT = 25.0, 60.0, 120.0, 1.0
ALPHA, BETA = np.exp(-DT / TAU_U), np.exp(-DT / TAU_W)
VALUES = {"tau_u": "25*ms", "tau_w": "60*ms", "a": A, "b": 0}


def closed_form(scheme, a=A, alpha=ALPHA, beta=BETA):
    if scheme == "exponential_euler":
        return np.array([[alpha, -(1 - alpha)], [(1 - beta) * a, beta]])
    return np.array([[alpha, -(1 - alpha)], [(1 - beta) * a * alpha, beta - (1 - beta) * (1 - alpha) * a]])


@pytest.mark.parametrize("scheme", ["exponential_euler", "symplectic_euler"])
def test_matrix_matches_closed_form(scheme):
    m = discrete_map("adlif", scheme, VALUES)
    assert m.variables == ("u", "w")
    np.testing.assert_allclose(m.matrices[0], closed_form(scheme), rtol=0, atol=MAP_ATOL)


def test_science_md_worked_numbers():
    ef = discrete_map("adlif", "exponential_euler", VALUES)
    se = discrete_map("adlif", "symplectic_euler", VALUES)
    assert abs(ef.spectral_radius[0] - 1.01128) < PRINTED and not ef.stable[0]
    assert abs(se.spectral_radius[0] - 0.97206) < PRINTED and se.stable[0]
    assert abs(se.spectral_radius[0] - np.exp(-(1 / 25 + 1 / 60) / 2)) < 1e-12
    # both oscillate near the continuous system's 45 Hz
    assert 40 < ef.frequency[0] < 50 and 40 < se.frequency[0] < 50


def test_se_determinant_is_independent_of_coupling():
    a = np.array([0.0, 1.0, 60.0, 120.0, 1000.0])
    m = discrete_map("adlif", "symplectic_euler", {"tau_u": "25*ms", "tau_w": "60*ms", "b": 0, "a": a})
    np.testing.assert_allclose(m.determinant, ALPHA * BETA, rtol=1e-12)


def test_ef_instability_boundary():
    a_star = (1 - ALPHA * BETA) / ((1 - ALPHA) * (1 - BETA))
    m = discrete_map("adlif", "exponential_euler", {"tau_u": "25*ms", "tau_w": "60*ms", "b": 0, "a": np.array([0.99 * a_star, 1.01 * a_star])})
    assert m.stable.tolist() == [True, False]
    # a rough check of the rule of thumb a* ~ (tau_u + tau_w)/dt
    assert 0.9 * (TAU_U + TAU_W) < a_star < 1.1 * (TAU_U + TAU_W)


def test_heterogeneous_population_one_matrix_per_neuron():
    tau_u = np.array([5e-3, 15e-3, 25e-3])
    m = discrete_map("adlif", "symplectic_euler", {"tau_u": tau_u, "tau_w": "60*ms", "a": 0.5, "b": 0})
    for n, t in enumerate(tau_u):
        np.testing.assert_allclose(m.matrices[n], closed_form("symplectic_euler", a=0.5, alpha=np.exp(-1e-3 / t)), atol=MAP_ATOL)


def test_grid_ef_unstable_region_se_stable():
    a = np.linspace(0, 300, 7)
    tau_w = np.array([30e-3, 60e-3, 300e-3])
    _, _, ef = stability_grid("adlif", "exponential_euler", ("a", a), ("tau_w", tau_w), {"tau_u": "25*ms", "b": 0})
    _, _, se = stability_grid("adlif", "symplectic_euler", ("a", a), ("tau_w", tau_w), {"tau_u": "25*ms", "b": 0})
    assert se.stable.all()
    assert (~ef.stable).sum() >= 5 and ef.stable[0]
