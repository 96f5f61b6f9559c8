"""Every public docstring is valid numpydoc, checked the way scikit-learn does.

``numpydoc.validate`` parses each docstring and reports errors by code; the
codes scikit-learn ignores for its own estimators are ignored here too (for
example a missing "See Also" section on a method). The doctest examples in
the docstrings run separately, through ``--doctest-modules`` (pyproject.toml).
"""

import inspect

import pytest

import gdestimators

numpydoc_validation = pytest.importorskip("numpydoc.validate")

# The codes scikit-learn's test_docstrings ignores (sklearn/tests/test_docstrings.py).
IGNORED_CODES = {
    "GL01",  # docstring should start on the line after the opening quotes
    "GL02",  # closing quotes on their own line
    "SA01",  # "See Also" section missing (methods)
    "EX01",  # "Examples" section missing (methods)
    "ES01",  # extended summary missing
    "RT02",  # named return values
}


def _public_objects():
    for class_name in gdestimators.__all__:
        cls = getattr(gdestimators, class_name)
        if not inspect.isclass(cls):
            continue
        yield f"gdestimators.{class_name}"
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") or not callable(member):
                continue
            # Methods inherited from scikit-learn (or, for DivergenceError, from
            # the builtin ValueError, whose methods have no __module__) are
            # theirs to document.
            module = getattr(member, "__module__", None)
            if module is None or not module.startswith("gdestimators"):
                continue
            yield f"gdestimators.{class_name}.{name}"


PUBLIC = sorted(set(_public_objects()))


def test_the_public_api_is_covered():
    assert "gdestimators.GDLinearRegression.fit" in PUBLIC
    assert "gdestimators.GDLogisticRegression.predict_proba" in PUBLIC
    assert "gdestimators.GDLogisticRegression.partial_fit" in PUBLIC
    assert "gdestimators.DivergenceError" in PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_is_valid_numpydoc(name):
    result = numpydoc_validation.validate(name)
    errors = [
        f"{code}: {message}" for code, message in result["errors"]
        if code not in IGNORED_CODES
    ]
    assert not errors, f"{name}:\n" + "\n".join(errors)
