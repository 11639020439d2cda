"""The frozen description of one neuron model, as read from its TOML file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from brian2 import Equations

__all__ = ["ModelSpec", "SLOTS"]

#: Brian2 schedule slots (``when=`` names) a program block may be placed in, in
#: the order Brian2 runs them within one time step.
SLOTS = (
    "start",
    "before_groups",
    "groups",
    "after_groups",
    "before_thresholds",
    "after_thresholds",
    "before_synapses",
    "after_synapses",
    "before_resets",
    "after_resets",
    "before_end",
)

_DIFF_EQ = re.compile(r"^\s*d(?P<var>[A-Za-z_]\w*)\s*/\s*dt\s*=\s*(?P<expr>.*?)\s*:\s*(?P<unit>[^()\n#]*?)\s*(?P<flags>\([^)]*\))?\s*(?P<comment>#.*)?$")


@dataclass(frozen=True)
class ModelSpec:
    """One neuron model: Brian2 equations plus optional discrete-time programs.

    Attributes
    ----------
    name : str
        Model name (file stem).
    path : Path
        File the model was read from; every error names it.
    equations : str
        Brian2 equation string (differential equations, subexpressions, parameters).
    threshold, reset, refractory : str or None
        Brian2 strings, as for ``NeuronGroup``.
    defaults : dict
        Default values of parameters and initial states, as written in the file
        (numbers or quantity strings).
    programs : dict
        ``scheme name -> {slot: abstract code}``. A program replaces the ODE state
        update when the population's scheme names it; the differential equations
        then only declare the variables (see `declarations`).
    default_scheme : str or None
        Scheme used when neither the population nor the network names one.
    every_step : dict
        ``slot -> abstract code`` run on every neuron at that slot, whatever
        the scheme (bookkeeping such as clearing one-step input variables).
    description : str
        Free text.
    retime : dict
        How the model depends on the time step (`bioadapt.network.transfer`):
        ``{"impulse": (names...)}`` (its one-step input variables) or
        ``{"per_step": reason}`` (it cannot be put on another dt); empty:
        inferred.
    """

    name: str
    path: Path
    equations: str
    threshold: str | None = None
    reset: str | None = None
    refractory: str | None = None
    defaults: dict = field(default_factory=dict)
    programs: dict = field(default_factory=dict)
    default_scheme: str | None = None
    description: str = ""
    every_step: dict = field(default_factory=dict)
    retime: dict = field(default_factory=dict)

    @cached_property
    def brian_equations(self) -> Equations:
        """The equations parsed by Brian2 (once per model)."""
        return Equations(self.equations)

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of every state variable, parameter and subexpression."""
        return tuple(self.brian_equations.names)

    def equations_for(self, scheme: str) -> str:
        """Equations to hand Brian2 for ``scheme``.

        For an explicit program the differential equations become plain
        variable declarations with the same unit (``du/dt = ... : 1`` ->
        ``u : 1``), because the program and not an integrator advances them.
        The ``unless refractory`` flag has no meaning for a declaration and is
        dropped; programs that want it read ``not_refractory`` themselves.
        """
        if scheme not in self.programs:
            return self.equations
        lines = []
        for line in self.equations.splitlines():
            match = _DIFF_EQ.match(line)
            if match:
                line = f"{match['var']} : {match['unit'].strip()}"
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ModelSpec(name={self.name!r}, path='{self.path}', programs={sorted(self.programs)})"
