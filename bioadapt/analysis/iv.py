"""Current-voltage curves of conductance-based neurons on separated timescales.

Ribar & Sepulchre (2019) shape a neuron's behaviour through the I-V curves of
its current balance on each timescale. The membrane equation of the model file
is read as

    C dV/dt = -I_ion(V, X_1, ...) + I_app + (inputs)
    I_ion   = g V + I_0 + sum_x alpha_x*tanh(X_x - delta_x)
    tau_x dX_x/dt = V - X_x           (X_x = V itself for a fast current)

where ``I_app`` is the applied current (``applied``), every other variable the
membrane equation reads without a value (``I_syn``) or with an ODE of its own
that is not of the filter form above (``I``) is an input and set to 0, and
every filtered variable ``X`` gets the timescale of its time constant: the
membrane itself is *fast*, the filtered variables are *slow* and *ultraslow*
in the order of their time constants (a fast current reads the membrane
variable itself, tau_fast = 0 as in science.md). Nothing is hard-coded per model: the
currents, their parameter names and their timescales come from the
equations, the values from the model defaults or a population.

The I-V curve of timescale ``s`` at ``V0`` holds every current of timescale
``s`` or faster at ``V`` and the slower ones at ``V0`` (their variables have
not moved yet):

    I_s(V; V0) = g V + I_0 + sum_{x <= s} alpha_x*tanh(V - delta_x)
                           + sum_{x > s}  alpha_x*tanh(V0 - delta_x)

With ``V0=None`` the slower currents are left out, as Ribar & Sepulchre draw
the curves (a constant shift, no change of shape or slope). The ultraslow
curve has no slower currents: it is the steady-state I-V curve, whose
crossings with ``I_app`` are the equilibria. Slopes are in closed form,

    dI_s/dV = g + sum_{x <= s} alpha_x*(1 - tanh(V - delta_x)**2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
from brian2.parsing.sympytools import str_to_sympy
from scipy.optimize import brentq

from ..errors import ModelError, ParameterError
from ..models import ModelSpec, load_model
from ..network.spec import PopulationSpec
from ..quantities import parse_quantity

__all__ = ["Timescale", "LocalizedCurrent", "IVCurves", "iv_curves", "plot_iv"]

#: Grid points on which sign changes are looked for before refining them with
#: Brent's method; two roots (or slope sign changes) closer than the grid
#: spacing, and tangential roots, can be missed.
SAMPLES = 4001
#: Brent's method tolerance (absolute, in units of V).
XTOL = 1e-13


class Timescale(enum.Enum):
    """Timescales of a current, from the membrane's own (fast) to the slowest."""

    FAST = "fast"
    SLOW = "slow"
    ULTRASLOW = "ultraslow"

    @property
    def rank(self) -> int:
        return list(Timescale).index(self)


@dataclass(frozen=True)
class LocalizedCurrent:
    """One current ``alpha*tanh(X - delta)`` of the current balance.

    ``alpha < 0`` is a negative conductance (regenerative), ``alpha > 0`` a
    positive one (restorative); ``delta`` localizes it in voltage.
    """

    alpha: float
    delta: float
    variable: str  # the variable X it reads (the membrane variable for a fast current)
    timescale: Timescale
    alpha_name: str  # the parameter names in the model file
    delta_name: str

    def current(self, v) -> np.ndarray:
        """``alpha*tanh(v - delta)``."""
        return self.alpha * np.tanh(np.asarray(v, dtype=float) - self.delta)

    def conductance(self, v) -> np.ndarray:
        """``d current/dv = alpha*(1 - tanh(v - delta)**2)``."""
        t = np.tanh(np.asarray(v, dtype=float) - self.delta)
        return self.alpha * (1.0 - t * t)


