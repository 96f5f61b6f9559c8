"""The stop test's certificate is never below the true objective gap.

The true gap ``F(theta) - min F`` is measured against independent optima:
scikit-learn's ``LinearRegression`` (closed form), ``Ridge``, ``Lasso`` and
``ElasticNet`` (coordinate descent at ``tol=1e-12``) and
``LogisticRegression`` (newton-cholesky at ``tol=1e-12``) and, with an L1
part, L-BFGS-B on the positive and negative parts of the coefficients, all
scored by the plain objectives of :mod:`gdestimators._reference`. A reference
optimum can only be above the true minimum, so ``F - F_ref`` is a lower bound
on the true gap and a valid certificate is never below it. The battery
includes nearly separable classes, large ``C``, softmax, L1 and elastic net,
weights, and points far from and close to the optimum.
"""

import warnings

import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge

from gdestimators._certificate import optimal_intercept_shift
from gdestimators._losses import SquaredError, classification_loss
from gdestimators._problem import ObjectiveSettings, build_problem
from gdestimators._reference import (
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
)

# Relative rounding of objective values computed two ways (float64 sums of
# a few hundred terms): differences below this are ties.
ROUNDING = 1e-12


def near_separable(seed=0, m=300, return_X_y=True):
    """Two classes split almost exactly by one money-like (lognormal) column."""
    rng = np.random.default_rng(seed)
    money = rng.lognormal(8.0, 1.5, m)
    noise = rng.standard_normal((m, 3))
    y = (np.log(money) + 0.05 * rng.standard_normal(m) > 8.0).astype(int)
    return np.column_stack([money, noise, 100.0 * noise[:, 0]]), y


def logistic_problem(X, y, C, l1_ratio=0.0, sample_weight=None, precondition="auto"):
    classes, index = np.unique(y, return_inverse=True)
    loss = classification_loss(classes.shape[0])
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    strength = 1.0 / (C * s.sum())
    settings = ObjectiveSettings(
        loss, loss.encode_targets(index, np.float64),
        strength * (1 - l1_ratio), strength * l1_ratio,
    )
    return build_problem(X, settings, s, fit_intercept=True, precondition=precondition)


def logistic_reference(X, y, C, l1_ratio=0.0, sample_weight=None):
    """``(coef, intercept, objective)`` at the minimum, from an independent solver.

    Smooth objectives: scikit-learn's newton-cholesky. With an L1 part:
    L-BFGS-B on the split ``W = P - N`` with ``P, N >= 0``, on which the L1
    norm is linear (``sum(P + N)``) and the objective smooth.
    """
    if not l1_ratio:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
            model.fit(X, y, sample_weight=sample_weight)
        coef, intercept = model.coef_, model.intercept_
    else:
        coef, intercept = _split_l1_minimum(X, y, C, l1_ratio, sample_weight)
    objective = log_loss_objective(X, y, coef, intercept, C=C, l1_ratio=l1_ratio,
                                   sample_weight=sample_weight)
    return coef, intercept, objective


def _split_l1_minimum(X, y, C, l1_ratio, sample_weight):
    k = np.unique(y).shape[0]
    rows, p = (1 if k == 2 else k), X.shape[1]
    S = float(np.sum(sample_weight))
    smooth_C = C / (1.0 - l1_ratio) if l1_ratio < 1 else np.inf
    l1 = l1_ratio / (C * S)

    def value_and_gradient(v):
        positive, negative = v[: rows * p], v[rows * p: 2 * rows * p]
        coef = (positive - negative).reshape(rows, p)
        intercept = v[2 * rows * p:]
        value, grad_coef, grad_intercept = log_loss_objective_and_gradient(
            X, y, coef, intercept, C=smooth_C, sample_weight=sample_weight
        )
        value += l1 * float(np.sum(positive + negative))
        g = grad_coef.ravel()
        return value, np.concatenate([g + l1, -g + l1, np.ravel(grad_intercept)])

    start = np.zeros(2 * rows * p + rows)
    bounds = [(0.0, None)] * (2 * rows * p) + [(None, None)] * rows
    result = scipy.optimize.minimize(
        value_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"ftol": 0.0, "gtol": 1e-13, "maxiter": 100_000, "maxcor": 30},
    )
    v = result.x
    coef = (v[: rows * p] - v[rows * p: 2 * rows * p]).reshape(rows, p)
    return coef, v[2 * rows * p:]


def points_towards(model, problem, optimum_theta, seed=0):
    """The start, and points at shrinking random distances from the optimum."""
    rng = np.random.default_rng(seed)
    yield model.start()
    for distance in (1e-1, 1e-3, 1e-6):
        yield optimum_theta + distance * rng.standard_normal(optimum_theta.shape)


