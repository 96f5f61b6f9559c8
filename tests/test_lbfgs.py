"""``solver="lbfgs"`` at the estimator level, against independent references.

References share no code with the solver: scikit-learn's
``LogisticRegression(tol=1e-12, max_iter=10000)``, ``LinearRegression`` and
``Ridge`` (our ``alpha`` is ``Ridge(alpha=alpha * sum(sample_weight))``), and
the plain objectives of :mod:`gdestimators._reference`. The fits run at
``tol=1e-14``, a relative objective gap (raised to the float64 floor of
128 ulps, ``2.8e-14``): coefficients are then within about ``sqrt(tol)``
relative of the minimiser. Each float64 fit must reach the reference's
objective within ``1e-8`` relative and its coefficients within ``1e-6``
relative to their scale.

scikit-learn's default solver (L-BFGS) stops on the relative decrease of the
objective, at gradients near ``1e-8``, where coefficients are still ``4e-6``
away from the minimiser; the coefficient reference is therefore
``LogisticRegression(solver="newton-cholesky", tol=1e-12)``, whose Newton
steps reach gradients below ``1e-12`` on these sets; its default solver is
the objective reference. In float32 ``tol`` is raised to 128 ulps,
``1.5e-5``: the fit stops once its certified gap (``dual_gap_``) is below
that, so float32 fits are held to what that promises: the objective,
evaluated in float64 at the float32 coefficients, within ``1.5e-5``
relative of the minimum, and the coefficients within the distance that
gap allows by the strong convexity of the penalty. Where scikit-learn does
not converge (raw features), the fit is judged by the optimality condition:
the reference gradient at the fitted coefficients vanishes.

The phases of the solver (two-loop recursion, Wolfe line search) are tested
in test_solvers.py; array-API and dask parity in test_array_api.py and
test_dask.py.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _assertions import assert_close
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_linnerud,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._base import TOL_FLOOR_ULPS
from gdestimators._reference import (
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
    relative_gap,
)
from gdestimators._solvers._auto import MAX_NEWTON_SIZE
from gdestimators._solvers._common import L1_SOLVERS

TOL = 1e-14
OBJECTIVE_RTOL = 1e-8
COEF_RTOL = {np.float64: 1e-6, np.float32: 5e-4}
#: The relative gap a float32 fit certifies: ``tol`` raised to 128 ulps.
FLOAT32_TOL = TOL_FLOOR_ULPS * float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _single_blas_thread():
    # Tiny matrices: BLAS threads would only measure the machine's load.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def classification_data(name):
    """Data on which scikit-learn's L-BFGS converges to tol=1e-12."""
    if name == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "multinomial":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "iris":  # raw, already on comparable scales
        return load_iris(return_X_y=True)
    raise ValueError(name)


def sample_weights(n, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 3.0, size=n)


def assert_logistic_matches(ours, X, y, *, C, sample_weight=None, class_weight=None,
                            dtype=np.float64):
    """``ours`` against ``LogisticRegression`` on the same (float64) problem.

    The objective is compared with scikit-learn's default solver, the
    coefficients with its Newton solver; a float32 fit with what its
    certified gap promises (see the module docstring).
    """
    X64 = X.astype(np.float64)
    options = dict(C=C, fit_intercept=ours.fit_intercept, class_weight=class_weight,
                   tol=1e-12, max_iter=10_000)
    reference = LogisticRegression(**options).fit(X64, y, sample_weight=sample_weight)
    newton = LogisticRegression(solver="newton-cholesky", **options).fit(
        X64, y, sample_weight=sample_weight
    )
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    if class_weight is not None:
        weights = weights * compute_sample_weight(class_weight, y)
    objectives = [
        log_loss_objective(X64, y, model.coef_, model.intercept_, C=C, sample_weight=weights)
        for model in (ours, reference, newton)
    ]
    assert ours.coef_.dtype == dtype
    if dtype == np.float32:
        assert_within_certified_gap(ours, objectives[0], objectives[2], newton.coef_,
                                    strong_convexity=1.0 / (C * weights.sum()))
        return
    assert abs(relative_gap(*objectives[:2])) <= OBJECTIVE_RTOL, objectives
    rtol = COEF_RTOL[dtype]
    assert_close(ours.coef_, newton.coef_, rtol=rtol)
    assert_close(ours.intercept_, newton.intercept_, rtol=rtol, what="intercepts")
    np.testing.assert_array_equal(ours.classes_, reference.classes_)


