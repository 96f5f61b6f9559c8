"""Fitted attributes and methods as scikit-learn's own estimators give them.

Code written for ``LogisticRegression`` / ``LinearRegression`` reads
``n_iter_[0]``, checks ``intercept_.dtype``, calls ``sparsify()`` and catches
``ValueError``; each test here compares our types, shapes and behaviour with
those of the scikit-learn estimator that code was written for.
"""

import os
import pickle
from numbers import Integral

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import (
    ElasticNet,
    HuberRegressor,
    LinearRegression,
    LogisticRegression,
    SGDRegressor,
)

import gdestimators
from gdestimators import DivergenceError, GDLinearRegression, GDLogisticRegression

DTYPES = [np.float64, np.float32]


def _regression(dtype, n_targets=1):
    X, y = make_regression(n_samples=60, n_features=5, n_targets=n_targets, noise=1.0,
                           random_state=0)
    return X.astype(dtype), y.astype(dtype)


def _classification(dtype, n_classes):
    if n_classes == 3:
        X, y = load_iris(return_X_y=True)
    else:
        X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    return X.astype(dtype), y


# ---------------------------------------------------------------------------
# n_iter_
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_n_iter_is_an_array_of_one_count_like_logistic_regression(n_classes):
    X, y = _classification(np.float64, n_classes)
    ours = GDLogisticRegression().fit(X, y)
    theirs = LogisticRegression(max_iter=1000).fit(X, y)
    assert type(ours.n_iter_) is type(theirs.n_iter_) is np.ndarray
    assert ours.n_iter_.shape == theirs.n_iter_.shape == (1,)
    assert ours.n_iter_.dtype == theirs.n_iter_.dtype
    assert ours.n_iter_[0] == len(ours.loss_curve_) > 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_n_iter_reaches_max_iter_as_logistic_regression_reports_it():
    X, y = _classification(np.float64, 3)
    ours = GDLogisticRegression(max_iter=3, tol=0.0).fit(X, y)
    theirs = LogisticRegression(max_iter=3, tol=0.0).fit(X, y)
    assert ours.n_iter_[0] == theirs.n_iter_[0] == 3


def test_classifier_n_iter_counts_partial_fit_steps_in_an_array():
    X, y = _classification(np.float64, 3)
    est = GDLogisticRegression()
    for step in (1, 2, 3):
        est.partial_fit(X, y, classes=np.unique(y))
        assert isinstance(est.n_iter_, np.ndarray)
        assert est.n_iter_.shape == (1,) and est.n_iter_.dtype == np.int32
        assert est.n_iter_[0] == step
    est.fit(X, y)  # fit starts afresh; partial_fit then starts a new stream
    est.partial_fit(X, y)
    assert est.n_iter_[0] == 1


def test_regressor_n_iter_is_one_int_like_elastic_net():
    """One count for all targets (they are solved together), an int as
    ElasticNet (single target), HuberRegressor and SGDRegressor give it."""
    for n_targets in (1, 3):
        X, y = _regression(np.float64, n_targets)
        ours = GDLinearRegression().fit(X, y)
        assert isinstance(ours.n_iter_, Integral) and not isinstance(ours.n_iter_, np.ndarray)
        assert ours.n_iter_ == len(ours.loss_curve_) > 0
    X, y = _regression(np.float64)
    for reference in (ElasticNet(alpha=0.1), HuberRegressor(max_iter=1000)):
        assert isinstance(reference.fit(X, y).n_iter_, Integral)
    est = GDLinearRegression()
    est.partial_fit(X, y)
    est.partial_fit(X, y)
    assert isinstance(est.n_iter_, Integral) and est.n_iter_ == 2


