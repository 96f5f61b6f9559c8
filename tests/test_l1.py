"""L1 and elastic-net penalties: same minimiser and same exact zeros as scikit-learn.

References, all independent of our solvers:

* ``GDLinearRegression(alpha, l1_ratio=1)`` vs ``sklearn.linear_model.Lasso(alpha)``
  and ``l1_ratio`` in (0, 1) vs ``ElasticNet(alpha, l1_ratio)`` (coordinate
  descent, ``tol=1e-14``), on ``load_diabetes`` raw (``scaled=False``: ages,
  sex in {1, 2}, blood measurements in their units) and standardized;
* ``GDLogisticRegression(C, l1_ratio)`` vs ``LogisticRegression(solver="saga")``
  on standardized ``load_breast_cancer`` (binary) and ``load_wine`` (three
  classes, softmax); pure L1 also vs ``solver="liblinear"``.

Criteria: the objective, computed independently by
:mod:`gdestimators._reference` (in the mean form: scikit-learn's
``LogisticRegression`` objective divided by ``C S``, which leaves relative
gaps unchanged), is not worse than the reference's by more than
``OBJECTIVE_RTOL = 1e-7`` relative; the sets of
exactly-zero coefficients are identical; the coefficients agree to
``COEF_RTOL = 1e-6`` relative to the largest (measured: 1e-9 or better). The
problems have more samples than features and full-rank designs, so the
minimisers are unique and these are meaningful. Zeros must be exact
(``== 0.0``): the proximal step sets them; no tiny leftovers such as 1e-17.
"""

import re
from functools import cache

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective, relative_gap
from gdestimators._solvers._common import L1_SOLVERS

OBJECTIVE_RTOL = 1e-7
COEF_RTOL = 1e-6
# tol bounds the relative objective gap (coefficients to about sqrt(tol)).
TIGHT = dict(tol=1e-14, max_iter=200_000)


# ---------------------------------------------------------------------------
# Data and the comparison
# ---------------------------------------------------------------------------


@cache
def dataset(name):
    if name == "diabetes-raw":
        return load_diabetes(return_X_y=True, scaled=False)
    if name == "diabetes-standardized":
        X, y = load_diabetes(return_X_y=True, scaled=False)
        return StandardScaler().fit_transform(X), y
    loader = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name]
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def assert_same_solution(ours, reference, objective_ours, objective_reference):
    gap = relative_gap(objective_ours, objective_reference)
    assert gap <= OBJECTIVE_RTOL, f"objective {gap:.3g} relative above the reference's"
    ours_coef, ref_coef = np.asarray(ours.coef_), np.asarray(reference.coef_)
    np.testing.assert_array_equal(
        ours_coef == 0.0, ref_coef == 0.0,
        err_msg=f"zero sets differ: ours {ours_coef}, reference {ref_coef}")
    scale = np.max(np.abs(ref_coef))
    error = np.max(np.abs(ours_coef - ref_coef))
    assert error <= COEF_RTOL * scale, f"coefficients differ by {error:.3g}"
    # Exact zeros, and nothing that is a zero in all but name.
    nonzero = np.abs(ours_coef[ours_coef != 0.0])
    assert np.all(nonzero > 1e-8 * scale), f"tiny nonzero coefficients: {nonzero}"


# ---------------------------------------------------------------------------
# Linear: Lasso and ElasticNet
# ---------------------------------------------------------------------------

# (dataset, L1 strength alpha * l1_ratio): each zeros some coefficients but
# not all, for every l1_ratio below (alpha = strength / l1_ratio).
LINEAR_CASES = [
    ("diabetes-raw", 3.0),
    ("diabetes-raw", 10.0),
    ("diabetes-standardized", 1.0),
    ("diabetes-standardized", 5.0),
]


