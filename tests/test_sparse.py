"""Sparse input: same fit as the dense data, and X is never densified.

* For both estimators (ridge / elastic net; binary and multinomial logistic),
  with and without intercept and sample weights, with ``precondition="auto"``
  (``"full"`` for dense and sparse alike up to 1024 features, or
  ``"diagonal"`` with an L1 part) and ``"diagonal"``, a fit on scipy's
  CSR, CSC and COO matrices and on the sparse-array classes (``csr_array``,
  ...), with 32- and 64-bit indices, gives the coefficients of the fit on the
  dense array within ``rtol=1e-7``; ``predict`` (and ``decision_function``,
  ``predict_proba``) on sparse data equal those on the dense data.
* The dense fits themselves satisfy the optimality conditions, computed here
  independently, so that the comparison is between two correct answers.
* A CSR matrix of 2,000,000 x 1,000 float64 (16 GB if dense; 100,000 stored
  entries) is fitted by both estimators, with the "full" (1000 x 1000
  covariance) and the diagonal preconditioner, under ``tracemalloc``: the
  peak of the memory allocated during ``fit`` stays below 1 GB. Its O(n)
  vectors (targets, weights, predictions, residuals: 16 MB each) are
  unavoidable; a dense copy of X, or of even 1/16 of its columns, is not.

Tolerances: the fits use ``tol=1e-14``; the dense and sparse paths differ only
in summation order, so their coefficients agree to about 1e-10 relative
(measured: 1e-13 or better on these problems). ``RTOL = 1e-7`` is relative to
the largest coefficient of the dense fit.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import log_loss_objective, log_loss_objective_and_gradient

RTOL = 1e-7
# tol bounds the relative objective gap (coefficients to about sqrt(tol)).
TIGHT = dict(tol=1e-14, max_iter=100_000)

SPARSE_CLASSES = [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
                  sp.csr_array, sp.csc_array, sp.coo_array]


def with_index_dtype(matrix, index_dtype):
    """``matrix`` with its index arrays cast to ``index_dtype`` (no downcast).

    scipy's constructors shrink index arrays to int32 when the values fit, so
    the arrays are replaced after construction.
    """
    matrix = matrix.copy()
    if matrix.format in ("csr", "csc"):
        matrix.indices = matrix.indices.astype(index_dtype)
        matrix.indptr = matrix.indptr.astype(index_dtype)
        arrays = (matrix.indices, matrix.indptr)
    else:
        matrix.coords = tuple(c.astype(index_dtype) for c in matrix.coords)
        arrays = matrix.coords
    assert all(a.dtype == index_dtype for a in arrays)
    return matrix


def sparse_variants(X):
    """``(name, matrix)`` for every sparse class and index width."""
    for cls in SPARSE_CLASSES:
        for index_dtype in (np.int32, np.int64):
            yield (f"{cls.__name__}-{np.dtype(index_dtype).name}",
                   with_index_dtype(cls(X), index_dtype))


def make_data(seed=0, n_samples=200, n_features=12, density=0.3):
    """Sparse-pattern data with an offset, one wide feature, three kinds of target."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_samples, n_features)) < density
    X = np.where(mask, rng.standard_normal((n_samples, n_features)) + 1.0, 0.0)
    X[:, 2] *= 50.0  # an unscaled feature
    coef = rng.standard_normal(n_features)
    coef[2] /= 50.0
    z = X @ coef + 0.5
    y_reg = z + rng.standard_normal(n_samples)
    y_bin = np.where(rng.random(n_samples) < expit(z), "yes", "no")
    y_multi = np.digitize(z + rng.logistic(size=n_samples), np.quantile(z, [0.33, 0.66]))
    sample_weight = rng.uniform(0.0, 2.0, n_samples)
    return X, {"regression": y_reg, "binary": y_bin, "multiclass": y_multi}, sample_weight


def elastic_net_subgradient_violation(w, grad_w, l1):
    """Largest violation of ``0 in grad + l1 * d|w|`` (the lasso KKT conditions)."""
    at_zero = np.maximum(np.abs(grad_w) - l1, 0.0)
    away = np.abs(grad_w + l1 * np.sign(w))
    return float(np.max(np.where(w == 0, at_zero, away)))