def assert_within_certified_gap(ours, objective, optimum, optimal_coef, strong_convexity):
    """What a float32 fit promises: ``(F - min F) / F <= FLOAT32_TOL``.

    Its certificate (``dual_gap_``, computed in float32) must pass that
    bound and not understate the gap measured in float64 beyond the
    rounding of float32 objectives. The penalty makes ``F`` strongly convex
    in ``W`` with modulus ``strong_convexity``, so the gap bounds the
    distance to the minimiser: ``|W - W*| <= sqrt(2 (F - min F) / mu)``.
    """
    gap = objective - optimum
    assert 0.0 <= gap <= FLOAT32_TOL * objective, (objective, optimum)
    assert gap <= ours.dual_gap_ + 64 * np.finfo(np.float32).eps * objective
    assert ours.dual_gap_ <= FLOAT32_TOL * objective
    distance = np.linalg.norm(np.asarray(ours.coef_, dtype=np.float64) - optimal_coef)
    assert distance <= np.sqrt(2.0 * FLOAT32_TOL * objective / strong_convexity)


@pytest.mark.parametrize("data", ["binary", "multinomial", "iris"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [1.0, 0.05])
def test_logistic_regression_matches_scikit_learn(data, fit_intercept, C):
    X, y = classification_data(data)
    ours = GDLogisticRegression(C=C, fit_intercept=fit_intercept, solver="lbfgs",
                                tol=TOL).fit(X, y)
    assert_logistic_matches(ours, X, y, C=C)


@pytest.mark.parametrize("data", ["binary", "multinomial"])
@pytest.mark.parametrize(
    "weights", ["sample_weight", "class_weight", "balanced+sample_weight"]
)
def test_logistic_regression_with_weights(data, weights):
    X, y = classification_data(data)
    sample_weight = None if weights == "class_weight" else sample_weights(X.shape[0])
    class_weight = None
    if weights == "class_weight":
        classes = np.unique(y)
        class_weight = dict(zip(classes, np.linspace(0.5, 2.0, classes.size), strict=True))
    elif weights == "balanced+sample_weight":
        class_weight = "balanced"
    ours = GDLogisticRegression(class_weight=class_weight, solver="lbfgs", tol=TOL).fit(
        X, y, sample_weight=sample_weight
    )
    assert_logistic_matches(ours, X, y, C=1.0, sample_weight=sample_weight,
                            class_weight=class_weight)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression_sparse_input(n_classes):
    X, y = make_classification(n_samples=300, n_features=20, n_informative=6,
                               n_classes=n_classes, random_state=0)
    X[np.random.default_rng(0).random(X.shape) < 0.7] = 0.0
    X_sparse = sp.csr_array(X)
    ours = GDLogisticRegression(solver="lbfgs", tol=TOL).fit(X_sparse, y)
    assert_logistic_matches(ours, X, y, C=1.0)
    # The same minimiser as from the dense copy.
    dense = GDLogisticRegression(solver="lbfgs", tol=TOL).fit(X, y)
    assert_close(ours.coef_, dense.coef_, rtol=1e-6)


@pytest.mark.parametrize("data", ["binary", "multinomial"])
def test_logistic_regression_float32(data):
    X, y = classification_data(data)
    X = X.astype(np.float32)
    ours = GDLogisticRegression(solver="lbfgs", tol=TOL).fit(X, y)
    assert_logistic_matches(ours, X, y, C=1.0, dtype=np.float32)


@pytest.mark.parametrize(
    "loader, C", [(load_breast_cancer, 1.0), (load_breast_cancer, 1e4), (load_wine, 1.0)],
    ids=["breast_cancer-C1", "breast_cancer-C1e4", "wine-C1"],
)
def test_logistic_regression_raw_features_meet_the_optimality_condition(loader, C):
    """Raw features spanning six orders of magnitude, where scikit-learn's
    L-BFGS stops short: the reference gradient at our fit is zero.

    In standardized features ``(x_j - mu_j) / sd_j`` the same objective has
    the gradient ``(grad_w_j - mu_j grad_b) / sd_j`` in the coefficients and
    ``grad_b`` in the intercept: free of the raw scales, it must vanish to
    ``1e-8``. The certified gap (``2.8e-14`` relative) bounds it by
    ``sqrt(2 L gap)``, about ``1e-7`` with ``L`` the largest curvature in
    standardized features; the last quasi-Newton steps, superlinear, take
    it below ``4e-10`` on these sets.
    """
    X, y = loader(return_X_y=True)
    ours = GDLogisticRegression(C=C, solver="lbfgs", tol=TOL, max_iter=20_000).fit(X, y)
    _, grad_coef, grad_intercept = log_loss_objective_and_gradient(
        X, y, ours.coef_, ours.intercept_, C=C
    )
    standardized = (grad_coef - grad_intercept[:, None] * X.mean(axis=0)) / X.std(axis=0)
    assert np.max(np.abs(standardized)) <= 1e-8
    assert np.max(np.abs(grad_intercept)) <= 1e-8


def test_l1_penalty_is_refused_with_the_solvers_that_handle_it():
    names = re.escape(", ".join(repr(name) for name in L1_SOLVERS))
    assert "lbfgs" not in L1_SOLVERS and {"newton", "auto"} <= set(L1_SOLVERS)
    X, y = classification_data("binary")
    with pytest.raises(ValueError, match=f"l1_ratio.*{names}"):
        GDLogisticRegression(solver="lbfgs", l1_ratio=0.5).fit(X, y)
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match=f"l1_ratio.*{names}"):
        GDLinearRegression(solver="lbfgs", alpha=0.1, l1_ratio=1.0).fit(X, y)