@dataclass(frozen=True)
class IVCurves:
    """The I-V curves of one neuron (see the module docstring for the formulas).

    Attributes
    ----------
    currents : tuple of LocalizedCurrent
    conductance : float
        Passive conductance ``g`` (coefficient of ``V`` in ``I_ion``).
    offset : float
        Constant passive current ``I_0``.
    i_app : float
        The neuron's applied current (default of `equilibria`).
    time_constants : dict
        ``Timescale -> seconds``: ``C/g`` for the fast timescale, the filter
        time constant of the slower ones.
    model : str
    """

    currents: tuple
    conductance: float
    offset: float
    i_app: float
    time_constants: dict
    model: str = ""

    def curve(self, timescale: Timescale | str, v, v0: float | None = None) -> np.ndarray:
        """``I_s(v; v0)``: currents of ``timescale`` or faster at ``v``, slower ones at ``v0`` (left out if None)."""
        scale = Timescale(timescale)
        v = np.asarray(v, dtype=float)
        total = self.conductance * v + self.offset
        for cur in self.currents:
            if cur.timescale.rank <= scale.rank:
                total = total + cur.current(v)
            elif v0 is not None:
                total = total + cur.current(v0)
        return total

    def slope(self, timescale: Timescale | str, v) -> np.ndarray:
        """``dI_s/dV`` in closed form (independent of ``v0``)."""
        scale = Timescale(timescale)
        v = np.asarray(v, dtype=float)
        total = np.full_like(v, self.conductance)
        for cur in self.currents:
            if cur.timescale.rank <= scale.rank:
                total = total + cur.conductance(v)
        return total

    def fast(self, v, v0: float | None = None) -> np.ndarray:
        return self.curve(Timescale.FAST, v, v0)

    def slow(self, v, v0: float | None = None) -> np.ndarray:
        return self.curve(Timescale.SLOW, v, v0)

    def steady_state(self, v) -> np.ndarray:
        """The ultraslow (steady-state) I-V curve: every current at ``v``."""
        return self.curve(Timescale.ULTRASLOW, v)

    @property
    def _gain(self) -> float:
        return float(sum(abs(c.alpha) for c in self.currents))

    def equilibria(self, i_app: float | None = None, samples: int = SAMPLES) -> np.ndarray:
        """Voltages where the steady-state I-V curve crosses ``i_app`` (default: the neuron's).

        Since ``|I_ion - g V - I_0| <= sum |alpha|``, every equilibrium lies in
        ``(i_app - I_0 -+ sum |alpha|)/g``; that interval is searched for sign
        changes on ``samples`` points, each refined by Brent's method.

        Examples
        --------
        >>> iv_curves("mtc", {"I_app": -2.0}).equilibria()
        array([-2.])
        """
        i_app = self.i_app if i_app is None else float(i_app)
        if not self.conductance > 0:
            raise ParameterError(f"equilibria of model '{self.model}': the passive conductance g must be > 0 to bound the search, got {self.conductance}.")
        half = self._gain / self.conductance
        centre = (i_app - self.offset) / self.conductance
        return _roots(lambda v: self.steady_state(v) - i_app, centre - half - 1.0, centre + half + 1.0, samples)

    def negative_slope_regions(self, timescale: Timescale | str, v_range: tuple | None = None, samples: int = SAMPLES) -> list:
        """Intervals ``(lo, hi)`` of ``v`` where ``dI_s/dV < 0``.

        By default the search covers every place a negative slope can occur:
        ``g + sum alpha sech^2 < 0`` needs ``sech^2(V - delta_x) > g/sum|alpha|``
        for some current, i.e. ``|V - delta_x| < acosh(sqrt(sum|alpha|/g))``.
        """
        scale = Timescale(timescale)
        if v_range is None:
            included = [c for c in self.currents if c.timescale.rank <= scale.rank]
            gain = sum(abs(c.alpha) for c in included)
            if not included or gain <= self.conductance:
                return []
            if not self.conductance > 0:
                raise ParameterError(f"negative_slope_regions of model '{self.model}': give v_range when the passive conductance is <= 0 (got {self.conductance}).")
            width = float(np.arccosh(np.sqrt(gain / self.conductance)))
            v_range = (min(c.delta for c in included) - width - 1.0, max(c.delta for c in included) + width + 1.0)
        lo, hi = float(v_range[0]), float(v_range[1])
        edges = np.concatenate(([lo], _roots(lambda v: self.slope(scale, v), lo, hi, samples), [hi]))
        regions = []
        for a, b in zip(edges[:-1], edges[1:]):
            if b > a and self.slope(scale, 0.5 * (a + b)) < 0:
                regions.append((float(a), float(b)))
        return regions


def _roots(func, lo: float, hi: float, samples: int) -> np.ndarray:
    grid = np.linspace(lo, hi, samples)
    values = func(grid)
    roots = list(grid[values == 0])
    change = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0]
    for k in change:
        roots.append(brentq(lambda v: float(func(v)), grid[k], grid[k + 1], xtol=XTOL))
    return np.array(sorted(roots))


def _symbol_name(expr: sp.Expr) -> str:
    return expr.name if isinstance(expr, sp.Symbol) else str(expr)


