"""Brian2's own examples, ported to model and network files as a Brian2 user would
write them: the numpy runtime, cpp_standalone and the twin give identical spikes
and bitwise identical traces (float64), and the values set from expressions are
what Brian2 sets.

Each port keeps the example's equations, constants, method, connection rule and
initial values (expressions included); networks are scaled down where the
example is large (same synapses per neuron), and runs are shortened.
"""

from pathlib import Path

import brian2 as b2
import numpy as np
import pytest

from bioadapt import network_from_dict
from helpers import assert_same_spikes, assert_same_traces, run_all

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"


def cuba(steps=2000):
    """examples/CUBA.py at 400 neurons (p = 0.2 instead of 0.02: 80 synapses per neuron)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 11,
        "populations": {"P": {"model": "../../models/valid/cuba.toml", "size": 400, "scheme": "exact",
                              "values": {"v": "Vr + rand() * (Vt - Vr)", "ge": "0*mV", "gi": "0*mV"}}},
        "projections": [
            {"name": "Ce", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"condition": "i<320", "p": 0.2}, "weight": "(60*0.27/10)*mV"},
            {"name": "Ci", "source": "P", "target": "P", "on_pre": "gi_post += weight", "connect": {"condition": "i>=320", "p": 0.2}, "weight": "(-20*4.5/10)*mV"},
        ],
    }, {"P": ["v"]}


def cobahh(steps=1000):
    """examples/COBAHH.py at 400 neurons (320 excitatory; p = 0.2)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 12,
        "populations": {"P": {"model": "cobahh.toml", "size": 400, "scheme": "exponential_euler",
                              "values": {"v": "El + (randn() * 5 - 5)*mV", "ge": "(randn() * 1.5 + 4) * 10.*nS", "gi": "(randn() * 12 + 20) * 10.*nS"}}},
        "projections": [
            {"name": "Ce", "source": "P", "target": "P", "on_pre": "ge_post += weight", "connect": {"condition": "i < 320", "p": 0.2}, "weight": "6*nS"},
            {"name": "Ci", "source": "P", "target": "P", "on_pre": "gi_post += weight", "connect": {"condition": "i >= 320", "p": 0.2}, "weight": "67*nS"},
        ],
    }, {"P": ["v", "m", "h"]}


def gapjunctions(steps=5000):
    """examples/synapses/gapjunctions.py (10 neurons, every pair coupled, the example's 500 ms)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 13,
        "populations": {"neurons": {"model": "gapjunctions.toml", "size": 10, "scheme": "exact", "values": {"v": "i * 1.0 / (N-1)"}}},
        "projections": [{"name": "S", "source": "neurons", "target": "neurons", "summed": "Igap_post = weight * (v_pre - v_post)", "connect": "all_to_all", "weight": 0.02}],
    }, {"neurons": ["v", "Igap"]}


def hindmarsh_rose(steps=3000):
    """examples/frompapers/Hindmarsh_Rose_1984.py (its first 300 ms)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 14,
        "populations": {"neuron": {"model": "hindmarsh_rose.toml", "size": 3, "scheme": "rk4",
                                   "values": {"x": "x_1", "y": "c - d*x**2", "z": "r*(s*(x - x_1))", "I": [0.4, 2, 4]}}},
    }, {"neuron": ["x", "y", "z"]}


def wang_buzsaki(steps=4000):
    """examples/frompapers/Wang_Buszaki_1996.py (dt = 0.01 ms, its first 40 ms)."""
    return {
        "dt": "0.01*ms", "duration": f"{steps}*0.01*ms", "seed": 15,
        "populations": {"neuron": {"model": "wang_buzsaki.toml", "size": 1, "scheme": "exponential_euler", "values": {"v": "-70*mV", "h": 1}}},
    }, {"neuron": ["v", "h", "n"]}


def if_curve_lif(steps=2000):
    """examples/IF_curve_LIF.py at 100 neurons (its first 200 ms)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 16,
        "populations": {"group": {"model": "if_curve_lif.toml", "size": 100, "scheme": "exact", "values": {"v": "0*mV", "v0": "20*mV * i / (N-1)"}}},
    }, {"group": ["v"]}


def if_curve_hh(steps=2000):
    """examples/IF_curve_Hodgkin_Huxley.py at 20 neurons (its first 200 ms)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 17,
        "populations": {"group": {"model": "if_curve_hh.toml", "size": 20, "scheme": "exponential_euler", "values": {"v": "El", "I": "0.7*nA * i / N"}}},
    }, {"group": ["v", "m"]}


