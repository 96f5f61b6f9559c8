"""Array-API inputs give the NumPy fit: same coefficients, outputs in the input's namespace.

Runs with array_api_strict (in the test extra) and torch (CPU, when installed;
CUDA when available). scikit-learn's own array-API checks (namespaces,
devices, dtypes) run in test_sklearn_compliance.py; here the values are
compared: rtol 1e-6 in float64 and 1e-4 in float32, for both estimators,
binary and multiclass, with sample weights.
"""

import os

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris, make_classification, make_regression

from gdestimators import GDLinearRegression, GDLogisticRegression

if os.environ.get("SCIPY_ARRAY_API") != "1":
    pytest.skip("array-API dispatch needs SCIPY_ARRAY_API=1", allow_module_level=True)


def _namespaces():
    yield pytest.param("array_api_strict", None, id="array_api_strict")
    yield pytest.param("torch", "cpu", id="torch-cpu")
    yield pytest.param("torch", "cuda", id="torch-cuda")


def _to_namespace(array, name, device):
    xp = pytest.importorskip(name)
    if name == "torch" and device == "cuda" and not xp.cuda.is_available():
        pytest.skip("no CUDA device")
    if name == "torch":
        return xp.asarray(array, device=device)
    return xp.asarray(array)


def _to_numpy(array):
    if hasattr(array, "cpu"):  # torch
        return array.cpu().numpy()
    return np.from_dlpack(array)


PROBLEMS = {
    "linear": lambda: make_regression(n_samples=80, n_features=5, noise=1.0, random_state=0),
    "binary": lambda: make_classification(n_samples=80, n_features=5, random_state=0),
    "multiclass": lambda: load_iris(return_X_y=True),
}


@pytest.mark.parametrize("name, device", list(_namespaces()))
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-6), ("float32", 1e-4)])
def test_array_api_fit_equals_numpy_fit(name, device, problem, dtype, rtol):
    X, y = PROBLEMS[problem]()
    X = X.astype(dtype)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    if problem == "linear":
        y = y.astype(dtype)
        make = lambda: GDLinearRegression(alpha=0.1, tol=1e-10)  # noqa: E731
    else:
        make = lambda: GDLogisticRegression(C=1.0, tol=1e-10)  # noqa: E731
    reference = make().fit(X, y, sample_weight=weights)
    X_xp, y_xp, w_xp = (_to_namespace(a, name, device) for a in (X, y, weights))
    with sklearn.config_context(array_api_dispatch=True):
        model = make().fit(X_xp, y_xp, sample_weight=w_xp)
        prediction = model.predict(X_xp)
        assert type(prediction) is type(X_xp)
        np.testing.assert_allclose(_to_numpy(model.coef_), reference.coef_, rtol=rtol,
                                   atol=rtol * np.abs(reference.coef_).max())
        np.testing.assert_allclose(_to_numpy(prediction), reference.predict(X), rtol=rtol,
                                   atol=rtol * np.abs(reference.predict(X)).max()
                                   if problem == "linear" else 0)
        assert _to_numpy(model.coef_).dtype == np.dtype(dtype)
        if problem != "linear":
            np.testing.assert_allclose(_to_numpy(model.predict_proba(X_xp)),
                                       reference.predict_proba(X), atol=rtol)