@pytest.mark.parametrize("l1_ratio", [1.0, 0.7, 0.3])
@pytest.mark.parametrize("data_name, l1_strength", LINEAR_CASES)
def test_linear_matches_lasso_and_elastic_net(data_name, l1_strength, l1_ratio):
    X, y = dataset(data_name)
    alpha = l1_strength / l1_ratio
    if l1_ratio == 1.0:
        reference = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, y)
    else:
        reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14,
                               max_iter=1_000_000).fit(X, y)
    assert 0 < np.sum(reference.coef_ == 0) < X.shape[1], reference.coef_
    ours = GDLinearRegression(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    objective = lambda m: least_squares_objective(  # noqa: E731
        X, y, m.coef_, m.intercept_, alpha=alpha, l1_ratio=l1_ratio)
    assert_same_solution(ours, reference, objective(ours), objective(reference))
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-6)


def test_weighted_lasso_matches_sklearn():
    X, y = dataset("diabetes-standardized")
    s = np.random.default_rng(0).uniform(0.0, 3.0, len(y))
    alpha = 2.0
    reference = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=s)
    assert 0 < np.sum(reference.coef_ == 0) < X.shape[1]
    ours = GDLinearRegression(alpha=alpha, l1_ratio=1.0, **TIGHT).fit(X, y, sample_weight=s)
    objective = lambda m: least_squares_objective(  # noqa: E731
        X, y, m.coef_, m.intercept_, alpha=alpha, l1_ratio=1.0, sample_weight=s)
    assert_same_solution(ours, reference, objective(ours), objective(reference))


def test_multitarget_lasso_is_lasso_per_target():
    """The L1 penalty is entrywise: two targets are two independent lassos."""
    X, y = dataset("diabetes-standardized")
    Y = np.column_stack([y, np.log(y)])
    alpha = 0.02
    ours = GDLinearRegression(alpha=alpha, l1_ratio=1.0, **TIGHT).fit(X, Y)
    zeros = 0
    for k in range(Y.shape[1]):
        reference = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, Y[:, k])
        zeros += np.sum(reference.coef_ == 0)
        np.testing.assert_array_equal(ours.coef_[k] == 0.0, reference.coef_ == 0.0)
        scale = np.max(np.abs(reference.coef_))
        assert np.max(np.abs(ours.coef_[k] - reference.coef_)) <= COEF_RTOL * scale
    assert zeros > 0


@pytest.mark.parametrize("precondition", ["diagonal", "none"])
@pytest.mark.parametrize("solver", L1_SOLVERS)
def test_every_solver_reaches_the_lasso_solution(solver, precondition):
    X, y = dataset("diabetes-standardized")
    alpha = 1.0
    reference = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, y)
    ours = GDLinearRegression(alpha=alpha, l1_ratio=1.0, solver=solver,
                              precondition=precondition, **TIGHT).fit(X, y)
    assert ours.n_iter_ < TIGHT["max_iter"]
    objective = lambda m: least_squares_objective(  # noqa: E731
        X, y, m.coef_, m.intercept_, alpha=alpha, l1_ratio=1.0)
    assert_same_solution(ours, reference, objective(ours), objective(reference))


# ---------------------------------------------------------------------------
# Logistic: saga and liblinear
# ---------------------------------------------------------------------------


@cache
def saga_reference(data_name, C, l1_ratio):
    X, y = dataset(data_name)
    return LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12,
                              max_iter=1_000_000).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("data_name, C", [("breast_cancer", 0.05), ("breast_cancer", 0.1),
                                          ("wine", 0.1), ("wine", 0.5)])
