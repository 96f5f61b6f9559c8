"""Property tests (hypothesis): the fitted model on random well-posed problems.

Each problem is small and well conditioned (standard normal features with
random offsets, at least three samples per feature), generated from a
hypothesis-drawn seed and shape, so that hypothesis can shrink a failure to a
small reproducible case. Every property is checked against an independent
reference or an exact symmetry of the objective:

* least squares: numpy ``lstsq`` on the weighted system (``alpha=0``),
  scikit-learn's ``Ridge(alpha * sum(w))`` (``l1_ratio=0``) and ``ElasticNet``;
* logistic regression: a damped Newton method written here with numpy
  (converges to machine precision) and scikit-learn's ``LogisticRegression``;
* integer sample weights equal repeated rows; permuting features permutes
  ``coef_``; relabelling classes permutes the rows of ``coef_`` (softmax) or
  flips its sign (binary); scaling an unpenalised feature by ``c`` divides its
  coefficient by ``c``; shuffling the rows changes nothing beyond rounding.

Tolerances
----------
Our fits use ``tol=1e-14``: the objective at the returned point is certified
within 1e-14 (relative) of the minimum. On these well-conditioned problems
(condition numbers of order 10) the coefficient error is then of order
sqrt(1e-14), 1e-7, relative to the size of the coefficients; we
assert ``RTOL = 1e-6`` (relative to ``max(1, max|reference|)``), ten
times above that and far below the size of any real mistake (a missing weight
or a wrong penalty factor changes coefficients by 1e-2 or more).

scikit-learn's ``LogisticRegression`` (L-BFGS) also stops on a relative
decrease of the objective below ``64 eps`` (``ftol``), which leaves errors of
up to a few 1e-6 relative in its coefficients however small ``tol`` is. It is
compared with ``SKLEARN_LOGISTIC_RTOL = 1e-4``; the tight check of the
logistic fits is against the Newton reference.
"""

import warnings

import numpy as np
from _assertions import assert_close  # tests/ is on pytest's pythonpath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import log_loss_objective_and_gradient
from gdestimators._solvers import SOLVERS as LIBRARY_SOLVERS
from gdestimators._solvers._common import L1_SOLVERS

RTOL = 1e-6
SKLEARN_LOGISTIC_RTOL = 1e-4
# tol bounds the relative objective gap (coefficients to about sqrt(tol)).
TIGHT = dict(tol=1e-14, max_iter=100_000)

# Every solver, and the default choice among them.
SOLVERS = ["auto", *LIBRARY_SOLVERS]
PRECONDITIONERS = ["auto", "full", "diagonal"]

PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
n_features_st = st.integers(min_value=1, max_value=5)
solvers = st.sampled_from(SOLVERS)
# The solvers that accept an L1 part (lbfgs needs a smooth objective).
l1_solvers = st.sampled_from(L1_SOLVERS)
preconditioners = st.sampled_from(PRECONDITIONERS)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def fit_quietly(estimator, X, y, sample_weight=None):
    """Fit, turning a ConvergenceWarning into a test failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return estimator.fit(X, y, sample_weight=sample_weight)


def make_regression(seed, n_features, n_targets=1, offsets=True):
    rng = np.random.default_rng(seed)
    n_samples = int(rng.integers(3 * n_features + 5, 3 * n_features + 40))
    X = rng.standard_normal((n_samples, n_features))
    if offsets:
        X += rng.normal(0.0, 3.0, n_features)
    coef = rng.normal(0.0, 2.0, (n_features, n_targets))
    y = X @ coef + rng.normal(0.0, 2.0, n_targets) + 0.5 * rng.standard_normal(
        (n_samples, n_targets))
    if n_targets == 1:
        y = y[:, 0]
    return X, y, rng


def make_classification(seed, n_features, n_classes):
    """Labels drawn from a softmax model, every class present at least twice."""
    rng = np.random.default_rng(seed)
    n_samples = int(rng.integers(3 * n_features + 10 * n_classes, 3 * n_features + 80))
    X = rng.standard_normal((n_samples, n_features)) + rng.normal(0.0, 2.0, n_features)
    W = rng.normal(0.0, 1.0, (n_features, n_classes))
    logits = (X - X.mean(axis=0)) @ W
    proba = softmax(logits, axis=1)
    y = np.array([rng.choice(n_classes, p=row) for row in proba])
    # Guarantee every class (twice), whatever the draw.
    y[: 2 * n_classes] = np.repeat(np.arange(n_classes), 2)
    return X, y, rng


def make_soft_label_problem(seed, n_features, n_classes):
    """Every point appears once per class, with weights p_k(x) > 0.

    The weighted cross-entropy then grows along every direction in which the
    design varies, so the unpenalised (``C=np.inf``) problem has a finite
    minimiser whatever the draw: no separation is possible.
    """
    rng = np.random.default_rng(seed)
    n_points = int(rng.integers(3 * n_features + 10, 3 * n_features + 40))
    points = rng.standard_normal((n_points, n_features)) + rng.normal(0, 2, n_features)
    proba = rng.dirichlet(np.full(n_classes, 2.0), size=n_points) * 0.9 + 0.1 / n_classes
    X = np.tile(points, (n_classes, 1))
    y = np.repeat(np.arange(n_classes), n_points)
    sample_weight = proba.T.ravel()
    return X, y, sample_weight, rng


def weighted_lstsq(X, Y, sample_weight, fit_intercept):
    """Closed-form weighted least squares: ``(coef (k, p), intercept (k,))``."""
    root = np.sqrt(sample_weight)[:, None]
    design = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    Y2 = Y.reshape(X.shape[0], -1)
    theta = np.linalg.lstsq(design * root, Y2 * root, rcond=None)[0]
    if fit_intercept:
        return theta[:-1].T, theta[-1]
    return theta.T, np.zeros(Y2.shape[1])


def newton_logistic(X, y, sample_weight, C, n_classes, fit_intercept):
    """Minimiser of ``C sum s_i l_i + ||W||^2 / 2`` by damped Newton steps.

    The value and gradient are those of :mod:`gdestimators._reference`'s
    mean-form objective times ``C S``; the Hessian is written here.
    Binary: one coefficient row for class 1. More classes: the full softmax,
    whose intercepts are defined up to a common shift (returned centred).
    """
    n, p = X.shape
    design = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    q = design.shape[1]
    k = 1 if n_classes == 2 else n_classes
    penalised = np.zeros(q)
    penalised[:p] = 1.0
    scale = C * np.sum(sample_weight)

    def unpack(theta):
        T = theta.reshape(q, k)
        return T[:p].T, (T[p] if fit_intercept else np.zeros(k))

    def value_and_gradient(theta):
        coef, intercept = unpack(theta)
        value, grad_coef, grad_intercept = log_loss_objective_and_gradient(
            X, y, coef, intercept, C=C, sample_weight=sample_weight,
            classes=np.arange(n_classes))
        rows = [grad_coef.T] + ([grad_intercept[None]] if fit_intercept else [])
        return scale * value, scale * np.vstack(rows).ravel()

    def hessian(theta):
        Z = design @ theta.reshape(q, k)
        A = expit(Z) if k == 1 else softmax(Z, axis=1)
        hess = np.zeros((q * k, q * k))
        for i in range(n):
            if k == 1:
                curvature = np.array([[A[i, 0] * (1 - A[i, 0])]])
            else:
                curvature = np.diag(A[i]) - np.outer(A[i], A[i])
            hess += C * sample_weight[i] * np.kron(np.outer(design[i], design[i]), curvature)
        hess += np.kron(np.diag(penalised), np.eye(k))
        return hess

    theta = np.zeros(q * k)
    value, grad = value_and_gradient(theta)
    for _ in range(100):
        hess = hessian(theta)
        # Minimal-norm step: the softmax intercepts' common shift stays 0.
        direction = np.linalg.lstsq(hess, grad, rcond=None)[0]
        step = 1.0
        while True:
            candidate = theta - step * direction
            value_candidate, grad_candidate = value_and_gradient(candidate)
            if value_candidate <= value or step < 1e-12:
                break
            step *= 0.5
        converged = np.max(np.abs(candidate - theta)) <= 1e-15 * (1 + np.max(np.abs(theta)))
        theta, value, grad = candidate, value_candidate, grad_candidate
        if converged:
            break
    coef, intercept = unpack(theta)
    if k > 1:
        intercept = intercept - intercept.mean()
    return coef, intercept


def centred(intercept):
    intercept = np.asarray(intercept, dtype=float)
    return intercept - intercept.mean() if intercept.shape[0] > 2 else intercept


# ---------------------------------------------------------------------------
# Agreement with references
# ---------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, n_targets=st.sampled_from([1, 2]),
       fit_intercept=st.booleans(), weighted=st.booleans(), solver=solvers,
       precondition=st.sampled_from(PRECONDITIONERS + ["none"]))
def test_linear_unpenalised_matches_lstsq(seed, n_features, n_targets, fit_intercept,
                                          weighted, solver, precondition):
    # Offsets make the raw (unpreconditioned) problem ill-conditioned: keep
    # them for the preconditioned runs only, so every problem is well posed
    # for the solver that runs it.
    X, y, rng = make_regression(seed, n_features, n_targets,
                                offsets=fit_intercept and precondition != "none")
    sample_weight = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else None
    model = fit_quietly(
        GDLinearRegression(alpha=0.0, fit_intercept=fit_intercept, solver=solver,
                           precondition=precondition, **TIGHT),
        X, y, sample_weight,
    )
    coef, intercept = weighted_lstsq(
        X, y, np.ones(X.shape[0]) if sample_weight is None else sample_weight,
        fit_intercept)
    if n_targets == 1:
        assert model.coef_.shape == (n_features,)
        assert_close(model.coef_, coef[0])
        assert_close(model.intercept_, intercept[0], what="intercept")
    else:
        assert model.coef_.shape == (n_targets, n_features)
        assert_close(model.coef_, coef)
        assert_close(model.intercept_, intercept, what="intercept")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, fit_intercept=st.booleans(),
       weighted=st.booleans(), solver=solvers, precondition=preconditioners,
       log_alpha=st.floats(-3.0, 1.0))
def test_linear_ridge_matches_sklearn_ridge(seed, n_features, fit_intercept, weighted,
                                            solver, precondition, log_alpha):
    X, y, rng = make_regression(seed, n_features)
    sample_weight = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    alpha = 10.0**log_alpha
    model = fit_quietly(
        GDLinearRegression(alpha=alpha, l1_ratio=0.0, fit_intercept=fit_intercept,
                           solver=solver, precondition=precondition, **TIGHT),
        X, y, sample_weight if weighted else None,
    )
    reference = Ridge(alpha=alpha * sample_weight.sum(), fit_intercept=fit_intercept,
                      solver="cholesky").fit(X, y, sample_weight=sample_weight)
    assert_close(model.coef_, reference.coef_)
    assert_close(model.intercept_, reference.intercept_, what="intercept")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, fit_intercept=st.booleans(),
       weighted=st.booleans(), solver=l1_solvers, l1_ratio=st.sampled_from([0.3, 0.7, 1.0]),
       log_alpha=st.floats(-3.0, 0.0))
def test_linear_elastic_net_matches_sklearn(seed, n_features, fit_intercept, weighted,
                                            solver, l1_ratio, log_alpha):
    X, y, rng = make_regression(seed, n_features)
    sample_weight = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else None
    alpha = 10.0**log_alpha
    model = fit_quietly(
        GDLinearRegression(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                           solver=solver, **TIGHT),
        X, y, sample_weight,
    )
    reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                           tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=sample_weight)
    assert_close(model.coef_, reference.coef_)
    assert_close(model.intercept_, reference.intercept_, what="intercept")
    # The L1 prox gives exact zeros where the reference has them.
    assert np.all(model.coef_[reference.coef_ == 0.0] == 0.0)


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, n_classes=st.sampled_from([2, 3, 4]),
       fit_intercept=st.booleans(), weighted=st.booleans(), solver=solvers,
       precondition=preconditioners, log_C=st.floats(-2.0, 2.0))
def test_logistic_matches_newton_and_sklearn(seed, n_features, n_classes, fit_intercept,
                                             weighted, solver, precondition, log_C):
    X, y, rng = make_classification(seed, n_features, n_classes)
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    C = 10.0**log_C
    model = fit_quietly(
        GDLogisticRegression(C=C, fit_intercept=fit_intercept, solver=solver,
                             precondition=precondition, **TIGHT),
        X, y, sample_weight if weighted else None,
    )
    k = 1 if n_classes == 2 else n_classes
    assert model.coef_.shape == (k, n_features)
    assert model.intercept_.shape == (k,)
    coef, intercept = newton_logistic(X, y, sample_weight, C, n_classes, fit_intercept)
    assert_close(model.coef_, coef)
    assert_close(centred(model.intercept_), intercept, what="intercept")

    reference = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-10,
                                   max_iter=100_000).fit(X, y, sample_weight=sample_weight)
    assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)
    assert_close(centred(model.intercept_), centred(reference.intercept_),
                 rtol=SKLEARN_LOGISTIC_RTOL, what="intercept")
    assert_close(model.predict_proba(X), reference.predict_proba(X),
                 rtol=SKLEARN_LOGISTIC_RTOL, what="probabilities")


# ---------------------------------------------------------------------------
# Symmetries of the objective
# ---------------------------------------------------------------------------


def _estimator(kind, solver, **params):
    if kind == "linear":
        return GDLinearRegression(alpha=params.get("alpha", 0.1), solver=solver, **TIGHT)
    return GDLogisticRegression(C=params.get("C", 1.0), solver=solver, **TIGHT)


def _problem(kind, seed, n_features, n_classes=3):
    if kind == "linear":
        X, y, rng = make_regression(seed, n_features)
    else:
        X, y, rng = make_classification(seed, n_features, n_classes)
    return X, y, rng


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, kind=st.sampled_from(["linear", "logistic"]),
       n_classes=st.sampled_from([2, 3]), solver=solvers)
def test_integer_weights_equal_repeated_rows(seed, n_features, kind, n_classes, solver):
    X, y, rng = _problem(kind, seed, n_features, n_classes)
    counts = rng.integers(0, 4, X.shape[0])
    counts[:2 * n_classes] = np.maximum(counts[:2 * n_classes], 1)  # keep every class
    weighted = fit_quietly(_estimator(kind, solver), X, y, counts.astype(float))
    repeated = fit_quietly(_estimator(kind, solver),
                           np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert_close(weighted.coef_, repeated.coef_)
    assert_close(weighted.intercept_, repeated.intercept_, what="intercept")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=st.integers(2, 5), kind=st.sampled_from(["linear", "logistic"]),
       n_classes=st.sampled_from([2, 3]), solver=solvers, data=st.data())
def test_permuting_features_permutes_coef(seed, n_features, kind, n_classes, solver, data):
    X, y, _ = _problem(kind, seed, n_features, n_classes)
    permutation = np.array(data.draw(st.permutations(range(n_features))))
    original = fit_quietly(_estimator(kind, solver), X, y)
    permuted = fit_quietly(_estimator(kind, solver), X[:, permutation], y)
    assert_close(permuted.coef_, original.coef_[..., permutation])
    assert_close(permuted.intercept_, original.intercept_, what="intercept")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, n_classes=st.sampled_from([3, 4]),
       solver=solvers, data=st.data())
def test_relabelling_classes_permutes_coef_rows(seed, n_features, n_classes, solver, data):
    X, y, _ = make_classification(seed, n_features, n_classes)
    # new_label[old] is a permutation of the labels: classes_ stays sorted,
    # so the row of old class j moves to position new_label[j].
    new_label = np.array(data.draw(st.permutations(range(n_classes))))
    original = fit_quietly(_estimator("logistic", solver), X, y)
    relabelled = fit_quietly(_estimator("logistic", solver), X, new_label[y])
    np.testing.assert_array_equal(relabelled.classes_, np.arange(n_classes))
    assert_close(relabelled.coef_[new_label], original.coef_)
    assert_close(relabelled.intercept_[new_label], original.intercept_, what="intercept")
    assert_close(relabelled.predict_proba(X)[:, new_label], original.predict_proba(X),
                 what="probabilities")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, solver=solvers,
       labels=st.sampled_from([("a", "b"), (-1, 1), (0, 7), (False, True)]))
def test_swapping_binary_labels_flips_sign(seed, n_features, solver, labels):
    X, y, _ = make_classification(seed, n_features, 2)
    low, high = np.array(labels, dtype=object if isinstance(labels[0], str) else None)
    y_original = np.where(y == 1, high, low)
    y_swapped = np.where(y == 1, low, high)
    original = fit_quietly(_estimator("logistic", solver), X, y_original)
    swapped = fit_quietly(_estimator("logistic", solver), X, y_swapped)
    # coef_ is for classes_[1] in both fits; the roles of the labels swapped.
    assert list(original.classes_) == list(swapped.classes_)
    assert_close(swapped.coef_, -original.coef_)
    assert_close(swapped.intercept_, -original.intercept_, what="intercept")
    np.testing.assert_array_equal(swapped.predict(X) == high, original.predict(X) == low)


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, kind=st.sampled_from(["linear", "logistic"]),
       n_classes=st.sampled_from([2, 3]), solver=solvers,
       log_c=st.floats(-3.0, 3.0).filter(lambda v: abs(v) > 0.1), data=st.data())
def test_scaling_an_unpenalised_feature_divides_its_coef(seed, n_features, kind, n_classes,
                                                         solver, log_c, data):
    if kind == "linear":
        X, y, _ = make_regression(seed, n_features)
        sample_weight = None
        estimator = GDLinearRegression(alpha=0.0, solver=solver, **TIGHT)
    else:
        # C=np.inf on data that cannot be separated (every point carries
        # every label): the unpenalised minimiser is finite.
        X, y, sample_weight, _ = make_soft_label_problem(seed, n_features, n_classes)
        estimator = GDLogisticRegression(C=np.inf, solver=solver, **TIGHT)
    feature = data.draw(st.integers(0, n_features - 1))
    c = 10.0**log_c
    X_scaled = X.copy()
    X_scaled[:, feature] *= c
    original = fit_quietly(estimator, X, y, sample_weight)
    coef, intercept = original.coef_.copy(), np.copy(original.intercept_)
    scaled = fit_quietly(estimator, X_scaled, y, sample_weight)
    expected = coef.copy()
    expected[..., feature] /= c
    if kind == "logistic" and n_classes > 2:
        # Without a penalty the softmax rows are defined up to a common
        # shift: compare the coefficients relative to their class mean.
        coef_s = scaled.coef_ - scaled.coef_.mean(axis=0)
        expected = expected - expected.mean(axis=0)
        assert_close(coef_s * np.where(np.arange(n_features) == feature, c, 1.0),
                     expected * np.where(np.arange(n_features) == feature, c, 1.0))
        assert_close(centred(scaled.intercept_), centred(intercept), what="intercept")
    else:
        # Compare coef * scale so the tolerance applies to the contribution
        # of each feature to the prediction, whatever c is.
        factor = np.where(np.arange(n_features) == feature, c, 1.0)
        assert_close(scaled.coef_ * factor, expected * factor)
        assert_close(scaled.intercept_, intercept, what="intercept")


@PROPERTY_SETTINGS
@given(seed=seeds, n_features=n_features_st, kind=st.sampled_from(["linear", "logistic"]),
       n_classes=st.sampled_from([2, 3]), solver=solvers, weighted=st.booleans(),
       data=st.data())
def test_shuffling_rows_changes_nothing(seed, n_features, kind, n_classes, solver,
                                        weighted, data):
    X, y, rng = _problem(kind, seed, n_features, n_classes)
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    order = np.array(data.draw(st.permutations(range(X.shape[0]))))
    original = fit_quietly(_estimator(kind, solver), X, y, sample_weight)
    shuffled = fit_quietly(_estimator(kind, solver), X[order], y[order],
                           None if sample_weight is None else sample_weight[order])
    # Rounding only: far tighter than RTOL.
    assert_close(shuffled.coef_, original.coef_, rtol=1e-8)
    assert_close(shuffled.intercept_, original.intercept_, rtol=1e-8, what="intercept")
    if kind == "logistic":
        np.testing.assert_array_equal(shuffled.classes_, original.classes_)
