"""I-V curves of the MTC neuron against the closed forms of science.md section 4
(Ribar & Sepulchre 2019): I_s(V; V0) = V + sum_{x <= s} alpha_x tanh(V - delta_x)
+ sum_{x > s} alpha_x tanh(V0 - delta_x)."""

import numpy as np
import pytest

from bioadapt import ModelError, load_model, network_from_dict
from bioadapt.analysis import Timescale, iv_curves, plot_iv
from bioadapt.quantities import parse_quantity

#: Brent's method stops at 1e-13 (bioadapt.analysis.iv.XTOL); roots are
#: checked a little above that.
ROOT_TOL = 1e-12
#: The curves add at most 5 terms of size <= |V| + sum |alpha| ~ 10: a few eps of 10.
CURVE_TOL = 1e-13

#: Which timescale each current of equations/mtc.toml has (tau_s = 50 ms, tau_us = 2500 ms).
MTC_TIMESCALES = {"a_f": "fast", "a_s": "slow", "a_sn": "slow", "a_us": "ultraslow"}


def _reference_curve(params, v, scale, v0):
    """science.md's formula, written out per current."""
    rank = {"fast": 0, "slow": 1, "ultraslow": 2}
    total = np.array(v, dtype=float).copy()
    for alpha, own in MTC_TIMESCALES.items():
        a, d = params[alpha], params["d" + alpha[1:]]
        if rank[own] <= rank[scale]:
            total += a * np.tanh(v - d)
        elif v0 is not None:
            total += a * np.tanh(v0 - d)
    return total


def test_currents_and_timescales_are_read_from_the_model_file():
    model = load_model("mtc")
    iv = iv_curves(model)
    assert {c.alpha_name: c.timescale.value for c in iv.currents} == MTC_TIMESCALES
    for c in iv.currents:
        assert c.alpha == model.defaults[c.alpha_name] and c.delta == model.defaults[c.delta_name]
        assert c.delta_name == "d" + c.alpha_name[1:]
    assert iv.conductance == 1.0 and iv.offset == 0.0 and iv.i_app == model.defaults["I_app"]
    expected = {Timescale.FAST: "tau_m", Timescale.SLOW: "tau_s", Timescale.ULTRASLOW: "tau_us"}
    for scale, name in expected.items():
        assert iv.time_constants[scale] == pytest.approx(float(parse_quantity(model.defaults[name], name)), rel=1e-15)


def test_timescales_follow_the_time_constants_not_the_names():
    iv = iv_curves("mtc", {"tau_s": "3*second", "tau_us": "40*ms"})
    assert {c.alpha_name: c.timescale.value for c in iv.currents} == {"a_f": "fast", "a_s": "ultraslow", "a_sn": "ultraslow", "a_us": "slow"}


