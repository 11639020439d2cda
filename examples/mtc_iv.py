"""MTC neuron: I-V curves and firing regimes (Ribar & Sepulchre 2019)
====================================================================

Run it::

    python examples/mtc_iv.py [--out-dir .]

1. I-V curves of the canonical set (equations/mtc.toml defaults) at
   I_app = -2, with the slower variables held at the equilibrium V* = I_app:
   fast, slow and steady-state curves, their negative-slope regions and the
   equilibria. Writes mtc_iv.png (and mtc_iv_phasic.png for the phasic set).
2. Regimes: one population simulated by Brian2 (numpy runtime, forward Euler,
   dt = 1 ms = tau_m) holding the canonical set at I_app = -2.5 (quiescent),
   -2.0 (bursting) and 0 (tonic), and a phasic neuron (no slow negative
   current, ultraslow gain 3) stepped from I_app = -2 to 0 at 1 s. Prints
   the regime, ISI and burst statistics of each; writes mtc_regimes.png.
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from bioadapt import network_from_dict, simulate
from bioadapt.analysis import Timescale, classify_regime, iv_curves, plot_iv

STEPS, STEP_AT, SETTLED = 12_000, 1_000, 2_000.0  # ms (dt = 1 ms)
NEURONS = {
    "quiescent (I_app = -2.5)": {"I_app": -2.5},
    "bursting (I_app = -2)": {"I_app": -2.0},
    "tonic (I_app = 0)": {"I_app": 0.0},
    "phasic (a_sn = 0, a_us = 3, step -2 to 0)": {"I_app": -2.0, "a_sn": 0.0, "a_us": 3.0},
}


def iv_figures(out: Path) -> None:
    for name, values in (("mtc_iv.png", {"I_app": -2.0}), ("mtc_iv_phasic.png", {"I_app": -2.0, "a_sn": 0.0, "a_us": 3.0})):
        iv = iv_curves("mtc", values)
        (v_star,) = iv.equilibria()
        print(f"{name}: equilibrium V* = {v_star:.6f} at I_app = {iv.i_app:g}")
        for scale in Timescale:
            regions = ", ".join(f"[{lo:.4f}, {hi:.4f}]" for lo, hi in iv.negative_slope_regions(scale)) or "none"
            print(f"  {scale.value:<9s} negative slope: {regions}")
        plot_iv(iv, out / name, v0=v_star)


def simulate_regimes():
    spec = network_from_dict({"dt": "1*ms", "duration": f"{STEPS}*ms", "scheme": "euler", "populations": {"mtc": {"model": "mtc", "size": len(NEURONS)}}})
    pop = spec.population("mtc")
    values = {k: v.copy() for k, v in pop.values.items()}
    for var in ("V", "V_s", "V_us"):
        values[var] = np.zeros(pop.size)
    for k, (label, overrides) in enumerate(NEURONS.items()):
        for name, value in overrides.items():
            values[name][k] = value
        if label.startswith("phasic"):  # start at rest: the equilibrium of the steady-state I-V curve
            (v_star,) = iv_curves("mtc", overrides).equilibria()
            values["V"][k] = values["V_s"][k] = values["V_us"][k] = v_star
        else:  # start off equilibrium
            values["V"][k], values["V_s"][k], values["V_us"][k] = overrides["I_app"] + 0.5, overrides["I_app"] + 0.2, overrides["I_app"] + 0.2
    spec = dataclasses.replace(spec, populations={"mtc": dataclasses.replace(pop, values=values)})
    i_app = np.tile(values["I_app"], (STEPS, 1))
    i_app[STEP_AT:, len(NEURONS) - 1] = 0.0
    result = simulate(spec, backend="numpy", record={"mtc": ["V"]}, drive={"mtc": {"I_app": i_app}})
    return result, i_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    iv_figures(out)

    result, i_app = simulate_regimes()
    i, step = result.spikes["mtc"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8), layout="constrained")
    FigureCanvasAgg(fig)
    t = np.arange(STEPS) * 1.0
    for k, label in enumerate(NEURONS):
        spikes = step[i == k] * 1.0
        start = STEP_AT if label.startswith("phasic") else SETTLED
        p = classify_regime(spikes, start, STEPS)
        line = f"{label:<44s} -> {p.regime.value:<9s} {len(p.spike_times):4d} spikes"
        if p.regime.value == "bursting":
            full = p.bursts[1:-1]
            intra = np.concatenate([np.diff(b) for b in full])
            line += f", {np.median([len(b) for b in full]):.0f} spikes/burst, intra-burst ISI {intra.mean():.1f} ms, silence {p.inter_burst_interval.mean():.0f} ms, period {np.median(p.burst_period):.0f} ms"
        elif len(p.spike_times) > 1:
            line += f", mean ISI {p.mean_isi:.2f} ms"
        if p.regime.value == "phasic":
            line += f", last spike {p.spike_times[-1] - STEP_AT:.0f} ms after the step"
        print(line)
        ax = fig.add_subplot(len(NEURONS), 1, k + 1)
        ax.plot(t, result.traces["mtc"]["V"][:, k], lw=0.6)
        ax.plot(spikes, np.full(len(spikes), 3.2), "|", color="C3", ms=6)
        if label.startswith("phasic"):
            ax.plot(t, i_app[:, k], color="C2", lw=1, label="I_app")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"{label}: {p.regime.value}", fontsize=10)
        ax.set_ylabel("V")
        ax.set_ylim(-4, 3.6)
    ax.set_xlabel("time (ms)")
    fig.savefig(out / "mtc_regimes.png", dpi=110)
    print(f"wrote {out / 'mtc_iv.png'}, {out / 'mtc_iv_phasic.png'}, {out / 'mtc_regimes.png'}")


if __name__ == "__main__":
    main()
