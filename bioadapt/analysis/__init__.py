"""Analysis tools: stability of the discrete maps the schemes generate, I-V
curves of conductance-based neurons, firing-regime classification, and
heterogeneity (value distributions, homogeneous networks). A trained network's
robustness to such changes is `bioadapt.train.robustness`."""

from ..network.transfer import per_step_values
from .heterogeneity import distributions, homogeneous, perturb, plot_distributions
from .iv import IVCurves, LocalizedCurrent, Timescale, iv_curves, plot_iv
from .regimes import FiringPattern, Regime, classify_regime, upstrokes
from .stability import DiscreteMap, discrete_map, stability_grid

__all__ = [
    "DiscreteMap",
    "FiringPattern",
    "IVCurves",
    "LocalizedCurrent",
    "Regime",
    "Timescale",
    "classify_regime",
    "discrete_map",
    "distributions",
    "homogeneous",
    "perturb",
    "plot_distributions",
    "per_step_values",
    "iv_curves",
    "plot_iv",
    "stability_grid",
    "upstrokes",
]