def optimality_violation(est, X, y, s):
    """Largest KKT violation of a fitted estimator, from the objective's formula.

    Gradients of the mean-form objectives of the design (data term over
    ``S = sum(s)`` plus penalty), computed with numpy on the dense ``X``.
    """
    s = np.ones(len(y)) if s is None else s
    S = np.sum(s)
    if isinstance(est, GDLinearRegression):
        W = np.atleast_2d(est.coef_)
        b = np.atleast_1d(est.intercept_)
        residual = (X @ W.T + b - np.reshape(y, (len(y), -1))) * s[:, None]
        grad_W, grad_b = residual.T @ X / S, residual.sum(axis=0) / S
        l2 = est.alpha * (1 - est.l1_ratio)
        l1 = est.alpha * est.l1_ratio
        # The stop test is relative to the spread of y.
        scale = np.std(y) if est.fit_intercept else np.sqrt(np.mean(y**2))
    else:
        # The data term's gradient (C=inf: unpenalised), then the penalty's.
        _, grad_W, grad_b = log_loss_objective_and_gradient(
            X, y, est.coef_, est.intercept_, C=np.inf, sample_weight=s, classes=est.classes_)
        l2 = (1 - est.l1_ratio) / (est.C * S)
        l1 = est.l1_ratio / (est.C * S)
        W = est.coef_
        scale = 1.0
    grad_W = grad_W + l2 * W
    violation = elastic_net_subgradient_violation(W, grad_W, l1)
    if est.fit_intercept:
        violation = max(violation, float(np.max(np.abs(grad_b))))
    return violation / scale


CONFIGS = {
    "ridge": (GDLinearRegression, dict(alpha=0.1), "regression"),
    "elastic-net": (GDLinearRegression, dict(alpha=0.2, l1_ratio=0.5), "regression"),
    "binary": (GDLogisticRegression, dict(C=1.0), "binary"),
    "binary-l1": (GDLogisticRegression, dict(C=0.2, l1_ratio=1.0), "binary"),
    "multiclass": (GDLogisticRegression, dict(C=1.0), "multiclass"),
}