def phase_locking(steps=3000):
    """examples/phase_locking.py (100 neurons, its first 300 ms)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 18,
        "populations": {"neurons": {"model": "phase_locking.toml", "size": 100, "scheme": "euler", "values": {"v": "rand()", "a": "0.05 + 0.7*i/N"}}},
    }, {"neurons": ["v"]}


def brunel_hakim(steps=1000):
    """examples/frompapers/Brunel_Hakim_1999.py at 1000 neurons (C = 200 synapses per
    neuron at the example's sparseness 0.2; J = 0.5 mV keeps C*J), its 100 ms. Noise: xi."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 19,
        "populations": {"group": {"model": "brunel_hakim_1999.toml", "size": 1000, "scheme": "euler", "values": {"V": "Vr"}}},
        "projections": [{"name": "conn", "source": "group", "target": "group", "on_pre": "V_post += weight", "connect": {"p": 0.2}, "weight": "-0.5*mV", "delay": "2*ms"}],
    }, {"group": ["V"]}


def non_reliability(steps=5000):
    """examples/non_reliability.py (25 neurons, its 500 ms). Noise: xi, (unless refractory)."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 20,
        "populations": {"neurons": {"model": "non_reliability.toml", "size": 25, "scheme": "euler"}},
    }, {"neurons": ["x"]}


def ornstein_uhlenbeck(steps=10000):
    """examples/advanced/Ornstein_Uhlenbeck.py (its two processes, the first 1 s of 10 s). Noise: xi."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 21,
        "populations": {"N": {"model": "ornstein_uhlenbeck.toml", "size": 2, "scheme": "euler",
                              "values": {"tau": ["1*second", "0.1*second"], "sigma": [0.1, 0.31622], "y": 1}}},
    }, {"N": ["y"]}