# ---------------------------------------------------------------------------
# Least squares
# ---------------------------------------------------------------------------


def linear_reference(X, y, alpha, sample_weight, fit_intercept):
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    if alpha == 0:
        model = LinearRegression(fit_intercept=fit_intercept)
    else:
        model = Ridge(alpha=alpha * s.sum(), fit_intercept=fit_intercept, solver="cholesky")
    return model.fit(X, y, sample_weight=sample_weight)


def assert_linear_matches(ours, X, y, *, alpha, sample_weight=None, dtype=np.float64):
    X64 = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    reference = linear_reference(X64, y, alpha, sample_weight, ours.fit_intercept)
    objectives = [
        least_squares_objective(X64, y, model.coef_, model.intercept_, alpha=alpha,
                                sample_weight=sample_weight)
        for model in (ours, reference)
    ]
    if dtype == np.float32:
        assert_within_certified_gap(ours, *objectives, reference.coef_, strong_convexity=alpha)
    else:
        assert abs(relative_gap(*objectives)) <= OBJECTIVE_RTOL, objectives
    rtol = COEF_RTOL[dtype]
    assert_close(ours.coef_, reference.coef_, rtol=rtol)
    scale = np.max(np.abs(y))  # the intercept is in the units of y
    # scikit-learn's intercept_ is the scalar 0.0 without intercept.
    expected = np.broadcast_to(reference.intercept_, np.shape(ours.intercept_))
    assert_close(np.asarray(ours.intercept_) / scale, expected / scale, rtol=rtol,
                 what="intercepts")