def test_logistic_matches_saga(data_name, C, l1_ratio):
    X, y = dataset(data_name)
    reference = saga_reference(data_name, C, l1_ratio)
    assert 0 < np.sum(reference.coef_ == 0) < reference.coef_.size
    ours = GDLogisticRegression(C=C, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    objective = lambda m: log_loss_objective(  # noqa: E731
        X, y, m.coef_, m.intercept_, C=C, l1_ratio=l1_ratio)
    assert_same_solution(ours, reference, objective(ours), objective(reference))


def liblinear_reference(C, fit_intercept):
    """Pure-L1 liblinear on standardized breast cancer.

    liblinear's coordinate descent visits coordinates in a random order and
    at tol=1e-12 its iteration count depends on that order (some seeds need
    more than 10^5 iterations here); random_state=2 converges in a few
    hundred for every C below. A reference that did not converge fails the
    test instead of being compared.
    """
    X, y = dataset("breast_cancer")
    max_iter = 10_000
    reference = LogisticRegression(
        C=C, l1_ratio=1.0, solver="liblinear", tol=1e-12, max_iter=max_iter,
        fit_intercept=fit_intercept, intercept_scaling=1e6, random_state=2,
    ).fit(X, y)
    assert reference.n_iter_.max() < max_iter, "liblinear reference did not converge"
    return reference


@pytest.mark.parametrize("C", [0.05, 0.1, 1.0])
def test_logistic_l1_matches_liblinear_without_intercept(C):
    """Without intercept liblinear minimises exactly our objective."""
    X, y = dataset("breast_cancer")
    reference = liblinear_reference(C, fit_intercept=False)
    assert 0 < np.sum(reference.coef_ == 0) < X.shape[1]
    ours = GDLogisticRegression(C=C, l1_ratio=1.0, fit_intercept=False, **TIGHT).fit(X, y)
    objective = lambda m: log_loss_objective(X, y, m.coef_, 0.0, C=C, l1_ratio=1.0)  # noqa: E731
    assert_same_solution(ours, reference, objective(ours), objective(reference))


@pytest.mark.parametrize("C", [0.05, 0.1, 1.0])
def test_logistic_l1_matches_liblinear_with_intercept(C):
    """liblinear penalises its intercept: it fits a constant feature of value
    ``intercept_scaling`` whose coefficient enters the L1 penalty. With
    ``intercept_scaling=1e6`` that penalty is ``|b| / 1e6``, about 1e-6 of the
    unpenalised intercept's value -- negligible against OBJECTIVE_RTOL (the
    objective is of order 10..100, the intercept of order 1)."""
    X, y = dataset("breast_cancer")
    reference = liblinear_reference(C, fit_intercept=True)
    assert 0 < np.sum(reference.coef_ == 0) < X.shape[1]
    ours = GDLogisticRegression(C=C, l1_ratio=1.0, **TIGHT).fit(X, y)
    objective = lambda m: log_loss_objective(  # noqa: E731
        X, y, m.coef_, m.intercept_, C=C, l1_ratio=1.0)
    gap = relative_gap(objective(ours), objective(reference))
    assert gap <= OBJECTIVE_RTOL, gap
    np.testing.assert_array_equal(ours.coef_ == 0.0, reference.coef_ == 0.0)
    # liblinear's own stop test leaves coefficient errors of order 1e-5 here
    # (its objective is within 1e-12 of ours): compare at 1e-4.
    scale = np.max(np.abs(reference.coef_))
    assert np.max(np.abs(ours.coef_ - reference.coef_)) <= 1e-4 * scale


# ---------------------------------------------------------------------------
# Misuse
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [
    GDLinearRegression(alpha=0.1, l1_ratio=0.5, precondition="full"),
    GDLinearRegression(alpha=0.1, l1_ratio=1.0, precondition="full"),
    GDLogisticRegression(l1_ratio=0.5, precondition="full"),
    GDLogisticRegression(l1_ratio=1.0, precondition="full"),
], ids=lambda e: f"{type(e).__name__}-l1_ratio={e.l1_ratio}")
def test_full_preconditioning_with_l1_is_refused(estimator):
    X, y = dataset("breast_cancer")
    with pytest.raises(ValueError, match=re.escape("precondition='full'")) as info:
        estimator.fit(X, y)
    message = str(info.value)
    assert "L1" in message or "l1_ratio" in message, message
    assert "diagonal" in message, message  # names the remedy


def test_full_preconditioning_without_l1_is_accepted():
    X, y = dataset("diabetes-standardized")
    GDLinearRegression(alpha=0.1, l1_ratio=0.0, precondition="full").fit(X, y)