def jansen_rit(steps=10000):
    """examples/frompapers/Jansen_Rit_1995_single_column.py (its six columns, the first
    1 s of 5 s). Input: a TimedArray of random pulse rates (``nstim(t)``, dt = 2 ms),
    drawn here from numpy's generator as the example draws it."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 22,
        "timed_arrays": {"nstim": {"values": np.random.default_rng(22).random(70000), "dt": "2*ms"}},
        "populations": {"n": {"model": "jansen_rit_1995.toml", "size": 6, "scheme": "euler", "values": {"C1": [68, 128, 135, 270, 675, 1350]}}},
    }, {"n": ["y0", "y1", "y2"]}


#: Sturzl et al. 2000: the scorpion's legs and the prey's angle
STURZL_GAMMA = (22.5 + 45 * np.arange(8)) * np.pi / 180  # leg angles
STURZL_PHI = 144 * np.pi / 180  # angle of the prey


def sturzl(steps=5000):
    """examples/frompapers/Sturzl_et_al_2000.py (its 500 ms): eight noisy legs (xi) read
    the surface wave, a TimedArray of the example's construction (random phases drawn
    from numpy's generator), each at its own delay (``rates(t - d)``); eight command
    neurons (alpha currents, ``exact``) get one excitatory leg and three delayed
    inhibitory ones (``abs(((j - i) % N_post) - N_post/2) <= 1``)."""
    time = np.arange(steps + 1) * 1e-4
    phases = np.random.default_rng(23).random(301)
    w, total = 0.0, 0.0
    for k, f in enumerate(np.arange(150, 451)):
        D = np.exp(-((f - 300) ** 2) / (2 * 50**2))
        w = w + 100 * D * np.cos(2 * np.pi * f * time + 2 * np.pi * phases[k])
        total += D
    delay = 2.5e-2 / 50 * (1 - np.cos(STURZL_PHI - STURZL_GAMMA))  # R/vr (1 - cos(phi - gamma))
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 23,
        "timed_arrays": {"rates": {"values": 0.01 * w / total, "dt": "0.1*ms"}},
        "populations": {
            "legs": {"model": "sturzl_legs.toml", "size": 8, "scheme": "euler", "values": {"d": [f"{float(d)!r}*second" for d in delay]}},
            "neurons": {"model": "sturzl_neurons.toml", "size": 8, "scheme": "exact"},
        },
        "projections": [
            {"name": "synapses_ex", "source": "legs", "target": "neurons", "on_pre": "y_post += weight", "connect": "one_to_one", "weight": 7},
            {"name": "synapses_inh", "source": "legs", "target": "neurons", "on_pre": "y_post += weight", "connect": {"condition": "abs(((j - i) % N_post) - N_post/2) <= 1"}, "weight": -2, "delay": "0.7*ms"},
        ],
    }, {"legs": ["v"], "neurons": ["v", "x"]}


def morris_lecar(steps=5000):
    """examples/frompapers/Morris_Lecar_1981.py (17 neurons, dt = 0.01 ms, its first 50 ms
    of 220); n starts at its steady state, ``neuron.n = 'n_inf'`` (a subexpression)."""
    return {
        "dt": "0.01*ms", "duration": f"{steps}*0.01*ms", "seed": 24,
        "populations": {"neuron": {"model": "morris_lecar_1981.toml", "size": 17, "scheme": "exponential_euler",
                                   "values": {"I": "(i*25 + 100)*uA", "V": "V_L", "n": "n_inf"}}},
    }, {"neuron": ["V", "n"]}


COUPLING = (0, 1, 2, 4)  # the example's K values (in Hz)


def coupled_oscillators(steps=1000):
    """examples/coupled_oscillators.py: its four runs (K = 0, 1, 2, 4 Hz) as four
    populations of 100 oscillators, each coupled all to all (a summed variable), dt = 1 ms,
    the first 1 s of 10 s; omega = clip(0.5 + randn()*0.5, 0, inf) rad/s."""
    populations, projections = {}, []
    for k in COUPLING:
        populations[f"K{k}"] = {"model": "coupled_oscillators.toml", "size": 100, "scheme": "euler",
                                "values": {"Theta": "rand()*2*pi", "omega": "clip(0.5 + randn()*0.5, 0, inf)*radian/second", "K": f"{k}*Hz"}}
        projections.append({"name": f"connections{k}", "source": f"K{k}", "target": f"K{k}", "summed": "coupling_post = sin(Theta_pre - Theta_post)", "connect": "all_to_all"})
    return {"dt": "1*ms", "duration": f"{steps}*ms", "seed": 25, "populations": populations, "projections": projections}, {f"K{k}": ["Theta"] for k in COUPLING}


STDP_SYNAPSES = """
w : 1
dApre/dt = -Apre / taupre : 1 (event-driven)
dApost/dt = -Apost / taupost : 1 (event-driven)
taupre : second (constant, shared)
taupost : second (constant, shared)
gmax : 1 (constant, shared)
dApre : 1 (constant, shared)
dApost : 1 (constant, shared)
"""


def stdp(steps=5000, n=200, gmax=0.05):
    """examples/synapses/STDP.py (Song, Miller and Abbott 2000) with 200 Poisson inputs
    instead of 1000 (gmax 0.05 instead of 0.01: the same mean drive), its first 500 ms:
    event-driven traces Apre and Apost, on_pre and on_post updating w."""
    dapre = 0.01 * gmax
    dapost = -0.01 * 1.05 * gmax  # dApost = -dApre * taupre / taupost * 1.05, times gmax
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 26,
        "populations": {"poisson_input": {"kind": "poisson", "size": n, "rate": "15*Hz"},
                        "neurons": {"model": "stdp_neuron.toml", "size": 1, "scheme": "euler"}},
        "projections": [{"name": "S", "source": "poisson_input", "target": "neurons", "model": STDP_SYNAPSES,
                         "on_pre": "ge += w\nApre += dApre\nw = clip(w + Apost, 0, gmax)",
                         "on_post": "Apost += dApost\nw = clip(w + Apre, 0, gmax)",
                         "values": {"w": f"rand() * {gmax}", "taupre": "20*ms", "taupost": "20*ms", "gmax": gmax, "dApre": dapre, "dApost": dapost}}],
    }, {"neurons": ["v", "ge"], "S": ["w", "Apre", "Apost"]}


def nonlinear(steps=10000):
    """examples/synapses/nonlinear.py (NMDA synapses): clock-driven synaptic equations
    (Brian2's default method), their sum into the target's g, on_pre 'x += w'; the example's 1 s."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 27,
        "populations": {"neuron_input": {"model": "nonlinear_input.toml", "size": 2, "scheme": "euler", "values": {"v": [0.0, 0.5]}},
                        "neurons": {"model": "nonlinear_neuron.toml", "size": 1, "scheme": "exact"}},
        "projections": [{"name": "S", "source": "neuron_input", "target": "neurons", "on_pre": "x += w",
                         "model": "dg_syn/dt = -a*g_syn+b*x*(1-g_syn) : 1 (clock-driven)\ng_post = g_syn : 1 (summed)\n"
                                  "dx/dt=-c*x : 1 (clock-driven)\nw : 1 # synaptic weight\na : Hz (constant, shared)\nb : Hz (constant, shared)\nc : Hz (constant, shared)",
                         "values": {"w": [1.0, 10.0], "a": "1/(10*ms)", "b": "1/(10*ms)", "c": "1/(10*ms)"}}],
    }, {"neurons": ["v", "g"], "S": ["g_syn", "x"]}