# ---------------------------------------------------------------------------
# intercept_
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_regressor_intercept_is_a_numpy_scalar_of_the_data_dtype(dtype):
    X, y = _regression(dtype)
    ours = GDLinearRegression().fit(X, y)
    theirs = LinearRegression().fit(X, y)
    assert type(ours.intercept_) is type(theirs.intercept_) is np.dtype(dtype).type
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-4)
    # Without intercept: zero, of the same type (LinearRegression gives the
    # Python float 0.0 there; a numpy scalar equals it and is a number too).
    ours = GDLinearRegression(fit_intercept=False).fit(X, y)
    theirs = LinearRegression(fit_intercept=False).fit(X, y)
    assert type(ours.intercept_) is np.dtype(dtype).type
    assert ours.intercept_ == theirs.intercept_ == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_regressor_intercept_is_an_array_for_several_targets(dtype):
    X, y = _regression(dtype, n_targets=3)
    ours = GDLinearRegression().fit(X, y)
    theirs = LinearRegression().fit(X, y)
    assert type(ours.intercept_) is type(theirs.intercept_) is np.ndarray
    assert ours.intercept_.shape == theirs.intercept_.shape == (3,)
    assert ours.intercept_.dtype == theirs.intercept_.dtype == dtype


def test_regressor_intercept_after_partial_fit_is_a_numpy_scalar():
    X, y = _regression(np.float64)
    est = GDLinearRegression().partial_fit(X, y)
    assert type(est.intercept_) is np.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_classifier_intercept_is_an_array_like_logistic_regression(dtype, n_classes,
                                                                  fit_intercept):
    X, y = _classification(dtype, n_classes)
    ours = GDLogisticRegression(fit_intercept=fit_intercept).fit(X, y)
    theirs = LogisticRegression(fit_intercept=fit_intercept, max_iter=1000).fit(X, y)
    assert type(ours.intercept_) is type(theirs.intercept_) is np.ndarray
    assert ours.intercept_.shape == theirs.intercept_.shape
    assert ours.intercept_.dtype == theirs.intercept_.dtype == dtype
    if not fit_intercept:
        np.testing.assert_array_equal(ours.intercept_, theirs.intercept_)


# ---------------------------------------------------------------------------
# sparsify() / densify()
# ---------------------------------------------------------------------------

CLASSIFIER_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_sparsify_densify_as_logistic_regression(n_classes):
    X, y = _classification(np.float64, n_classes)
    ours = GDLogisticRegression(C=0.1, l1_ratio=1.0).fit(X, y)
    theirs = LogisticRegression(C=0.1, l1_ratio=1.0, solver="saga", max_iter=5000).fit(X, y)
    dense_coef = ours.coef_.copy()
    before = {name: getattr(ours, name)(X) for name in CLASSIFIER_METHODS}
    score = ours.score(X, y)

    assert ours.sparsify() is ours
    theirs.sparsify()
    assert sp.issparse(ours.coef_)
    assert type(ours.coef_) is type(theirs.coef_)
    assert ours.coef_.shape == theirs.coef_.shape
    np.testing.assert_array_equal(ours.coef_.toarray(), dense_coef)
    assert isinstance(ours.intercept_, np.ndarray)  # not converted
    for X_input in (X, sp.csr_matrix(X), sp.coo_matrix(X)):
        for name in CLASSIFIER_METHODS:
            np.testing.assert_allclose(getattr(ours, name)(X_input), before[name],
                                       rtol=1e-12, atol=1e-12, err_msg=name)
    assert ours.score(X, y) == score
    # Pickling and refitting keep working on the sparse coefficients.
    restored = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(restored.predict(X), before["predict"])

    assert ours.densify() is ours
    theirs.densify()
    assert type(ours.coef_) is type(theirs.coef_) is np.ndarray
    np.testing.assert_array_equal(ours.coef_, dense_coef)
    assert ours.densify() is ours  # a no-op on dense coefficients


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_sparsify_densify(n_targets):
    """As scikit-learn's SparseCoefMixin (SGDRegressor has the 1-D ``coef_``)."""
    X, y = _regression(np.float64, n_targets)
    ours = GDLinearRegression(alpha=5.0, l1_ratio=1.0).fit(X, y)
    dense_coef, prediction = ours.coef_.copy(), ours.predict(X)
    ours.sparsify()
    assert sp.issparse(ours.coef_)
    if n_targets == 1:
        theirs = SGDRegressor(random_state=0).fit(X, y).sparsify()
        assert type(ours.coef_) is type(theirs.coef_)
        assert ours.coef_.shape == theirs.coef_.shape == (X.shape[1],)
    np.testing.assert_array_equal(ours.coef_.toarray(), dense_coef)
    for X_input in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        predicted = ours.predict(X_input)
        assert predicted.shape == prediction.shape
        np.testing.assert_allclose(predicted, prediction, rtol=1e-12)
    ours.densify()
    assert isinstance(ours.coef_, np.ndarray)
    np.testing.assert_array_equal(ours.coef_, dense_coef)