@pytest.mark.parametrize("seed", range(4))
def test_curves_and_slopes_match_closed_forms_for_random_parameters(seed):
    rng = np.random.default_rng(seed)
    params = {name: float(rng.uniform(-3, 3)) for name in ("a_f", "a_s", "a_sn", "a_us", "d_f", "d_s", "d_sn", "d_us")}
    iv = iv_curves("mtc", params)
    v = np.linspace(-4, 4, 161)
    v0 = float(rng.uniform(-2, 2))
    h = 1e-5
    for scale in ("fast", "slow", "ultraslow"):
        for anchor in (None, v0):
            np.testing.assert_allclose(iv.curve(scale, v, anchor), _reference_curve(params, v, scale, anchor), rtol=0, atol=CURVE_TOL)
        # central differences: truncation h^2 |I'''| ~ 1e-10 * 10, rounding eps*10/h ~ 1e-10
        fd = (iv.curve(scale, v + h) - iv.curve(scale, v - h)) / (2 * h)
        np.testing.assert_allclose(iv.slope(scale, v), fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("delta", [-1.5, -0.9])
@pytest.mark.parametrize("i_app", [-2.5, -2.0, 0.0, 1.3])
def test_canonical_steady_state_is_the_identity_and_the_equilibrium_is_i_app(delta, i_app):
    iv = iv_curves("mtc", {"d_sn": delta, "d_us": delta, "I_app": i_app})
    v = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(iv.steady_state(v), v, rtol=0, atol=CURVE_TOL)
    np.testing.assert_allclose(iv.slope("ultraslow", v), 1.0, rtol=0, atol=CURVE_TOL)
    eq = iv.equilibria()
    assert len(eq) == 1 and abs(eq[0] - i_app) < ROOT_TOL


def test_negative_slope_regions_of_the_canonical_set():
    # fast: 1 - 2 sech^2(V) < 0  <=>  |V| < atanh(1/sqrt 2);
    # slow: 1 - 1.5 sech^2(V + 1.5) < 0  <=>  |V + 1.5| < atanh(1/sqrt 3);  steady state: slope 1
    iv = iv_curves("mtc")
    ((lo, hi),) = iv.negative_slope_regions("fast")
    w = np.arctanh(1 / np.sqrt(2))
    assert abs(lo + w) < ROOT_TOL and abs(hi - w) < ROOT_TOL
    ((lo, hi),) = iv.negative_slope_regions("slow")
    w = np.arctanh(1 / np.sqrt(3))
    assert abs(lo - (-1.5 - w)) < ROOT_TOL and abs(hi - (-1.5 + w)) < ROOT_TOL
    assert iv.negative_slope_regions("ultraslow") == []
    # no negative conductance at all: no region
    assert iv_curves("mtc", {"a_f": 0.5, "a_sn": 0.0}).negative_slope_regions("slow") == []


def test_three_equilibria_of_a_bistable_steady_state():
    # a negative ultraslow current: I_ss(V) = V - 3 tanh(V + 1.5); I_app = -1.5 gives u = 3 tanh u (u = V + 1.5)
    iv = iv_curves("mtc", {"a_sn": 0.0, "a_us": -3.0, "I_app": -1.5})
    eq = iv.equilibria()
    assert len(eq) == 3
    np.testing.assert_allclose(iv.steady_state(eq), -1.5, rtol=0, atol=1e-12)
    u = eq + 1.5
    assert abs(u[1]) < ROOT_TOL and abs(u[0] + u[2]) < ROOT_TOL and 2.9 < u[2] < 3.0
    ((lo, hi),) = iv.negative_slope_regions("ultraslow")  # 1 - 3 sech^2(u) < 0 <=> |u| < atanh(sqrt(2/3))
    w = np.arctanh(np.sqrt(2 / 3))
    assert abs(lo + 1.5 + w) < ROOT_TOL and abs(hi + 1.5 - w) < ROOT_TOL


def test_local_curves_cross_at_the_equilibrium():
    iv = iv_curves("mtc", {"a_sn": 0.0, "a_us": 3.0, "I_app": -2.0})
    (v_star,) = iv.equilibria()
    assert abs(v_star + 3 * np.tanh(v_star + 1.5) + 2.0) < ROOT_TOL
    for scale in Timescale:
        assert abs(iv.curve(scale, v_star, v0=v_star) - (-2.0)) < 1e-12


def test_values_of_one_neuron_of_a_population():
    spec = network_from_dict({"dt": "1*ms", "duration": "1*ms", "seed": 2, "populations": {"p": {"model": "mtc", "size": 5, "values": {"a_us": "uniform(2, 4)", "I_app": "uniform(-1, 1)"}}}})
    pop = spec.population("p")
    for k in range(5):
        iv = iv_curves(pop, neuron=k)
        (us,) = [c for c in iv.currents if c.alpha_name == "a_us"]
        assert us.alpha == pop.values["a_us"][k] and iv.i_app == pop.values["I_app"][k]


def test_models_that_are_not_sums_of_localized_currents_are_rejected(tmp_path):
    with pytest.raises(ModelError, match="no variable 'V'"):
        iv_curves("adlif")
    steep = tmp_path / "steep.toml"
    steep.write_text('equations = """\ndV/dt = (-V - a*tanh(2*(V - d)) + I_app)/tau : 1\na : 1\nd : 1\nI_app : 1\ntau : second\n"""\n[defaults]\na = -2.0\nd = 0.0\nI_app = 0.0\ntau = "1*ms"\n')
    with pytest.raises(ModelError, match=r"is not a current alpha\*tanh"):
        iv_curves(str(steep))
    cubic = tmp_path / "cubic.toml"
    cubic.write_text('equations = """\ndV/dt = (-V**3 + I_app)/tau : 1\nI_app : 1\ntau : second\n"""\n[defaults]\nI_app = 0.0\ntau = "1*ms"\n')
    with pytest.raises(ModelError, match="not linear in V"):
        iv_curves(str(cubic))


def test_a_user_model_with_a_leak_reversal_and_a_sign_flipped_argument(tmp_path):
    # I_ion = g (V - E) + alpha tanh(V - delta), written as -alpha*tanh(delta - V)
    path = tmp_path / "user.toml"
    path.write_text(
        'equations = """\ndV/dt = (-g*(V - E) + b*tanh(c - V) + I_app)/C : 1\ndW/dt = (V - W)/tau_w : 1\ng : 1\nE : 1\nb : 1\nc : 1\nI_app : 1\nC : second\ntau_w : second\n"""\n'
        '[defaults]\ng = 2.0\nE = 0.5\nb = 1.5\nc = 0.25\nI_app = 0.0\nC = "4*ms"\ntau_w = "10*ms"\n'
    )
    iv = iv_curves(str(path))
    (cur,) = iv.currents
    assert (cur.alpha, cur.delta, cur.timescale) == (1.5, 0.25, Timescale.FAST)
    assert iv.conductance == 2.0 and iv.offset == -1.0 and iv.time_constants[Timescale.FAST] == pytest.approx(2e-3)
    v = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(iv.steady_state(v), 2 * (v - 0.5) + 1.5 * np.tanh(v - 0.25), rtol=0, atol=CURVE_TOL)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_iv(iv_curves("mtc", {"I_app": -2.0}), tmp_path / "iv.png", v0=-2.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
