"""Sphinx configuration of the gdestimators documentation.

Build (offline, warnings as errors) from the repository root::

    GDESTIMATORS_SMOKE=1 python -m sphinx -W --keep-going -b html docs docs/_build/html

``GDESTIMATORS_SMOKE=1`` runs the gallery's examples on small data (what CI
does); without it they run in full. See ``docs/README.md``.
"""

import atexit
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# scikit-learn's array-API dispatch (the GPU example) needs SciPy's array-API
# support, which SciPy reads from the environment when it is first imported:
# before anything below imports it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Document, and run the examples against, this checkout's package rather than
# an installed copy; worker processes started by the examples (dask) inherit
# the path through PYTHONPATH.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
)

# The examples also save their figures as files; the gallery takes its images
# from the open figures, so those files go to a folder removed at the end.
_figure_files = tempfile.mkdtemp(prefix="gdestimators-docs-figures-")
atexit.register(shutil.rmtree, _figure_files, ignore_errors=True)
os.environ["GDESTIMATORS_EXAMPLES_OUT"] = _figure_files

from api_reference import write_api_reference  # noqa: E402
from check_gallery_figures import missing_figures  # noqa: E402

import gdestimators  # noqa: E402

SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"

# sphinx-gallery reruns an example only when its source changes; a build in
# the other mode (smoke or full) must rerun them all, so it starts from an
# empty gallery.
_gallery = DOCS / "auto_examples"
_gallery_mode = _gallery / ".gallery_mode"
_mode_name = "smoke" if SMOKE else "full"
if _gallery.exists() and (
    not _gallery_mode.exists() or _gallery_mode.read_text() != _mode_name
):
    shutil.rmtree(_gallery)
_gallery.mkdir(exist_ok=True)
_gallery_mode.write_text(_mode_name)

project = "gdestimators"
author = "the gdestimators developers"
copyright = "the gdestimators developers"
release = gdestimators.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# The API reference lists what ``gdestimators.__all__`` exports; it is written
# here, before Sphinx looks for sources, so that a new public name gets a page
# without anyone editing the docs.
write_api_reference(gdestimators, DOCS / "api")

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "README.md", "Thumbs.db", ".DS_Store"]
root_doc = "index"

autosummary_generate = True
autodoc_default_options = {"inherited-members": True, "member-order": "groupwise"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# No intersphinx: the build must not need the network.

html_theme = "pydata_sphinx_theme"
html_title = f"gdestimators {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "quickstart": []}
html_static_path = []
html_show_sourcelink = False

_mode = (
    "smoke (small data, few iterations; numbers and curves differ from the full run)"
    if SMOKE else "full"
)
rst_epilog = f"""
.. |gallery_mode| replace:: {_mode}
"""

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Run every example: the quick start prints, the others also plot.
    "filename_pattern": r"\.py$",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "backreferences_dir": "api/backreferences",
    "doc_module": ("gdestimators",),
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
}


def _check_gallery(app, exception):
    """Fail the build when an example's page lacks one of its figures."""
    if exception is not None or app.builder.format != "html":
        return
    problems = missing_figures(Path(app.outdir), ROOT / "examples")
    if problems:
        from sphinx.errors import ExtensionError

        raise ExtensionError("gallery figures missing:\n  " + "\n  ".join(problems))


_FOREIGN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _plain_foreign_references(app, what, name, obj, options, lines):
    """Turn scikit-learn's :ref: and :term: roles in inherited docstrings into text.

    Methods inherited from scikit-learn (``score``, ``set_fit_request``, ...)
    point to labels of scikit-learn's own documentation, which this offline
    build cannot resolve; the package's own docstrings keep theirs.
    """
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == "gdestimators":
        return
    lines[:] = [_FOREIGN_ROLE.sub(lambda match: match.group(1) or match.group(2), line)
                for line in lines]


# ``name : type`` lines of numpydoc sections, and a word ending in an
# underscore inside the type (``of length n_iter_``, ``(n_features_in_,)``).
_TYPE_LINE = re.compile(r"^(\s*[\w*, ]+ : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\\])\b(\w+)_\b(?!`)")


def _escape_types(app, what, name, obj, options, lines):
    """Keep attribute names in parameter and attribute types as text.

    reStructuredText reads ``n_iter_`` as a link to a target named ``n_iter``;
    in a type such as ``list of float of length n_iter_`` it is meant as
    text. Runs before numpydoc parses the sections.
    """
    for index, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            lines[index] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(2))


def setup(app):
    app.connect("autodoc-process-docstring", _escape_types, priority=400)
    app.connect("autodoc-process-docstring", _plain_foreign_references)
    app.connect("build-finished", _check_gallery)