def test_sparsify_follows_the_sparse_interface_setting():
    X, y = _classification(np.float64, 3)
    ours = GDLogisticRegression().fit(X, y)
    theirs = LogisticRegression().fit(X, y)
    with sklearn.config_context(sparse_interface="sparray"):
        ours.sparsify()
        theirs.sparsify()
    assert type(ours.coef_) is type(theirs.coef_)
    np.testing.assert_array_equal(ours.predict(X), ours.densify().predict(X))


@pytest.mark.parametrize("Estimator", [GDLinearRegression, GDLogisticRegression])
def test_sparsify_and_densify_need_a_fitted_estimator(Estimator):
    for method in ("sparsify", "densify"):
        with pytest.raises(NotFittedError):
            getattr(Estimator(), method)()
        with pytest.raises(NotFittedError):
            getattr(LogisticRegression(), method)()


@pytest.mark.parametrize("Estimator", [GDLinearRegression, GDLogisticRegression])
def test_warm_start_and_partial_fit_from_sparse_coefficients(Estimator):
    if Estimator is GDLinearRegression:
        X, y = _regression(np.float64)
        extra = {}
    else:
        X, y = _classification(np.float64, 3)
        extra = {"classes": np.unique(y)}
    cold = Estimator(tol=1e-10).fit(X, y)
    warm = Estimator(tol=1e-10, warm_start=True).fit(X, y).sparsify()
    warm.fit(X, y)  # from the optimum: no iteration
    assert np.ravel(warm.n_iter_)[0] == 0
    assert isinstance(warm.coef_, np.ndarray)
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-8, atol=1e-10)
    stepped = Estimator().fit(X, y).sparsify()
    stepped.partial_fit(X, y, **extra)
    assert isinstance(stepped.coef_, np.ndarray)


# ---------------------------------------------------------------------------
# DivergenceError
# ---------------------------------------------------------------------------


def test_divergence_error_is_public_and_a_value_error():
    assert "DivergenceError" in gdestimators.__all__
    assert issubclass(DivergenceError, ValueError)
    from gdestimators._solvers import DivergenceError as internal

    assert DivergenceError is internal
    assert "ValueError" in DivergenceError.__doc__


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_a_too_large_fixed_learning_rate_raises_divergence_error(solver):
    X, y = _regression(np.float64)
    est = GDLinearRegression(solver=solver, precondition="none", learning_rate=10.0)
    with pytest.raises(DivergenceError, match="largest stable learning rate"):
        est.fit(X, y)
    with pytest.raises(ValueError):  # what code written for scikit-learn catches
        est.fit(X, y)


# ---------------------------------------------------------------------------
# Array-API inputs: attributes in the namespace of X, as LogisticRegression's
# ---------------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("SCIPY_ARRAY_API") != "1",
                    reason="array-API dispatch needs SCIPY_ARRAY_API=1")
def test_array_api_n_iter_and_intercept_live_in_the_namespace_of_X():
    xp = pytest.importorskip("array_api_strict")
    X, y = _classification(np.float64, 3)
    with sklearn.config_context(array_api_dispatch=True):
        clf = GDLogisticRegression().fit(xp.asarray(X), xp.asarray(y))
        reference = LogisticRegression().fit(xp.asarray(X), xp.asarray(y))
        assert type(clf.n_iter_) is type(reference.n_iter_)
        assert clf.n_iter_.shape == (1,) and clf.n_iter_.dtype == xp.int32
        X, y = _regression(np.float64)
        reg = GDLinearRegression().fit(xp.asarray(X), xp.asarray(y))
        assert reg.intercept_.ndim == 0 and reg.intercept_.dtype == xp.float64
        prediction = reg.predict(xp.asarray(X))
    numpy_fit = GDLinearRegression().fit(X, y)
    np.testing.assert_allclose(float(reg.intercept_), numpy_fit.intercept_, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(prediction), numpy_fit.predict(X), rtol=1e-6)