LOGISTIC_CASES = {
    "breast_cancer C=1": (load_breast_cancer, 1.0, 0.0),
    "breast_cancer C=1e4": (load_breast_cancer, 1e4, 0.0),
    "wine C=1e4 softmax": (load_wine, 1e4, 0.0),
    "iris C=1 softmax": (load_iris, 1.0, 0.0),
    "near-separable C=100": (near_separable, 100.0, 0.0),
    "breast_cancer C=1 elastic net": (load_breast_cancer, 1.0, 0.5),
    "iris C=10 L1": (load_iris, 10.0, 1.0),
}


@pytest.mark.parametrize("case", list(LOGISTIC_CASES))
def test_logistic_certificate_bounds_the_true_gap(case):
    load, C, l1_ratio = LOGISTIC_CASES[case]
    X, y = load(return_X_y=True)
    if l1_ratio:
        X = X / X.std(axis=0)  # the split reference needs scaled features for 1e-12
    weights = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    problem, model = logistic_problem(X, y, C, l1_ratio, weights)
    coef, intercept, optimum = logistic_reference(X, y, C, l1_ratio, weights)
    theta_star = model.initial_theta(coef.T, intercept)
    for theta in points_towards(model, problem, theta_star):
        certificate = problem.certify(theta)
        assert certificate.kind == "duality gap"
        w, b = model.coefficients(certificate.theta)
        reached = log_loss_objective(X, y, w.T, b, C=C, l1_ratio=l1_ratio,
                                     sample_weight=weights)
        # The certificate's objective is the objective at its point.
        assert_allclose(certificate.objective, reached, rtol=1e-11)
        lower_bound = reached - optimum
        assert certificate.gap >= lower_bound - ROUNDING * abs(optimum), (
            f"certificate {certificate.gap:.3e} below the gap {lower_bound:.3e}")


def test_certificate_is_tight_at_the_optimum():
    """At the optimum the bound is at rounding level: a fit can stop there."""
    X, y = load_breast_cancer(return_X_y=True)
    problem, model = logistic_problem(X, y, 1e4)
    reference = LogisticRegression(C=1e4, solver="newton-cholesky", tol=1e-14,
                                   max_iter=1000).fit(X, y)
    certificate = problem.certify(model.initial_theta(reference.coef_.T, reference.intercept_))
    assert certificate.gap <= 1e-9 * certificate.objective


def test_intercept_shift_zeroes_the_weighted_residuals():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((3, 50))
    Y = np.eye(3)[:, rng.integers(0, 3, 50)]
    s = rng.uniform(0.5, 2.0, 50)
    loss = classification_loss(3)

    def sums(delta):
        shifted = z + delta[:, None]
        per_sample, residual = loss.loss_and_residual(shifted, Y)
        diagonal, low_rank = loss.curvature(shifted)
        curvature = np.diag(diagonal @ s) - (low_rank * s) @ low_rank.T
        return float(per_sample @ s), residual @ s, curvature

    delta = optimal_intercept_shift(sums, 3)
    assert_allclose(sums(delta)[1], 0.0, atol=1e-12)


LINEAR_CASES = {
    "ols": (0.0, 0.0, LinearRegression),
    "ridge": (0.5, 0.0, lambda alpha, m: Ridge(alpha=alpha * m, tol=1e-14)),
    "lasso": (0.5, 1.0, lambda alpha, m: Lasso(alpha=alpha, tol=1e-14, max_iter=100_000)),
    "elastic net": (0.5, 0.5,
                    lambda alpha, m: ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-14,
                                                max_iter=100_000)),
}


@pytest.mark.parametrize("case", list(LINEAR_CASES))
@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
def test_least_squares_certificate_bounds_the_true_gap(case, precondition):
    alpha, l1_ratio, make_reference = LINEAR_CASES[case]
    X, y = load_diabetes(return_X_y=True, scaled=False)
    m = X.shape[0]
    reference = (make_reference() if case == "ols" else make_reference(alpha, m)).fit(X, y)
    optimum = least_squares_objective(X, y, reference.coef_, reference.intercept_,
                                      alpha=alpha, l1_ratio=l1_ratio)
    settings = ObjectiveSettings(SquaredError(), y[None, :], alpha * (1 - l1_ratio),
                                 alpha * l1_ratio)
    problem, model = build_problem(X, settings, np.ones(m), fit_intercept=True,
                                   precondition=precondition if l1_ratio == 0 else "diagonal")
    theta_star = model.initial_theta(reference.coef_[:, None], np.atleast_1d(reference.intercept_))
    for theta in points_towards(model, problem, theta_star):
        certificate = problem.certify(theta)
        w, b = model.coefficients(certificate.theta)
        reached = least_squares_objective(X, y, w[:, 0], b, alpha=alpha, l1_ratio=l1_ratio)
        lower_bound = reached - optimum
        assert certificate.gap >= lower_bound - ROUNDING * optimum
        if case == "ols":
            # The quadratic model is exact for least squares.
            assert certificate.kind == "Newton decrement"
            assert_allclose(certificate.gap, lower_bound, rtol=1e-6, atol=1e-10 * optimum)