def _numeric(expr: sp.Expr, values: dict, where: str) -> float:
    missing = sorted(s.name for s in expr.free_symbols if s.name not in values)
    if missing:
        raise ParameterError(f"{where}: no value for {missing}; give them in `values` or the model's [defaults].")
    return float(expr.subs({s: values[s.name] for s in expr.free_symbols}))


def _localized_current(term: sp.Expr, tanhs: set, state_syms: set):
    """``(alpha, delta, X)`` of a term ``alpha*tanh(+-(X - delta))``, or None."""
    (th,) = tanhs
    coeff = sp.simplify(term / th)
    arg = th.args[0]
    readers = arg.free_symbols & state_syms
    if coeff.free_symbols & state_syms or len(readers) != 1:
        return None
    (x_sym,) = readers
    sign = sp.diff(arg, x_sym)
    if sign not in (1, -1):  # tanh(k*(X - delta)) with k != 1 is not a localized current of this form
        return None
    delta = sp.expand(x_sym - sign * arg)  # tanh is odd: alpha*tanh(-(X - d)) = -alpha*tanh(X - d)
    return sign * coeff, delta, x_sym.name


def iv_curves(
    source: ModelSpec | PopulationSpec | str = "mtc",
    values: dict | None = None,
    neuron: int = 0,
    membrane: str = "V",
    applied: str = "I_app",
) -> IVCurves:
    """The I-V curves of a neuron, read from its model equations.

    Parameters
    ----------
    source : ModelSpec, PopulationSpec or str
        A model (name or path; values from its ``[defaults]``) or a
        population of a loaded network (values of neuron ``neuron``).
    values : dict, optional
        Overrides: parameter name -> number or quantity string.
    membrane, applied : str
        The membrane variable and the applied current of the model.

    Raises
    ------
    ModelError
        If the membrane equation is not a sum of a linear passive current and
        currents ``alpha*tanh(X - delta)`` of filtered variables.

    Examples
    --------
    >>> iv = iv_curves("mtc")
    >>> [(c.alpha_name, c.timescale.value) for c in iv.currents]
    [('a_f', 'fast'), ('a_s', 'slow'), ('a_sn', 'slow'), ('a_us', 'ultraslow')]
    >>> iv_curves("adlif")
    Traceback (most recent call last):
    ...
    bioadapt.errors.ModelError: I-V curves of model 'adlif': its equations have no variable 'V' ...
    """
    if isinstance(source, PopulationSpec):
        if source.model is None:
            raise ParameterError(f"iv_curves: population '{source.name}' is an input population; it has no model.")
        model = source.model
        table = {k: float(v[neuron if len(v) > 1 else 0]) for k, v in source.values.items()}
    else:
        model = source if isinstance(source, ModelSpec) else load_model(source)
        table = {k: float(parse_quantity(v, f"{model.path}: [defaults] key '{k}'")) for k, v in model.defaults.items()}
    for key, value in (values or {}).items():
        table[key] = float(parse_quantity(value, f"iv_curves: values['{key}']"))
    where = f"I-V curves of model '{model.name}'"
    eqs = model.brian_equations
    if membrane not in eqs.diff_eq_names:
        raise ModelError(f"{where}: its equations have no variable '{membrane}' with a differential equation; pass membrane=... (one of {sorted(eqs.diff_eq_names)}).")

    def expression(name: str) -> sp.Expr:
        expr = str_to_sympy(eqs[name].expr.code)
        for _ in range(len(eqs.subexpr_names) + 1):  # substitute (nested) subexpressions
            subs = {s: str_to_sympy(eqs[s.name].expr.code) for s in expr.free_symbols if s.name in eqs.subexpr_names}
            if not subs:
                break
            expr = expr.subs(subs)
        return expr

    rhs = expression(membrane)
    symbols = {s.name: s for s in rhs.free_symbols}
    v_sym = symbols[membrane]
    if applied not in symbols:
        raise ModelError(f"{where}: the equation of '{membrane}' does not read the applied current '{applied}'; pass applied=...")
    gain = sp.diff(rhs, symbols[applied])  # 1/C
    if gain.free_symbols & set(symbols.values()) - {symbols[n] for n in table if n in symbols and n != applied}:
        raise ModelError(f"{where}: '{membrane}' must depend linearly on '{applied}' with a constant factor 1/C, got d/d{applied} = {gain}.")
    # filtered variables: dX/dt = (V - X)/tau_X with tau_X free of state variables
    states = set(eqs.diff_eq_names)
    filters = {}
    for name in sorted(states - {membrane}):
        x_rhs = expression(name)
        x_sym = next((s for s in x_rhs.free_symbols if s.name == name), None)
        if x_sym is None or x_rhs == 0:
            continue
        tau = sp.simplify((v_sym - x_sym) / x_rhs)
        if not {s.name for s in tau.free_symbols} & states:
            filters[name] = _numeric(tau, table, f"{where}: time constant of '{name}'")
    inputs = {s: 0 for n, s in symbols.items() if n not in (membrane, applied) and n not in filters and (n in states or n not in table)}
    ion = sp.expand(-(rhs.subs(inputs).subs(symbols[applied], 0)) / gain)

    taus = sorted(set(filters.values()))
    if len(taus) > len(Timescale) - 1:
        raise ModelError(f"{where}: {len(taus)} distinct filter time constants ({sorted(filters)}); at most {len(Timescale) - 1} slower timescales are supported.")
    scale_of = {membrane: Timescale.FAST} | {n: list(Timescale)[1 + taus.index(t)] for n, t in filters.items()}
    state_syms = {s for n, s in symbols.items() if n == membrane or n in filters}
    currents, passive = [], sp.Integer(0)
    for term in sp.Add.make_args(ion):
        tanhs = term.atoms(sp.tanh)
        if not tanhs:
            passive += term
            continue
        current = _localized_current(term, tanhs, state_syms) if len(tanhs) == 1 else None
        if current is None:
            raise ModelError(f"{where}: the term '{term}' is not a current alpha*tanh(X - delta) of one filtered variable X or {membrane}.")
        alpha, delta, var = current
        currents.append(
            LocalizedCurrent(
                alpha=_numeric(alpha, table, where),
                delta=_numeric(delta, table, where),
                variable=var,
                timescale=scale_of[var],
                alpha_name=_symbol_name(alpha),
                delta_name=_symbol_name(delta),
            )
        )
    g = sp.diff(passive, v_sym)
    if (g.free_symbols | (passive - g * v_sym).free_symbols) & state_syms:
        raise ModelError(f"{where}: the passive part '{passive}' of the current balance is not linear in {membrane}.")
    conductance = _numeric(g, table, where)
    time_constants = {Timescale.FAST: _numeric(1 / gain, table, where) / conductance if conductance else float("inf")}
    for name, tau in filters.items():
        time_constants[scale_of[name]] = tau
    return IVCurves(
        currents=tuple(sorted(currents, key=lambda c: c.timescale.rank)),
        conductance=conductance,
        offset=_numeric(sp.expand(passive - g * v_sym), table, where),
        i_app=table.get(applied, 0.0),
        time_constants=time_constants,
        model=model.name,
    )


