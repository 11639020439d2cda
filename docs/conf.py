"""Sphinx configuration of the bioadapt documentation.

Build (from the repository root):

    .venv/bin/pip install -e '.[docs]'
    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

The tutorials (docs/tutorials/) and the fast examples run at build time; the
papers' experiments show their committed results (examples/results/).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

DOCS = Path(__file__).parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="_get_vc_env is private", category=UserWarning)

import bioadapt  # noqa: E402
from _generate import generate  # noqa: E402

generate()

project = "bioadapt"
author = "the bioadapt authors"
copyright = "the bioadapt authors"
release = version = bioadapt.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**/sg_execution_times.rst", "tutorials/GALLERY_HEADER.rst", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# -- cross references: every internal link and reference must resolve (-W) ----
nitpicky = True
nitpick_ignore_regex = [
    # types of other packages and of the standard library (no intersphinx: the build is offline)
    (r"py:.*", r"(torch|numpy|np|brian2|scipy|matplotlib|pathlib|typing|enum|dataclasses|collections|abc|builtins)(\..*)?"),
    (r"py:class", r"(int|float|str|bool|dict|list|tuple|set|object|bytes|None|callable|optional|array|array_like)"),
    # private base classes shown by show-inheritance
    (r"py:class", r".*\._\w+"),
]
default_role = "literal"
# sphinx_gallery_conf holds functions: Sphinx says it cannot cache it and rereads everything, as it should
suppress_warnings = ["config.cache"]

myst_enable_extensions = ["colon_fence", "deflist"]
highlight_language = "text"  # literal blocks without a language (commands, tables in docstrings)
myst_heading_anchors = 3

# -- API reference --------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_default_options = {"member-order": "bysource"}
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- galleries: tutorials (all run) and the papers' experiments (fast ones run) -
_OUT = Path(tempfile.mkdtemp(prefix="bioadapt-docs-"))


def _argv(gallery_conf, script_vars):
    """Arguments of the executed examples: figures and files go to a temporary folder, inputs by absolute path."""
    name = Path(script_vars["src_file"]).name
    if name == "compare_backends.py":
        return [str(ROOT / "examples" / "adlif_network.toml")]
    if name in ("adlif_discretizations.py", "mtc_iv.py"):
        return ["--out-dir", str(_OUT / name)]
    return []


class FigureFiles:
    """Scraper of the figures an executed example writes to its ``--out-dir``.

    The examples save their figures as files (what a user running them gets);
    those files are shown, and the pyplot figures behind them closed, so that
    the matplotlib scraper does not show them twice.
    """

    def __init__(self):
        self.seen = set()

    def __repr__(self):  # sphinx-gallery keys its cache on the configuration's repr
        return "FigureFiles()"

    def __call__(self, block, block_vars, gallery_conf):
        import shutil

        import matplotlib.pyplot as plt
        from sphinx_gallery.scrapers import figure_rst

        folder = _OUT / Path(block_vars["src_file"]).name
        files = sorted(p for p in folder.glob("*.png") if p not in self.seen) if folder.is_dir() else []
        if not files:
            return ""
        plt.close("all")
        paths = []
        for path, target in zip(files, block_vars["image_path_iterator"]):
            shutil.copyfile(path, target)
            self.seen.add(path)
            paths.append(target)
        # one full-width image each (figure_rst puts several side by side as thumbnails)
        return "".join(figure_rst([path], gallery_conf["src_dir"]) for path in paths)


sphinx_gallery_conf = {
    "examples_dirs": ["tutorials", "../examples"],
    "gallery_dirs": ["generated/tutorials", "generated/examples"],
    # tutorials: every script runs; examples: only the fast ones (seconds), the
    # papers' training experiments show their committed results instead
    "filename_pattern": r"(/tutorials/.*\.py|/(adlif_discretizations|mtc_iv|compare_backends)\.py)$",
    "ignore_pattern": r"__init__\.py|/examples/(mackey_glass|training|results)/",
    "reset_argv": _argv,
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "capture_repr": (),
    "image_scrapers": (FigureFiles(), "matplotlib"),
    "reference_url": {},
    "backreferences_dir": None,
    "show_signature": False,
    "write_computation_times": False,
}

# -- HTML ---------------------------------------------------------------------
html_theme = "furo"
html_title = "bioadapt"
html_static_path = []
html_show_sourcelink = False
