"""Array-API inputs give the NumPy fit: same coefficients, outputs in the input's namespace.

Runs with array_api_strict (in the test extra) and torch (CPU, when installed;
CUDA when available). scikit-learn's own array-API checks (namespaces,
devices, dtypes) run in test_sklearn_compliance.py; here the values are
compared: rtol 1e-6 in float64 and 1e-4 in float32, for both estimators,
binary and multiclass, with sample weights, for the default solver and for
``"lbfgs"`` (whose loop is written apart from the others).
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
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_array_api_fit_equals_numpy_fit(name, device, problem, dtype, rtol, solver):
    X, y = PROBLEMS[problem]()
    X = X.astype(dtype)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    if problem == "linear":
        y = y.astype(dtype)
        make = lambda: GDLinearRegression(alpha=0.1, solver=solver, tol=1e-14)  # noqa: E731
    else:
        make = lambda: GDLogisticRegression(C=1.0, solver=solver, tol=1e-14)  # noqa: E731
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


# Host round trips: the solver loop reads the scalars it needs (objective,
# inner products, stop test) in one transfer per trial point. Counted on
# array_api_strict by wrapping every way its arrays reach the host.
_HOST_CONVERSIONS = ("__array__", "__float__", "__bool__", "__int__", "__index__",
                     "__dlpack__", "tolist")


@pytest.fixture
def host_reads(monkeypatch):
    xp = pytest.importorskip("array_api_strict")
    array_type = type(xp.asarray([1.0]))
    counts = {}
    for name in _HOST_CONVERSIONS:
        if not hasattr(array_type, name):
            continue
        original = getattr(array_type, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(array_type, name, counted)
    return xp, counts


@pytest.mark.parametrize(
    "solver, most, longer",
    # lbfgs's prediction of the gap reaches the certificate's threshold at
    # iteration 16 here.
    [("gd", 1.1, 16), ("nesterov", 1.1, 16), ("bb", 0.2, 16), ("lbfgs", 1.1, 12)],
)
def test_host_reads_per_iteration(host_reads, solver, most, longer):
    """The marginal count of reads between an 8-iteration fit and a longer
    one: one per iteration for gd, nesterov and lbfgs (one trial per
    iteration here; the two-loop recursion of lbfgs stays on the device),
    one per 8 iterations for bb, whose line search decides on the device.
    (Both fits stay far from the certificate's threshold, whose evaluation,
    once near the end of a fit, reads more.)"""
    xp, counts = host_reads
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    X = xp.asarray(X * np.logspace(-2, 2, 6))
    y = xp.asarray(y)
    totals = {}
    with sklearn.config_context(array_api_dispatch=True):
        for max_iter in (8, longer):
            counts.clear()
            model = GDLogisticRegression(
                solver=solver, max_iter=max_iter, tol=0.0
            )
            with pytest.warns(UserWarning):  # max_iter reached, on purpose
                model.fit(X, y)
            totals[max_iter] = sum(counts.values())
            assert int(model.n_iter_[0]) == max_iter
    per_iteration = (totals[longer] - totals[8]) / (longer - 8)
    # nesterov evaluates twice per iteration (new and extrapolated point)
    # but reads once; line-search retries would add reads.
    assert per_iteration <= most, totals