TSODYKS_SYNAPSES = """
dx/dt =  z/tau_rec   : 1 (clock-driven) # recovered
dy/dt = -y/tau_inact : 1 (clock-driven) # active
A_SE : ampere
U_SE : 1
tau_inact : second
tau_rec : second
z = 1 - x - y : 1 # inactive
I_syn_post = A_SE*y : ampere (summed)
"""
TSODYKS_FACILITATION = """
du/dt = -u/tau_facil : 1 (clock-driven)
tau_facil : second
"""


def tsodyks(panel="B", steps=12000):
    """examples/frompapers/Tsodyks_Pawelzik_Markram_1998.py, panel A (depressing synapse)
    or B (facilitating): a 20 Hz train from 100 ms to 1100 ms through one dynamic
    synapse (clock-driven, exponential_euler) onto a passive neuron; the example's 1.2 s."""
    neuron, synapse = ({"tau_mem": "40*ms", "R_in": "100*Mohm"}, {"tau_inact": "3*ms", "A_SE": "250*pA", "tau_rec": "800*ms", "U_SE": 0.6}) if panel == "A" else \
        ({"tau_mem": "60*ms", "R_in": "1*Gohm"}, {"tau_inact": "1.5*ms", "A_SE": "1540*pA", "tau_rec": "130*ms", "U_SE": 0.03, "tau_facil": "530*ms"})
    model, action = TSODYKS_SYNAPSES, "y += U_SE*x # important: update y first\nx += -U_SE*x"
    if panel == "B":
        model, action = model + TSODYKS_FACILITATION, "u += U_SE*(1-u)\ny += u*x # important: update y first\nx += -u*x"
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 28,
        "populations": {"stimulus": {"kind": "spikes", "size": 1},
                        "neuron": {"model": "tsodyks_neuron.toml", "size": 1, "scheme": "exact", "values": neuron}},
        "projections": [{"name": "synapses", "source": "stimulus", "target": "neuron", "model": model, "on_pre": action,
                         "method": "exponential_euler", "values": dict(synapse, x=1)}],
    }, {"neuron": ["v", "I_syn"], "synapses": ["x", "y"]}


#: input spikes of the ports with a SpikeGeneratorGroup (times in seconds)
INPUTS = {"Tsodyks_Pawelzik_Markram_1998": {"stimulus": {"i": np.zeros(20, dtype=int), "t": 0.1 + np.arange(20) * 0.05}}}


