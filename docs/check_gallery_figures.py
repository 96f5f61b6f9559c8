"""Check that every example's figures are in the built HTML gallery.

For each ``examples/plot_*.py``, the page ``auto_examples/<name>.html`` of the
built site must reference as many images scraped from that example
(``sphx_glr_<name>_NNN.png``) as the example declares figures in
``tests/test_examples.py`` (``EXPECTED_FIGURES``; at least one when it is not
declared there), and each referenced image must exist and not be empty.

The documentation build runs this check at its end (``docs/conf.py``), so a
missing figure fails the build; it can also be run on a built site::

    python docs/check_gallery_figures.py [docs/_build/html]

Standard library only.
"""

import ast
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            source = dict(attrs).get("src")
            if source:
                self.sources.append(source)


def declared_figures(examples):
    """``{script: number of figures}`` from ``EXPECTED_FIGURES`` of the examples' test."""
    test = examples.parent / "tests" / "test_examples.py"
    if not test.is_file():
        return {}
    for node in ast.walk(ast.parse(test.read_text())):
        if (isinstance(node, ast.Assign)
                and any(getattr(target, "id", None) == "EXPECTED_FIGURES"
                        for target in node.targets)):
            return {script: len(figures)
                    for script, figures in ast.literal_eval(node.value).items()}
    return {}


def gallery_figures(html, examples):
    """``{script: (page, expected number of figures, referenced image files)}``."""
    html, examples = Path(html), Path(examples)
    declared = declared_figures(examples)
    found = {}
    for script in sorted(examples.glob("plot_*.py")):
        page = html / "auto_examples" / f"{script.stem}.html"
        images = []
        if page.is_file():
            parser = _Images()
            parser.feed(page.read_text(encoding="utf-8"))
            prefix = f"sphx_glr_{script.stem}_"
            images = sorted({
                (page.parent / unquote(urlparse(source).path)).resolve()
                for source in parser.sources
                if Path(urlparse(source).path).name.startswith(prefix)
                and "_thumb" not in source
            })
        found[script.name] = (page, max(1, declared.get(script.name, 1)), images)
    return found


def missing_figures(html, examples):
    """Problems found, one line each (an empty list when every figure is there)."""
    problems = []
    for script, (page, expected, images) in gallery_figures(html, examples).items():
        if not page.is_file():
            problems.append(f"{script}: no page {page}")
            continue
        if len(images) < expected:
            problems.append(f"{script}: {len(images)} of its {expected} figure(s) "
                            f"in {page}")
        for image in images:
            if not image.is_file() or image.stat().st_size == 0:
                problems.append(f"{script}: {page.name} references a missing or "
                                f"empty image {image}")
    return problems


def main(argv):
    html = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "_build" / "html"
    examples = ROOT / "examples"
    for script, (page, expected, images) in gallery_figures(html, examples).items():
        names = ", ".join(image.name for image in images) or "none"
        print(f"{script}: {len(images)} image(s) of {expected} expected in "
              f"{page.name}: {names}")
    problems = missing_figures(html, examples)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"every example's figures are in {html / 'auto_examples'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