def assert_coefficients_close(actual, desired, what):
    actual, desired = np.asarray(actual), np.asarray(desired)
    scale = max(np.max(np.abs(desired)), 1e-300)
    error = float(np.max(np.abs(actual - desired), initial=0.0))
    assert error <= RTOL * scale, f"{what}: differ by {error:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_sparse_fit_equals_dense_fit(config, fit_intercept, weighted, precondition):
    Estimator, params, target = CONFIGS[config]
    X, targets, s = make_data()
    y = targets[target]
    s = s if weighted else None
    make = lambda: Estimator(**params, fit_intercept=fit_intercept,  # noqa: E731
                             precondition=precondition, **TIGHT)
    dense = make().fit(X, y, sample_weight=s)
    if config == "multiclass":
        # tol bounds the relative objective gap: a certified 1e-13 leaves
        # gradients of a few 1e-9 along this problem's unscaled feature, so
        # optimality is checked on the objective, against newton-cholesky.
        reference = LogisticRegression(
            C=params["C"], fit_intercept=fit_intercept, solver="newton-cholesky",
            tol=1e-14, max_iter=1000,
        ).fit(X, y, sample_weight=s)
        optimum, reached = (
            log_loss_objective(X, y, model.coef_, model.intercept_, C=params["C"],
                               sample_weight=s)
            for model in (reference, dense)
        )
        assert (reached - optimum) / optimum < 2e-13, "dense fit is not optimal"
    else:
        violation = optimality_violation(dense, X, y, s)
        assert violation < 1e-9, f"dense fit is not optimal: violation {violation:.3g}"
    if "l1_ratio" in params:
        assert np.any(dense.coef_ == 0.0)  # the zero pattern is part of the check
    for name, Xs in sparse_variants(X):
        fitted = make().fit(Xs, y, sample_weight=s)
        assert_coefficients_close(fitted.coef_, dense.coef_, f"coef_ ({name})")
        if fit_intercept:
            assert_coefficients_close(np.atleast_1d(fitted.intercept_),
                                      np.atleast_1d(dense.intercept_),
                                      f"intercept_ ({name})")
        else:
            np.testing.assert_array_equal(fitted.intercept_, dense.intercept_)
        np.testing.assert_array_equal(fitted.coef_ == 0.0, dense.coef_ == 0.0)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_predict_on_sparse_equals_predict_on_dense(config):
    Estimator, params, target = CONFIGS[config]
    X, targets, _ = make_data(seed=1)
    y = targets[target]
    est = Estimator(**params).fit(X, y)
    X_new, _, _ = make_data(seed=2)
    for name, Xs in sparse_variants(X_new):
        if Estimator is GDLinearRegression:
            np.testing.assert_allclose(est.predict(Xs), est.predict(X_new),
                                       rtol=1e-12, atol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(est.predict(Xs), est.predict(X_new), err_msg=name)
            np.testing.assert_allclose(est.decision_function(Xs),
                                       est.decision_function(X_new),
                                       rtol=1e-12, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(est.predict_proba(Xs), est.predict_proba(X_new),
                                       rtol=1e-12, atol=1e-15, err_msg=name)


def test_sparse_multitarget_regression_equals_dense():
    X, targets, s = make_data(seed=3)
    Y = np.column_stack([targets["regression"], -2.0 * targets["regression"] + 1.0])
    dense = GDLinearRegression(alpha=0.1, **TIGHT).fit(X, Y, sample_weight=s)
    assert optimality_violation(dense, X, Y, s) < 1e-9
    for name, Xs in sparse_variants(X):
        fitted = GDLinearRegression(alpha=0.1, **TIGHT).fit(Xs, Y, sample_weight=s)
        assert_coefficients_close(fitted.coef_, dense.coef_, name)
        assert_coefficients_close(fitted.intercept_, dense.intercept_, name)
        np.testing.assert_allclose(fitted.predict(Xs), dense.predict(X), rtol=1e-9)


# ---------------------------------------------------------------------------
# Never densified
# ---------------------------------------------------------------------------

N_ROWS, N_COLUMNS, N_STORED = 2_000_000, 1_000, 100_000
DENSE_BYTES = N_ROWS * N_COLUMNS * 8  # 16 GB
PEAK_LIMIT_BYTES = 1_000_000_000  # 1 GB


@pytest.fixture(scope="module")
def huge_sparse():
    """2e6 x 1e3 CSR (16 GB if dense) with 1e5 entries: density 5e-5."""
    rng = np.random.default_rng(0)
    flat = rng.choice(N_ROWS * N_COLUMNS, size=N_STORED, replace=False)
    rows, columns = np.divmod(flat, N_COLUMNS)
    X = sp.csr_matrix((rng.standard_normal(N_STORED), (rows, columns)),
                      shape=(N_ROWS, N_COLUMNS))
    y = np.asarray(X.sum(axis=1)).ravel() + 0.01 * rng.standard_normal(N_ROWS)
    return X, y


@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
@pytest.mark.parametrize("Estimator", [GDLinearRegression, GDLogisticRegression])
def test_huge_sparse_is_never_densified(huge_sparse, Estimator, precondition):
    X, y = huge_sparse
    assert DENSE_BYTES > 8e9
    if Estimator is GDLogisticRegression:
        y = y > 0
        est = Estimator(C=1.0, precondition=precondition, max_iter=2)
    else:
        est = Estimator(alpha=0.1, precondition=precondition, max_iter=2)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT_BYTES, (
        f"fit allocated up to {peak / 1e9:.2f} GB on a sparse X whose dense "
        f"form is {DENSE_BYTES / 1e9:.0f} GB")
    assert np.all(np.isfinite(est.coef_))
    assert est.coef_.size == N_COLUMNS
    assert X.format == "csr" and X.nnz == N_STORED  # the input is untouched