def brunel_2000(steps=1000, g=6.0, nu_ratio=4.0):
    """examples/frompapers/Brunel_2000.py, Fig. 8B (g = 6, nu_ext/nu_thr = 4: asynchronous
    irregular) at 1250 neurons: one population and its subgroups neurons[:N_E] and
    neurons[N_E:] as sources, as in the example; C_E = 100 at its sparseness 0.1 with J = 1 mV
    keeping J*C_E; the external input is its PoissonInput (C_ext = C_E inputs at
    nu_ext = nu_ratio * theta/(J*C_E*tau)); its first 100 ms."""
    n_e, n_i, c_e, j = 1000, 250, 100, 1.0  # j in mV
    nu_ext = nu_ratio * 20.0 / (j * c_e * 20e-3)  # Hz
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 27,
        "populations": {"neurons": {"model": "brunel_2000.toml", "size": n_e + n_i, "scheme": "exact", "values": {"v": "0*mV"}}},
        "projections": [{"name": "exc_synapses", "source": f"neurons[:{n_e}]", "target": "neurons", "on_pre": "v_post += weight", "connect": {"p": 0.1}, "delay": "1.5*ms", "weight": f"{j}*mV"},
                        {"name": "inhib_synapses", "source": f"neurons[{n_e}:]", "target": "neurons", "on_pre": "v_post += weight", "connect": {"p": 0.1}, "delay": "1.5*ms", "weight": f"{-g * j}*mV"}],
        "poisson_inputs": [{"name": "external_poisson_input", "target": "neurons", "target_var": "v", "N": c_e, "rate": f"{nu_ext}*Hz", "weight": f"{j}*mV"}],
    }, {"neurons": ["v"]}