@pytest.mark.parametrize("targets", ["one", "three"])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_matches_scikit_learn(targets, alpha, weighted, fit_intercept):
    X, y = (load_diabetes if targets == "one" else load_linnerud)(return_X_y=True)
    sample_weight = sample_weights(X.shape[0]) if weighted else None
    ours = GDLinearRegression(alpha=alpha, fit_intercept=fit_intercept, solver="lbfgs",
                              tol=TOL).fit(X, y, sample_weight=sample_weight)
    assert_linear_matches(ours, X, y, alpha=alpha, sample_weight=sample_weight)


@pytest.mark.parametrize("precondition", ["diagonal", "none"])
def test_linear_regression_without_full_preconditioning(precondition):
    """The pairs must learn the feature correlations the change of variables
    no longer removes."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X) if precondition == "none" else X
    ours = GDLinearRegression(alpha=0.01, solver="lbfgs", precondition=precondition,
                              tol=TOL, max_iter=10_000).fit(X, y)
    assert_linear_matches(ours, X, y, alpha=0.01)


def test_linear_regression_sparse_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 15)) * (rng.random((200, 15)) < 0.3)
    y = X @ rng.standard_normal((15, 2)) + 0.1 * rng.standard_normal((200, 2))
    ours = GDLinearRegression(alpha=0.01, solver="lbfgs", tol=TOL).fit(sp.csr_array(X), y)
    assert_linear_matches(ours, sp.csr_array(X), y, alpha=0.01)


def test_linear_regression_float32():
    X, y = load_linnerud(return_X_y=True)
    ours = GDLinearRegression(alpha=0.1, solver="lbfgs", tol=TOL).fit(
        X.astype(np.float32), y.astype(np.float32)
    )
    assert ours.coef_.dtype == np.float32
    assert_linear_matches(ours, X, y, alpha=0.1, dtype=np.float32)


# ---------------------------------------------------------------------------
# solver="auto": L-BFGS where a Hessian is too large to form
# ---------------------------------------------------------------------------


def large_multinomial():
    """7 classes and 300 features: ``301 * 7 = 2107`` coordinates, above
    ``MAX_NEWTON_SIZE``; BB crawls past its patience on it, so that the fit
    hands over."""
    X, y = make_classification(n_samples=400, n_features=300, n_informative=30,
                               n_classes=7, random_state=0)
    classes = np.unique(y).size
    assert (X.shape[1] + 1) * classes > MAX_NEWTON_SIZE
    return X, y


def test_auto_hands_over_to_lbfgs_when_the_hessian_is_too_large():
    """The certified gap of the default ``tol`` bounds our objective above
    scikit-learn's (itself at least the minimum); scikit-learn's L-BFGS at
    ``tol=1e-12`` stops ``6e-12`` above the minimum here, its coefficients
    ``3e-6`` relative from it."""
    X, y = large_multinomial()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = GDLogisticRegression().fit(X, y)
    assert ours.solver_ == "bb -> lbfgs"
    assert len(ours.loss_curve_) == ours.n_iter_[0]
    reference = LogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    objective, reference_objective = (
        log_loss_objective(X, y, model.coef_, model.intercept_, C=1.0)
        for model in (ours, reference)
    )
    assert ours.dual_gap_ <= ours.tol * objective
    assert relative_gap(objective, reference_objective) <= ours.tol
    assert abs(relative_gap(objective, reference_objective)) <= OBJECTIVE_RTOL
    assert_close(ours.coef_, reference.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)


def test_auto_keeps_bb_with_l1_when_the_hessian_is_too_large():
    """L-BFGS needs a smooth objective: with an L1 part BB runs to the end."""
    X, y = large_multinomial()
    with pytest.warns(ConvergenceWarning):  # a short budget, on purpose
        ours = GDLogisticRegression(l1_ratio=0.5, max_iter=30).fit(X, y)
    assert ours.solver_ == "bb"
