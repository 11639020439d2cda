"""``exp()`` of per-neuron constants in program code, computed once per network.

A model's program (``[programs.NAME]``) may evaluate ``exp(-dt/tau)`` for every
neuron in every step, with ``tau`` a parameter that no code of the network
writes or drives: the `li` readout does so twice per neuron and step. Such a
call is replaced in the code by a derived per-neuron constant
``bioadapt_exp_<k>`` (one per distinct exponent), computed once per network
with numpy and handed to Brian2, as the ``symplectic_euler`` decays
(`DecaySystem`) are. The twin reads the same constant, recomputed from its
parameters in every forward pass (numpy forward, torch derivatives backward),
so both still run the same statements on the same numbers.

Only exponents made of such parameters, ``dt`` and numbers with ``+ - * /``
are taken; the code is otherwise left as written (the expression tree of a
rewritten statement is kept, so its operations and their order are those of
the original).
"""

from __future__ import annotations

import ast
import re
from abc import ABC, abstractmethod

import numpy as np

from .exact import DERIVED_PREFIX, SchemeNotApplicable

__all__ = ["ExponentialConstants", "ProgramExponentials"]

_STATEMENT = re.compile(r"^(\s*[A-Za-z_]\w*\s*)(=|\+=|-=|\*=|/=)(?!=)(.*)$")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _constant_arithmetic(node: ast.AST, constant: set, used: set) -> bool:
    """Whether ``node`` is arithmetic in ``constant`` names, ``dt`` and numbers (names collected in ``used``)."""
    if isinstance(node, ast.Name):
        if node.id in constant:
            used.add(node.id)
            return True
        return node.id == "dt"
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd)) and _constant_arithmetic(node.operand, constant, used)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _OPERATORS) and _constant_arithmetic(node.left, constant, used) and _constant_arithmetic(node.right, constant, used)
    return False


class ExponentialConstants(ABC):
    """Per-neuron constants ``exp(exponent)``, each exponent a function of
    parameters and ``dt``: what Brian2 receives as derived constants, and the
    twin recomputes with gradients. The interface of the exact scheme's
    `LinearSystem` (``parameters``, `derived_names`, `propagators`; the
    twin's torch version is `bioadapt.backends.torch.propagators`), shared
    by `DecaySystem` (the ``symplectic_euler`` decays) and
    `ProgramExponentials`.

    Subclasses set ``parameters`` (sorted names), ``_exponents`` (derived
    name -> ``f(args, dt)``, ``args`` a dict of per-neuron arrays or tensors)
    and `_not_finite` (the message for a constant that is not finite).
    """

    #: the twin's torch version of the constants is elementwise: on a GPU the twin computes them there
    on_device = True
    parameters: list
    _exponents: dict

    def derived_names(self) -> list[str]:
        return list(self._exponents)

    @abstractmethod
    def _not_finite(self, name: str) -> str:
        """The error message for a derived constant ``name`` that is not finite."""

    def propagators(self, values: dict, size: int, dt: float) -> dict:
        """The derived constants for ``size`` neurons (SI parameter values; missing -> 0, as Brian2)."""
        args = {p: np.broadcast_to(np.asarray(values.get(p, 0.0), dtype=float), (size,)) for p in self.parameters}
        out = {}
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            for name, exponent in self._exponents.items():
                value = np.exp(np.broadcast_to(np.asarray(exponent(args, dt), dtype=float), (size,)))
                if not np.all(np.isfinite(value)):
                    raise SchemeNotApplicable(self._not_finite(name))
                out[name] = value.copy()
        return out

    def exponent_functions(self) -> dict:
        """Derived name -> ``f(args, dt)``, its exponent (arithmetic only: ``args``
        per-neuron numpy arrays or torch tensors, as the twin's
        `bioadapt.backends.torch.propagators` evaluates them)."""
        return self._exponents


class ProgramExponentials(ExponentialConstants):
    """The ``exp(...)`` calls of a population's program blocks whose exponent
    depends only on parameters that nothing writes during a run (``constant``),
    ``dt`` and numbers, as derived per-neuron constants.

    ``blocks`` is the program with each such call replaced by its
    constant's name; ``exponents`` maps the names to the exponents' text.
    """

    def __init__(self, blocks: dict, constant: set):
        self.exponents = {}  # derived name -> exponent (source text)
        self._trees = {}
        used = set()
        names = {}  # exponent source -> derived name

        class _Hoist(ast.NodeTransformer):
            def visit_Call(self, node):
                self.generic_visit(node)
                if isinstance(node.func, ast.Name) and node.func.id == "exp" and len(node.args) == 1 and not node.keywords:
                    found = set()
                    if _constant_arithmetic(node.args[0], constant, found) and found:
                        key = ast.unparse(node.args[0])
                        if key not in names:
                            names[key] = f"{DERIVED_PREFIX}exp_{len(names)}"
                            self.outer.exponents[names[key]] = key
                            self.outer._trees[names[key]] = node.args[0]
                            used.update(found)
                        self.changed = True
                        return ast.copy_location(ast.Name(id=names[key], ctx=ast.Load()), node)
                return node

        self.blocks = {}
        for slot, code in blocks.items():
            lines = []
            for line in code.splitlines():
                match = _STATEMENT.match(line)
                tree = None
                if match is not None:
                    try:
                        tree = ast.parse(match.group(3).strip(), mode="eval")
                    except SyntaxError:
                        tree = None
                if tree is None:
                    lines.append(line)
                    continue
                hoist = _Hoist()
                hoist.outer, hoist.changed = self, False
                tree = hoist.visit(tree)
                lines.append(f"{match.group(1)}{match.group(2)} {ast.unparse(tree)}" if hoist.changed else line)
            self.blocks[slot] = "\n".join(lines)
        self.names = list(self.exponents)
        self.parameters = sorted(used)
        self._exponents = {name: _evaluator(compile(ast.Expression(tree), f"<exponent {self.exponents[name]}>", "eval")) for name, tree in self._trees.items()}

    def _not_finite(self, name: str) -> str:
        return f"program: exp({self.exponents[name]}) is not finite for some neurons (check the time constants)."


def _evaluator(code):
    """``f(args, dt)`` evaluating compiled arithmetic of parameter names, ``dt`` and numbers."""
    return lambda args, dt: eval(code, {"__builtins__": {}}, dict(args, dt=dt))  # noqa: S307 (names and numbers only)
