"""The reference objectives of :mod:`gdestimators._reference` are themselves right.

Every other test that judges a fit by its objective relies on this module, so
it is checked against what shares no code with it:

* the data terms against scikit-learn's own metrics,
  :func:`sklearn.metrics.log_loss` (with sample weights, fed with the
  probabilities of scikit-learn's ``predict_proba``: the class order and the
  sigmoid/softmax are theirs) and :func:`sklearn.metrics.mean_squared_error`;
* the penalty against values computed by hand, and its scale in the mean form
  against scikit-learn's estimators: their minimisers (``Ridge``,
  ``ElasticNet``, ``LogisticRegression``) are the minimisers of the reference
  objectives, which a wrong ``S`` or ``C`` factor would break;
* the gradient of :func:`log_loss_objective_and_gradient` against central
  finite differences of its value, and that value against
  :func:`log_loss_objective`.

Tolerances
----------
Two float64 evaluations of the same sum in another order (or through
``log(p)`` instead of ``logaddexp``, for moderate logits) agree to a few ulps
times the number of terms: ``VALUE_RTOL = 1e-12`` is far above that and far
below any real mistake (a missing weight or factor is of order one).
Central differences with a step of ``1e-6`` on objectives of order one have
errors of about ``1e-10``: ``FD_RTOL = 1e-6`` with ``FD_ATOL = 1e-8``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _finite_differences import central_difference  # tests/ is on pytest's pythonpath
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error

from gdestimators._reference import (
    _BLOCK_ROWS,
    class_indices,
    elastic_net_penalty,
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
    relative_gap,
)

VALUE_RTOL = 1e-12
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def regression_data(n_samples=60, n_features=4, n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + rng.normal(0.0, 2.0, n_features)
    coef = rng.normal(0.0, 2.0, (n_features, n_targets))
    y = X @ coef + 1.5 + rng.standard_normal((n_samples, n_targets))
    s = rng.uniform(0.2, 3.0, n_samples)
    return X, (y[:, 0] if n_targets == 1 else y), s


def classification_data(labels, n_samples=90, n_features=3, seed=0):
    """Overlapping classes with the given labels (any type), every one present."""
    rng = np.random.default_rng(seed)
    index = np.arange(n_samples) % len(labels)
    X = rng.standard_normal((n_samples, n_features))
    X[:, 0] += 0.8 * index
    s = rng.uniform(0.2, 3.0, n_samples)
    return X, np.asarray(labels)[index], s


# ---------------------------------------------------------------------------
# Penalty
# ---------------------------------------------------------------------------


def test_elastic_net_penalty_by_hand():
    coef = np.array([[1.0, -2.0], [0.0, 3.0]])
    # ||W||^2 = 1 + 4 + 9 = 14, ||W||_1 = 6.
    assert elastic_net_penalty(coef) == 7.0
    assert elastic_net_penalty(coef, 1.0) == 6.0
    assert elastic_net_penalty(coef, 0.25) == pytest.approx(0.75 / 2 * 14 + 0.25 * 6, rel=1e-15)
    assert elastic_net_penalty(np.zeros((2, 3)), 0.5) == 0.0


# ---------------------------------------------------------------------------
# Least squares
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_least_squares_is_half_the_mean_squared_error(n_targets, weighted):
    X, y, s = regression_data(n_targets=n_targets)
    s = s if weighted else None
    rng = np.random.default_rng(1)
    coef = rng.standard_normal((n_targets, X.shape[1]))
    intercept = rng.standard_normal(n_targets)
    if n_targets == 1:
        coef, intercept = coef[0], float(intercept[0])
    prediction = X @ np.atleast_2d(coef).T + intercept
    # One half of the summed per-target weighted MSE.
    mse = mean_squared_error(y.reshape(prediction.shape), prediction, sample_weight=s,
                             multioutput="raw_values")
    expected = 0.5 * np.sum(mse)
    assert_allclose(least_squares_objective(X, y, coef, intercept, sample_weight=s),
                    expected, rtol=VALUE_RTOL)
    # The penalty is added with alpha in front, on the coefficients only.
    alpha, l1_ratio = 0.3, 0.4
    assert_allclose(
        least_squares_objective(X, y, coef, intercept, alpha=alpha, l1_ratio=l1_ratio,
                                sample_weight=s),
        expected + alpha * elastic_net_penalty(coef, l1_ratio), rtol=VALUE_RTOL)


def test_least_squares_sparse_and_many_blocks():
    """Rows are read in blocks of ``_BLOCK_ROWS``: more rows than a block, and a
    sparse ``X``, give the value of the plain formula."""
    rng = np.random.default_rng(2)
    n_samples = 2 * _BLOCK_ROWS + 17
    X = rng.standard_normal((n_samples, 3))
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.standard_normal(n_samples)
    s = rng.uniform(0.2, 3.0, n_samples)
    coef, intercept = np.array([0.5, -1.0, 2.0]), 0.25
    expected = 0.5 * mean_squared_error(y, X @ coef + intercept, sample_weight=s)
    # Summation in blocks: rounding grows with sqrt(n) at most.
    assert_allclose(least_squares_objective(X, y, coef, intercept, sample_weight=s),
                    expected, rtol=1e-10)
    assert_allclose(least_squares_objective(sp.csr_array(X), y, coef, intercept,
                                            sample_weight=s), expected, rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_minimiser_is_the_least_squares_minimiser(fit_intercept):
    """``alpha`` in the mean form is ``Ridge(alpha * S)``: the gradient of the
    reference objective vanishes at Ridge's solution. The objective is
    quadratic, so central differences are exact up to rounding."""
    X, y, s = regression_data(n_targets=2, seed=3)
    alpha = 0.7
    ridge = Ridge(alpha=alpha * s.sum(), fit_intercept=fit_intercept,
                  solver="cholesky").fit(X, y, sample_weight=s)
    intercept = ridge.intercept_ if fit_intercept else np.zeros(2)

    def objective(coef, b=intercept):
        return least_squares_objective(X, y, coef, b, alpha=alpha, sample_weight=s)

    grad_coef = central_difference(objective, ridge.coef_)
    scale = np.max(np.abs(central_difference(objective, np.zeros_like(ridge.coef_))))
    assert np.max(np.abs(grad_coef)) <= 1e-8 * scale
    if fit_intercept:
        grad_b = central_difference(lambda b: objective(ridge.coef_, b), intercept)
        assert np.max(np.abs(grad_b)) <= 1e-8 * scale
    # A factor S or 1/S missing from alpha moves the minimiser: the test can fail.
    wrong = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky").fit(
        X, y, sample_weight=s)
    assert np.max(np.abs(central_difference(objective, wrong.coef_))) > 1e-3 * scale


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_elastic_net_minimiser_is_the_least_squares_minimiser(l1_ratio):
    """scikit-learn's ElasticNet (coordinate descent) minimises the reference
    objective: along every coordinate both one-sided slopes are >= 0 (up to
    the solver's accuracy); they cancel where the coefficient is nonzero (a
    smooth minimum) and add up to twice the L1 weight where it is zero."""
    X, y, s = regression_data(seed=4)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    alpha = 0.3
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000).fit(
        X, y, sample_weight=s)
    assert 0 < np.sum(model.coef_ == 0.0) < X.shape[1], model.coef_

    def objective(coef):
        return least_squares_objective(X, y, coef, model.intercept_, alpha=alpha,
                                       l1_ratio=l1_ratio, sample_weight=s)

    base = objective(model.coef_)
    h = 1e-6
    for j in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[j] = h
        right = (objective(model.coef_ + step) - base) / h
        left = (objective(model.coef_ - step) - base) / h
        # Both directions go up (a minimum), to the second-order term ~h.
        assert right >= -1e-7 and left >= -1e-7, (j, right, left)
        if model.coef_[j] == 0.0:
            # The kink: the L1 slope alpha * l1_ratio on each side.
            assert right + left == pytest.approx(2 * alpha * l1_ratio, rel=1e-4)
        else:
            assert abs(right + left) <= 1e-5, (j, right, left)


# ---------------------------------------------------------------------------
# Log-loss
# ---------------------------------------------------------------------------

LABELS = {
    "binary-strings": ["no", "yes"],
    "multiclass-ints": [-7, 2, 11],
    "multiclass-4": [0, 1, 2, 3],
}


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_log_loss_matches_sklearn_log_loss(labels, weighted):
    """Unpenalised: the weighted mean cross-entropy of scikit-learn's own
    probabilities for the same coefficients."""
    X, y, s = classification_data(LABELS[labels])
    s = s if weighted else None
    model = LogisticRegression(C=0.5).fit(X, y, sample_weight=s)
    expected = log_loss(y, model.predict_proba(X), sample_weight=s)
    value = log_loss_objective(X, y, model.coef_, model.intercept_, C=np.inf, sample_weight=s)
    assert_allclose(value, expected, rtol=VALUE_RTOL)
    # Explicit classes (here in their sorted order) give the same value.
    value = log_loss_objective(X, y, model.coef_, model.intercept_, C=np.inf,
                               sample_weight=s, classes=model.classes_)
    assert_allclose(value, expected, rtol=VALUE_RTOL)
    # Class indices 0..K-1 as labels, with classes=range(K): the same.
    index = np.searchsorted(model.classes_, y)
    value = log_loss_objective(X, index, model.coef_, model.intercept_, C=np.inf,
                               sample_weight=s, classes=np.arange(len(model.classes_)))
    assert_allclose(value, expected, rtol=VALUE_RTOL)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_log_loss_penalty_is_sklearns_divided_by_C_S(l1_ratio):
    """scikit-learn's objective ``C sum s_i l_i + P(W)`` is ``C S`` times the
    reference (the intercept unpenalised)."""
    X, y, s = classification_data(LABELS["multiclass-ints"], seed=1)
    rng = np.random.default_rng(5)
    coef, intercept = rng.standard_normal((3, X.shape[1])), rng.standard_normal(3)
    C, S = 0.4, s.sum()
    proba = LogisticRegression().fit(X, y)
    proba.coef_, proba.intercept_ = coef, intercept  # scikit-learn's probabilities
    data = log_loss(y, proba.predict_proba(X), sample_weight=s, normalize=False)
    by_hand = 0.5 * (1 - l1_ratio) * np.sum(coef**2) + l1_ratio * np.sum(np.abs(coef))
    value = log_loss_objective(X, y, coef, intercept, C=C, l1_ratio=l1_ratio, sample_weight=s)
    assert_allclose(C * S * value, C * data + by_hand, rtol=VALUE_RTOL)


@pytest.mark.parametrize("labels", ["binary-strings", "multiclass-ints"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_minimiser_is_the_log_loss_minimiser(labels, fit_intercept):
    """scikit-learn's ``LogisticRegression(C)`` solution is a stationary point
    of the reference objective (the gradient is checked against finite
    differences below). sklearn's lbfgs stops on a relative decrease, which
    leaves gradients of ~1e-7 of their size at zero; a penalty off by a factor
    S or C leaves one of order one."""
    X, y, s = classification_data(LABELS[labels], seed=2)
    C = 0.5
    model = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-12,
                               max_iter=10_000).fit(X, y, sample_weight=s)
    intercept = model.intercept_ if fit_intercept else np.zeros(model.coef_.shape[0])
    _, grad_coef, grad_b = log_loss_objective_and_gradient(
        X, y, model.coef_, intercept, C=C, sample_weight=s)
    _, grad0, _ = log_loss_objective_and_gradient(
        X, y, np.zeros_like(model.coef_), np.zeros_like(intercept), C=C, sample_weight=s)
    scale = np.max(np.abs(grad0))
    assert np.max(np.abs(grad_coef)) <= 1e-5 * scale
    if fit_intercept:
        assert np.max(np.abs(grad_b)) <= 1e-5 * scale
    # The same check fails for the minimiser of the penalty ||W||^2 / (2 C)
    # (the mean form without its 1/S), which is sklearn's with C / S.
    other = LogisticRegression(C=C / s.sum(), fit_intercept=fit_intercept, tol=1e-12,
                               max_iter=10_000).fit(X, y, sample_weight=s)
    other_intercept = other.intercept_ if fit_intercept else intercept
    _, grad_other, _ = log_loss_objective_and_gradient(
        X, y, other.coef_, other_intercept, C=C, sample_weight=s)
    assert np.max(np.abs(grad_other)) > 1e-2 * scale


def test_log_loss_is_finite_at_huge_logits():
    """``logaddexp``/``logsumexp``: logits of 1e4 give the loss |z|, not inf."""
    X = np.array([[1.0], [-1.0], [1.0]])
    y = np.array([0, 1, 1])
    # Binary, z = +-1e4: wrong, wrong, right with confidence.
    value = log_loss_objective(X, y, [[1e4]], [0.0], C=np.inf)
    assert value == pytest.approx((1e4 + 1e4 + 0.0) / 3, rel=1e-15)
    # Softmax with two rows: the same model (z = z1 - z0).
    value = log_loss_objective(X, y, [[-5e3], [5e3]], [0.0, 0.0], C=np.inf)
    assert value == pytest.approx((1e4 + 1e4 + 0.0) / 3, rel=1e-15)


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_log_loss_gradient_matches_finite_differences(labels, C):
    X, y, s = classification_data(LABELS[labels], seed=3)
    n_rows = 1 if len(LABELS[labels]) == 2 else len(LABELS[labels])
    rng = np.random.default_rng(6)
    coef = 0.5 * rng.standard_normal((n_rows, X.shape[1]))
    intercept = 0.5 * rng.standard_normal(n_rows)
    value, grad_coef, grad_b = log_loss_objective_and_gradient(
        X, y, coef, intercept, C=C, sample_weight=s)
    assert grad_coef.shape == coef.shape
    assert grad_b.shape == intercept.shape
    # The value is log_loss_objective's without L1.
    assert_allclose(value, log_loss_objective(X, y, coef, intercept, C=C, sample_weight=s),
                    rtol=VALUE_RTOL)

    def value_at(W, b):
        return log_loss_objective_and_gradient(X, y, W, b, C=C, sample_weight=s)[0]

    assert_allclose(grad_coef, central_difference(lambda W: value_at(W, intercept), coef),
                    rtol=FD_RTOL, atol=FD_ATOL)
    assert_allclose(grad_b, central_difference(lambda b: value_at(coef, b), intercept),
                    rtol=FD_RTOL, atol=FD_ATOL)


def test_log_loss_gradient_keeps_a_flat_coef_shape():
    """A binary ``coef`` of shape (n_features,) comes back in that shape."""
    X, y, s = classification_data([0, 1], seed=4)
    coef = np.array([0.2, -0.1, 0.4])
    value, grad_coef, grad_b = log_loss_objective_and_gradient(X, y, coef, 0.1, sample_weight=s)
    _, grad_2d, _ = log_loss_objective_and_gradient(X, y, coef[None], [0.1], sample_weight=s)
    assert grad_coef.shape == coef.shape
    assert_array_equal(grad_coef, grad_2d[0])
    assert grad_b.shape == (1,)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def test_class_indices():
    assert_array_equal(class_indices(["b", "a", "c", "a"]), [1, 0, 2, 0])
    # Given classes (a batch may lack some): positions in them.
    assert_array_equal(class_indices([11, -7, 11], classes=[-7, 2, 11]), [2, 0, 2])


def test_relative_gap():
    assert relative_gap(1.5, 1.0) == 0.5
    assert relative_gap(-0.5, -1.0) == 0.5  # relative to |optimum|
    assert relative_gap(1e-3, 0.0) == 1e-3  # absolute when the optimum is 0