def plot_iv(curves: IVCurves, path: str | Path, v_range: tuple = (-3.0, 3.0), v0: float | None = None, samples: int = 601) -> Path:
    """Draw the fast, slow and steady-state I-V curves into a PNG.

    Negative-slope parts are red (regenerative), the rest blue; the
    steady-state panel shows ``I_app`` and the equilibria (every panel shows
    ``I_app`` when the slower variables are held at ``v0``: with ``v0`` an
    equilibrium, all three curves cross it there). Returns the path.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("plot_iv needs matplotlib: pip install 'bioadapt[plot]'.") from None
    v = np.linspace(v_range[0], v_range[1], samples)
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    for k, scale in enumerate(Timescale):
        ax = fig.add_subplot(1, 3, k + 1)
        current = curves.curve(scale, v, v0)
        negative = curves.slope(scale, v) < 0
        ax.plot(v, np.where(negative, np.nan, current), color="C0", label="positive slope")
        ax.plot(v, np.where(negative, current, np.nan), color="C3", label="negative slope")
        if scale is Timescale.ULTRASLOW or v0 is not None:
            ax.axhline(curves.i_app, color="C2", lw=1, label=f"I_app = {curves.i_app:g}")
        if scale is Timescale.ULTRASLOW:
            eq = curves.equilibria()
            eq = eq[(eq >= v_range[0]) & (eq <= v_range[1])]
            ax.plot(eq, curves.steady_state(eq), "ko", ms=5, label="equilibria")
        tau = curves.time_constants.get(scale)
        ax.set_title(f"{scale.value}" + (f" (tau = {tau * 1e3:g} ms)" if tau else "") + ("" if scale is Timescale.ULTRASLOW or v0 is None else f", V0 = {v0:g}"))
        ax.set_xlabel("V")
        ax.set_ylabel("I")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"I-V curves of model '{curves.model}'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