def reliability(steps=5000):
    """examples/reliability.py (25 neurons, its 500 ms): the neurons read the common noisy
    input through a linked variable (neurons.I = linked_var(neuron_input, 'x')). Noise: xi."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 28,
        "populations": {"neuron_input": {"model": "reliability_input.toml", "size": 1, "scheme": "euler"},
                        "neurons": {"model": "reliability_neuron.toml", "size": 25, "scheme": "euler", "values": {"x": "rand()"}, "linked": {"I": "neuron_input.x"}}},
    }, {"neurons": ["x"], "neuron_input": ["x"]}


def brette_guigon(steps=2000, n=100):
    """examples/frompapers/Brette_Guigon_2003.py at 100 neurons (of 500), its first 200 ms: a
    shared subexpression of a linked variable (B of x). Noise: xi."""
    return {
        "dt": "0.1*ms", "duration": f"{steps}*0.1*ms", "seed": 29,
        "populations": {"input": {"model": "brette_guigon_input.toml", "size": 1, "scheme": "euler"},
                        "neurons": {"model": "brette_guigon_neuron.toml", "size": n, "scheme": "euler", "values": {"p": "1.0*i/N", "v": "rand()"}, "linked": {"x": "input.x"}}},
    }, {"neurons": ["v"], "input": ["x"]}


def izhikevich_2003(steps=1000, ne=160, ni=40, noise=True):
    """examples/frompapers/Izhikevich_2003.py (Fig. 3) at 200 neurons (of 1000; weights times 5
    keep the input per neuron), its 1000 ms at dt = 1 ms: one projection with two pathways,
    on_pre = {up = "I += w", down = "I -= w"} with delays 0 and 1 ms (a one-step rectangular
    current); a, b, c, d from one uniform draw r per neuron, set per subgroup with int(i < Ne) as
    a Brian2 user writes it for the whole group. Noise: randn() every 1 ms, 5 for the excitatory
    and 2 for the inhibitory neurons, by the example's two run_regularly on the subgroups N[:Ne]
    and N[Ne:] (without noise: a constant I_noise of the same spread)."""
    scale = 1000 / (ne + ni)
    exc, inh = f"int(i < {ne})", f"int(i >= {ne})"
    values = {"v": -65, "r": "rand()", "u": "b*v",
              "a": f"0.02 + 0.08*r*{inh}", "b": f"0.2 + (0.05 - 0.05*r)*{inh}",
              "c": f"(-65 + 15*r**2)*{exc} - 65*{inh}", "d": f"(8 - 6*r**2)*{exc} + 2*{inh}"}
    net = {
        "dt": "1*ms", "duration": f"{steps}*ms", "seed": 30,
        "populations": {"N": {"model": "izhikevich_2003.toml", "size": ne + ni, "scheme": "euler", "values": values}},
        "projections": [{"name": "S", "source": "N", "target": "N", "model": "w : 1", "connect": "all_to_all",
                         "on_pre": {"up": "I += w", "down": "I -= w"}, "delay": {"up": "0*ms", "down": "1*ms"},
                         "values": {"w": f"{scale}*(0.5*{exc} - {inh})*rand()"}}],
    }
    if noise:
        net["run_regularly"] = [{"target": f"N[:{ne}]", "code": "I_noise = 5*randn()", "dt": "1*ms"},
                                {"target": f"N[{ne}:]", "code": "I_noise = 2*randn()", "dt": "1*ms"}]
    else:
        values["I_noise"] = f"(5*{exc} + 2*{inh})*(2*rand() - 0.5)"
    return net, {"N": ["v", "u", "I"]}


PORTS = {
    "CUBA": cuba, "COBAHH": cobahh, "gapjunctions": gapjunctions, "Hindmarsh_Rose_1984": hindmarsh_rose, "Wang_Buszaki_1996": wang_buzsaki,
    "IF_curve_LIF": if_curve_lif, "IF_curve_Hodgkin_Huxley": if_curve_hh, "phase_locking": phase_locking,
    "Brunel_Hakim_1999": brunel_hakim, "non_reliability": non_reliability, "Ornstein_Uhlenbeck": ornstein_uhlenbeck,
    "Jansen_Rit_1995_single_column": jansen_rit, "Sturzl_et_al_2000": sturzl,
    "Morris_Lecar_1981": morris_lecar, "coupled_oscillators": coupled_oscillators,
    "STDP": stdp, "nonlinear": nonlinear, "Tsodyks_Pawelzik_Markram_1998": tsodyks, "Brunel_2000": brunel_2000,
    "reliability": reliability, "Brette_Guigon_2003": brette_guigon, "Izhikevich_2003": izhikevich_2003,
}


@pytest.mark.parametrize("name", sorted(PORTS))
def test_port_twin_equals_numpy(name):
    net, record = PORTS[name]()
    spec = network_from_dict(net, folder=MODELS)
    res = run_all(spec, ["numpy", "torch"], record, INPUTS.get(name))
    assert_same_spikes(res["numpy"], res["torch"])
    assert_same_traces(res["numpy"], res["torch"])
    for pop, variables in record.items():
        trace = res["torch"].traces[pop][variables[0]]
        assert np.ptp(trace) > 0, f"{name}: {pop}.{variables[0]} does not move"


@pytest.mark.slow  # one compiled project per port (about 2.5 minutes in all); CI runs the slow tests
@pytest.mark.brian_standalone
@pytest.mark.parametrize("name", sorted(PORTS))
def test_port_twin_equals_cpp_standalone(name):
    net, record = PORTS[name]()
    spec = network_from_dict(net, folder=MODELS)
    res = run_all(spec, ["cpp_standalone", "torch:libm"], record, INPUTS.get(name))
    assert_same_spikes(res["cpp_standalone"], res["torch:libm"])
    assert_same_traces(res["cpp_standalone"], res["torch:libm"])


def test_ports_fire_as_their_examples_do():
    """The ports do what the examples show: CUBA fires, the gap junctions change
    the spike trains, Hindmarsh-Rose bursts throughout for I = 2, fires throughout for 4, and fires
    one burst for I = 0.4 (the example's Figure 6)."""
    cuba_run = run_all(network_from_dict(cuba()[0], folder=MODELS), ["torch"], {})["torch"]
    assert 200 < len(cuba_run.spike_set("P")) < 4000
    coupled = gapjunctions()[0]
    uncoupled = dict(coupled, projections=[dict(coupled["projections"][0], weight=0.0)])
    gap, alone = (run_all(network_from_dict(net, folder=MODELS), ["torch"], {"neurons": ["Igap"]})["torch"] for net in (coupled, uncoupled))
    assert len(gap.spike_set("neurons")) > 100 and np.abs(gap.traces["neurons"]["Igap"]).max() > 0.001
    assert gap.spike_set("neurons") != alone.spike_set("neurons") and not alone.traces["neurons"]["Igap"].any()
    hr = run_all(network_from_dict(hindmarsh_rose(steps=21000)[0], folder=MODELS), ["numpy"], {"neuron": ["x"]})["numpy"]
    x = hr.traces["neuron"]["x"]
    upswings = [np.flatnonzero(np.diff((x[:, k] > 0).astype(int)) == 1) * 0.1 for k in range(3)]  # ms
    assert 0 < len(upswings[0]) < 20 and upswings[0].max() < 300  # one burst at the start, then rest
    assert upswings[1].max() > 1500 and len(upswings[2]) > 2 * len(upswings[1])  # bursts throughout; faster for I = 4


def test_if_curve_of_the_lif_port_against_its_closed_form():
    """IF_curve_LIF: from v = 0, a neuron with drive v0 > 10 mV fires after
    tau*ln(v0/(v0 - 10 mV)) and then every 5 ms + that time (spikes on the 0.1 ms
    grid: within one spike of the closed form over 200 ms); v0 <= 10 mV never fires."""
    net, _ = if_curve_lif()
    spikes = run_all(network_from_dict(net, folder=MODELS), ["torch"], {})["torch"].spikes["group"][0]
    counts = np.bincount(spikes, minlength=100)
    v0 = 20e-3 * np.arange(100) / 99
    above = v0 > 10e-3
    rise = 10e-3 * np.log(v0[above] / (v0[above] - 10e-3))
    expected = np.floor((0.2 - rise) / (rise + 5e-3)) + 1
    assert not counts[~above].any() and np.all(np.abs(counts[above] - expected) <= 1)
    assert np.all(np.diff(counts[above]) >= 0) and counts[-1] > 10


def _brian2_group(model_path, size, given):
    """A NeuronGroup of the model's equations with the ``given`` values set (numpy runtime)."""
    from bioadapt.models import load_model

    model = load_model(model_path)
    group = b2.NeuronGroup(size, model.brian_equations, namespace={}, method="euler")
    for var, value in given.items():
        setattr(group, var, value)
    return group


def test_initial_values_are_those_brian2_sets():
    """The port's values against ``G.var = "..."`` in Brian2 on the same parameters."""
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        spec = network_from_dict(hindmarsh_rose()[0], folder=MODELS)
        values = spec.populations["neuron"].values
        group = _brian2_group(MODELS / "hindmarsh_rose.toml", 3, {k: values[k] for k in ("a", "b", "c", "d", "r", "s", "x_1")})
        group.x = "x_1"
        group.y = "c - d*x**2"
        group.z = "r*(s*(x - x_1))"
        group.I = [0.4, 2, 4]
        for var in ("x", "y", "z", "I"):
            assert np.array_equal(np.asarray(getattr(group, var)[:]), values[var]), var
    finally:
        b2.prefs.codegen.target = target


def test_noisy_ports_behave_as_their_examples():
    """Brunel-Hakim 1999: the neurons fire at low rates (below 20 Hz) while the
    population's activity oscillates fast (spectral peak between 80 and 250 Hz;
    the paper's regime). non_reliability: the 25 neurons (trials of one neuron
    under one constant input) give 25 different spike trains with the noise and
    one without it (sigma = 0)."""
    group = run_all(network_from_dict(brunel_hakim()[0], folder=MODELS), ["torch"], {})["torch"]
    indices, steps = group.spikes["group"]
    assert 0.5 < len(indices) / 1000 / 0.1 < 20
    activity = np.convolve(np.bincount(steps, minlength=1000), np.ones(10), "same")[200:]  # after the first 20 ms
    spectrum = np.abs(np.fft.rfft(activity - activity.mean()))
    assert 80 < np.fft.rfftfreq(len(activity), 1e-4)[np.argmax(spectrum[1:]) + 1] < 250
    net = non_reliability()[0]
    for sigma, trains in ((0.015, 25), (0, 1)):
        net["populations"]["neurons"]["values"] = {"sigma": sigma}
        indices, steps = run_all(network_from_dict(net, folder=MODELS), ["torch"], {})["torch"].spikes["neurons"]
        assert len({tuple(steps[indices == k]) for k in range(25)}) == trains and np.bincount(indices, minlength=25).min() >= 5


def test_linked_input_makes_spike_timing_reliable():
    """reliability.py: neurons that read one noisy input (a linked variable) fire together,
    in spite of their own noise (over half of the spikes fall in 1 ms bins where at least 12
    of the 25 neurons fire); with their own noise 33 times larger, no bin has that many."""
    net, _ = reliability()
    for sigma, least, most in ((0.015, 0.5, 1.0), (0.5, 0.0, 0.05)):
        net["populations"]["neurons"]["values"] = {"x": "rand()", "sigma": sigma}
        indices, steps = run_all(network_from_dict(net, folder=MODELS), ["numpy"], {})["numpy"].spikes["neurons"]
        per_ms = np.bincount(steps // 10, minlength=500)
        assert least <= per_ms[per_ms >= 12].sum() / len(indices) <= most and len(indices) > 200, sigma


def test_brunel_2000_port_shows_the_papers_regimes():
    """Brunel 2000, Fig. 8 (PoissonInput as the external input): at g = 3, nu_ext = 2 nu_thr
    (panel A) the excitatory population fires synchronously and fast (the activity per step
    varies far beyond its mean); at g = 6, nu_ext = 4 nu_thr (panel B) asynchronously at a
    lower rate (first 50 ms left out)."""
    stats = {}
    for panel, g, nu in (("A", 3.0, 2.0), ("B", 6.0, 4.0)):
        spec = network_from_dict(brunel_2000(steps=3000, g=g, nu_ratio=nu)[0], folder=MODELS)
        indices, steps = run_all(spec, ["numpy"], {})["numpy"].spikes["neurons"]
        steps = steps[indices < 1000]  # the excitatory subgroup
        activity = np.bincount(steps, minlength=3000)[500:]
        stats[panel] = (len(steps) / 1000 / 0.3, activity.std() / activity.mean())
    (rate_a, cv_a), (rate_b, cv_b) = stats["A"], stats["B"]
    assert rate_a > 2 * rate_b and 20 < rate_b < 200, stats
    assert cv_a > 2.0 and cv_b < 1.0, stats


def test_timed_array_ports_behave_as_their_examples():
    """Sturzl et al. 2000: the command neurons' spike counts point at the prey (the
    example's population vector, within 10 degrees of 144). Jansen & Rit 1995 (Figure 3):
    the column with C = 135 oscillates in the alpha band (8-13 Hz); C = 270 and 675 give
    large slow waves; C = 68 and 1350 only small noise."""
    run = run_all(network_from_dict(sturzl()[0], folder=MODELS), ["torch"], {})["torch"]
    counts = np.bincount(run.spikes["neurons"][0], minlength=8)
    estimate = np.imag(np.log(np.sum(counts * np.exp(STURZL_GAMMA * 1j))))
    assert abs(np.degrees(estimate - STURZL_PHI)) < 10 and counts.sum() > 100
    eeg = run_all(network_from_dict(jansen_rit()[0], folder=MODELS), ["torch"], {"n": ["y1", "y2"]})["torch"]
    signal = (eeg.traces["n"]["y1"] - eeg.traces["n"]["y2"])[3000:]  # after 300 ms
    signal = signal - signal.mean(axis=0)
    alpha = np.fft.rfftfreq(len(signal), 1e-4)[np.argmax(np.abs(np.fft.rfft(signal[:, 2]))[1:]) + 1]
    spread = signal.std(axis=0)
    assert 8 <= alpha <= 13
    assert min(spread[3], spread[4]) > 5 * spread[2] and max(spread[0], spread[5]) < spread[2]


def test_morris_lecar_and_kuramoto_ports_behave_as_their_examples():
    """Morris-Lecar (Fig. 9): n starts at its steady state n_inf(V_L) (a subexpression,
    as Brian2 sets it), the excursion of V grows with the current, from below 0 mV for the
    smallest. Kuramoto: after 3 s the phase coherence grows with the coupling: below 0.2
    uncoupled, above 0.9 for K = 4 Hz."""
    spec = network_from_dict(morris_lecar()[0], folder=MODELS)
    values = spec.populations["neuron"].values
    target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        group = _brian2_group(MODELS / "morris_lecar_1981.toml", 17, {k: values[k] * b2.volt for k in ("V", "V_3", "V_4")})
        group.n = "n_inf"
        assert np.array_equal(np.asarray(group.n[:]), values["n"])
    finally:
        b2.prefs.codegen.target = target
    V = run_all(spec, ["torch"], {"neuron": ["V"]})["torch"].traces["neuron"]["V"]
    peaks = V.max(axis=0)
    assert np.all(np.diff(peaks) > 0) and peaks[0] < 0 < peaks[-1]
    net, record = coupled_oscillators(steps=3000)
    phases = run_all(network_from_dict(net, folder=MODELS), ["torch"], record)["torch"].traces
    coherence = [np.abs(np.exp(1j * phases[f"K{k}"]["Theta"][-1]).mean()) for k in COUPLING]
    assert coherence[0] < 0.2 and coherence[3] > 0.9 and coherence[0] < coherence[2] < coherence[3]
