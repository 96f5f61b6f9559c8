"""scikit-learn integration: pipelines, model selection, persistence, routing.

Each test asserts a property with an independent reference, not that the
call runs: a pipeline gives what scaling by hand gives, a grid search picks
the parameters (and reports the scores) that scikit-learn's own estimators
give on the same folds, cross-validation scores match
:class:`~sklearn.linear_model.LogisticRegression`'s, a pickled or cloned
estimator predicts exactly like the original, and routed sample weights are
the weights of a direct weighted fit.

Tolerances
----------
Our fits use ``tol=1e-14`` (a certified relative objective gap): coefficients
then agree with scikit-learn's exact solutions to about ``1e-7`` relative
(see ``test_parity.py``), so scores
computed from them (R^2, log-loss, accuracy, AUC) agree to far better than
the ``1e-6`` used here. Identities that involve the same computation twice
(pickle, clone, routing vs a direct fit) are asserted bit for bit.

Where sklearn's lbfgs is the reference, the data are standardized (in a
pipeline or up front): on raw iris or breast_cancer it stops 1e-6 to 1e-4
(relative) short of the optimum even at its ``tol=1e-10``, which would show in
probabilities at the ``1e-6`` level.
"""

import pickle

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import NotFittedError, UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._solvers import SOLVERS

TOL = 1e-10
# Our tol bounds the relative objective gap: coefficients are then accurate
# to about sqrt(tol) relative, so agreement at 1e-6 to 1e-7 asks for 1e-14.
GD_TOL = 1e-14
MAX_ITER = 100_000
# Scores from two solutions that agree to ~1e-8: see the module docstring.
SCORE_ATOL = 1e-6


@pytest.fixture(autouse=True)
def _single_blas_thread():
    # The arrays are tiny; on a loaded two-core machine OpenBLAS's threads
    # only add contention (see test_parity.py). Grid-search workers get one
    # thread each from joblib anyway.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _sample_weight(n, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 3.0, size=n)


# ---------------------------------------------------------------------------
# Pipeline
# ---------------------------------------------------------------------------


def test_pipeline_linear_regression_equals_manual_scaling():
    X, y = load_diabetes(return_X_y=True)
    X = X * np.linspace(1.0, 100.0, X.shape[1])  # give the scaler work to do
    pipe = make_pipeline(StandardScaler(), GDLinearRegression(alpha=0.01, tol=GD_TOL))
    pipe.fit(X, y)

    scaler = StandardScaler().fit(X)
    manual = GDLinearRegression(alpha=0.01, tol=GD_TOL).fit(scaler.transform(X), y)
    # Same arrays through the same computation: identical bits.
    assert_array_equal(pipe[-1].coef_, manual.coef_)
    assert_array_equal(pipe.predict(X), manual.predict(scaler.transform(X)))

    # And the optimum is Ridge's on the scaled data (alpha * n_samples).
    ridge = Ridge(alpha=0.01 * X.shape[0], solver="cholesky").fit(scaler.transform(X), y)
    assert_allclose(pipe.predict(X), ridge.predict(scaler.transform(X)), rtol=1e-7)


def test_pipeline_logistic_regression_equals_manual_scaling():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), GDLogisticRegression(C=0.5, tol=GD_TOL))
    pipe.fit(X, y)

    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    manual = GDLogisticRegression(C=0.5, tol=GD_TOL).fit(Xs, y)
    assert_array_equal(pipe[-1].coef_, manual.coef_)
    assert_array_equal(pipe.predict_proba(X), manual.predict_proba(Xs))
    assert_array_equal(pipe.predict(X), manual.predict(Xs))

    # The same model as sklearn's pipeline with LogisticRegression.
    sk = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, tol=TOL, max_iter=10_000))
    sk.fit(X, y)
    assert_allclose(pipe.predict_proba(X), sk.predict_proba(X), atol=SCORE_ATOL)
    assert_array_equal(pipe.predict(X), sk.predict(X))


# ---------------------------------------------------------------------------
# Grid search
# ---------------------------------------------------------------------------


def test_grid_search_linear_regression_matches_ridge():
    X, y = load_diabetes(return_X_y=True)
    alphas = [1e-4, 1e-3, 1e-2, 1e-1]
    solvers = list(SOLVERS)
    cv = KFold(n_splits=4, shuffle=True, random_state=0)
    search = GridSearchCV(
        GDLinearRegression(tol=GD_TOL, max_iter=MAX_ITER),
        {"alpha": alphas, "solver": solvers},
        cv=cv, n_jobs=2,
    ).fit(X, y)

    # Reference: our alpha is Ridge(alpha * n_train) on every fold (the
    # training folds have different sizes, so GridSearchCV(Ridge) with one
    # alpha would be a different model).
    reference = {}
    for alpha in alphas:
        scores = []
        for train, test in cv.split(X):
            ridge = Ridge(alpha=alpha * len(train), solver="cholesky").fit(X[train], y[train])
            scores.append(r2_score(y[test], ridge.predict(X[test])))
        reference[alpha] = np.mean(scores)

    results = search.cv_results_
    for params, score in zip(results["params"], results["mean_test_score"], strict=True):
        assert score == pytest.approx(reference[params["alpha"]], abs=SCORE_ATOL), params
    best_alpha = max(reference, key=reference.get)
    assert search.best_params_["alpha"] == best_alpha
    # The refit model is the full-data optimum.
    ridge = Ridge(alpha=best_alpha * X.shape[0], solver="cholesky").fit(X, y)
    assert_allclose(search.best_estimator_.coef_, ridge.coef_, rtol=1e-6,
                    atol=1e-6 * np.max(np.abs(ridge.coef_)))


def test_grid_search_logistic_regression_matches_sklearn():
    X, y = load_iris(return_X_y=True)
    Cs = [0.01, 0.1, 1.0, 10.0]
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    # Scaled in a pipeline: on raw iris sklearn's lbfgs stops ~2e-6 (relative)
    # short of the optimum even at tol=1e-10, which shows in the probabilities.
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GDLogisticRegression(tol=GD_TOL, max_iter=MAX_ITER)),
        {"gdlogisticregression__C": Cs, "gdlogisticregression__solver": list(SOLVERS)},
        cv=cv, scoring="neg_log_loss", n_jobs=2,
    ).fit(X, y)
    # Same C, same objective: LogisticRegression is the reference directly.
    reference = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(tol=TOL, max_iter=10_000)),
        {"logisticregression__C": Cs},
        cv=cv, scoring="neg_log_loss",
    ).fit(X, y)
    ref_score = dict(zip(Cs, reference.cv_results_["mean_test_score"], strict=True))
    # The grid's scores are well separated, so "best" is not decided by noise.
    assert np.min(np.diff(np.sort(list(ref_score.values())))) > 100 * SCORE_ATOL

    results = search.cv_results_
    for params, score in zip(results["params"], results["mean_test_score"], strict=True):
        C = params["gdlogisticregression__C"]
        assert score == pytest.approx(ref_score[C], abs=SCORE_ATOL), params
    assert (
        search.best_params_["gdlogisticregression__C"]
        == reference.best_params_["logisticregression__C"]
    )
    assert_allclose(
        search.best_estimator_.predict_proba(X),
        reference.best_estimator_.predict_proba(X),
        atol=SCORE_ATOL,
    )


# ---------------------------------------------------------------------------
# Cross-validation scores
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc_ovr", "accuracy"])
def test_cross_val_score_multiclass_matches_logistic_regression(scoring):
    X, y = load_iris(return_X_y=True)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=1)
    ours = cross_val_score(
        make_pipeline(StandardScaler(), GDLogisticRegression(C=2.0, tol=GD_TOL)),
        X, y, cv=cv, scoring=scoring,
    )
    theirs = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=2.0, tol=TOL, max_iter=10_000)),
        X, y, cv=cv, scoring=scoring,
    )
    assert ours.shape == (5,)
    assert_allclose(ours, theirs, atol=SCORE_ATOL)


def test_cross_val_score_binary_roc_auc_matches_logistic_regression():
    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=2)
    # Scaled in the pipeline: on raw breast_cancer sklearn's lbfgs needs
    # tens of seconds to reach tol=1e-10 (see test_parity.py).
    ours = cross_val_score(
        make_pipeline(StandardScaler(), GDLogisticRegression(C=1.0, tol=GD_TOL)),
        X, y, cv=cv, scoring="roc_auc",
    )
    theirs = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=TOL, max_iter=10_000)),
        X, y, cv=cv, scoring="roc_auc",
    )
    assert_allclose(ours, theirs, atol=SCORE_ATOL)


# ---------------------------------------------------------------------------
# Persistence and cloning
# ---------------------------------------------------------------------------


def _fitted_estimators():
    X_reg, y_reg = load_diabetes(return_X_y=True)
    X_clf, y_clf = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y_clf]  # string classes
    return [
        (GDLinearRegression(alpha=0.01).fit(X_reg, y_reg), X_reg),
        (GDLogisticRegression(C=0.5).fit(X_clf, labels), X_clf),
        (GDLogisticRegression().fit(X_clf, labels == "virginica"), X_clf),
    ]


PREDICT_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


@pytest.mark.parametrize("index", range(3))
def test_pickle_round_trip_predicts_identically(index):
    est, X = _fitted_estimators()[index]
    restored = pickle.loads(pickle.dumps(est))
    assert type(restored) is type(est)
    assert restored.get_params() == est.get_params()
    for name, value in vars(est).items():
        if name.endswith("_") and not name.startswith("_"):
            assert_array_equal(getattr(restored, name), value, err_msg=name)
    for method in PREDICT_METHODS:
        if hasattr(est, method):
            assert_array_equal(getattr(restored, method)(X), getattr(est, method)(X))


@pytest.mark.parametrize("index", range(3))
def test_clone_is_unfitted_and_refits_identically(index):
    est, X = _fitted_estimators()[index]
    cloned = clone(est)
    assert cloned is not est
    assert cloned.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)
    assert not hasattr(cloned, "coef_")

    # Fitting is deterministic: the clone refits to the same bits.
    if isinstance(est, GDLinearRegression):
        X_fit, y_fit = load_diabetes(return_X_y=True)
    else:
        X_fit, y_idx = load_iris(return_X_y=True)
        labels = np.array(["setosa", "versicolor", "virginica"])[y_idx]
        y_fit = labels if est.classes_.size == 3 else labels == "virginica"
    cloned.fit(X_fit, y_fit)
    assert_array_equal(cloned.coef_, est.coef_)
    assert_array_equal(cloned.intercept_, est.intercept_)
    assert_array_equal(cloned.predict(X), est.predict(X))
    # Refitting the clone leaves the original untouched (no shared state).
    cloned.set_params(**({"alpha": 1.0} if hasattr(est, "alpha") else {"C": 1e-3}))
    cloned.fit(X_fit, y_fit)
    assert not np.allclose(cloned.coef_, est.coef_)


def test_clone_keeps_non_default_parameters():
    est = GDLogisticRegression(
        C=3.0, l1_ratio=0.25, fit_intercept=False, class_weight={0: 1.0, 1: 2.0},
        solver="nesterov", precondition="diagonal", max_iter=77, tol=1e-5,
    )
    assert clone(est).get_params() == est.get_params()


# ---------------------------------------------------------------------------
# Metadata routing of sample_weight
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_estimator, load",
    [
        (lambda: GDLinearRegression(alpha=0.01, tol=GD_TOL), load_diabetes),
        (lambda: GDLogisticRegression(C=1.0, tol=GD_TOL), load_iris),
    ],
    ids=["linear", "logistic"],
)
def test_routed_sample_weight_equals_direct_weighted_fit(make_estimator, load):
    X, y = load(return_X_y=True)
    sw = _sample_weight(X.shape[0], seed=3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = make_estimator().set_fit_request(sample_weight=True)
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, est).fit(X, y, sample_weight=sw)

        Xs = StandardScaler().fit_transform(X)
        direct = make_estimator().fit(Xs, y, sample_weight=sw)
        unweighted = make_estimator().fit(Xs, y)

    # Routed weights are the weights of a direct fit, bit for bit ...
    assert_array_equal(pipe[-1].coef_, direct.coef_)
    assert_array_equal(pipe[-1].intercept_, direct.intercept_)
    # ... and they were used: the weighted optimum differs from the
    # unweighted one by far more than the solver's accuracy.
    assert np.max(np.abs(direct.coef_ - unweighted.coef_)) > 1e-3 * np.max(np.abs(direct.coef_))


def test_routed_sample_weight_in_cross_validate():
    X, y = load_iris(return_X_y=True)
    # Standardized so that sklearn's lbfgs reaches the optimum (see above).
    X = StandardScaler().fit_transform(X)
    sw = _sample_weight(X.shape[0], seed=4)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = (
            GDLogisticRegression(C=1.0, tol=GD_TOL)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=False)
        )
        result = cross_validate(
            est, X, y, cv=cv, params={"sample_weight": sw}, return_estimator=True
        )
    for fitted, (train, _) in zip(result["estimator"], cv.split(X, y), strict=True):
        direct = GDLogisticRegression(C=1.0, tol=GD_TOL).fit(
            X[train], y[train], sample_weight=sw[train]
        )
        assert_array_equal(fitted.coef_, direct.coef_)
        # And it is LogisticRegression's weighted optimum on that fold.
        sk = LogisticRegression(C=1.0, tol=TOL, max_iter=10_000).fit(
            X[train], y[train], sample_weight=sw[train]
        )
        assert_allclose(fitted.coef_, sk.coef_, rtol=1e-5, atol=1e-5 * np.abs(sk.coef_).max())


def test_routed_sample_weight_in_grid_search():
    X, y = load_diabetes(return_X_y=True)
    sw = _sample_weight(X.shape[0], seed=5)
    with sklearn.config_context(enable_metadata_routing=True):
        est = (
            GDLinearRegression(tol=GD_TOL)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=False)
        )
        search = GridSearchCV(est, {"alpha": [1e-3, 1e-2]}, cv=3).fit(
            X, y, sample_weight=sw
        )
    best = search.best_params_["alpha"]
    # The refit used the weights: it is the weighted ridge optimum,
    # Ridge(alpha * sum(sw)).
    ridge = Ridge(alpha=best * sw.sum(), solver="cholesky").fit(X, y, sample_weight=sw)
    assert_allclose(search.best_estimator_.coef_, ridge.coef_, rtol=1e-6,
                    atol=1e-6 * np.max(np.abs(ridge.coef_)))


@pytest.mark.parametrize(
    "est, load",
    [(GDLinearRegression(), load_diabetes), (GDLogisticRegression(), load_iris)],
    ids=["linear", "logistic"],
)
def test_unrequested_sample_weight_raises(est, load):
    X, y = load(return_X_y=True)
    sw = _sample_weight(X.shape[0])
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = make_pipeline(scaler, clone(est))
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            pipe.fit(X, y, sample_weight=sw)
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            cross_validate(clone(est), X, y, cv=3, params={"sample_weight": sw})


def test_sample_weight_not_requested_for_fit_is_not_passed():
    """``set_fit_request(sample_weight=False)``: the estimator gets no weights
    (here only the scaler requests them), so its fit is the unweighted one on
    the weighted-scaled data, bit for bit."""
    X, y = load_diabetes(return_X_y=True)
    sw = _sample_weight(X.shape[0], seed=6)
    with sklearn.config_context(enable_metadata_routing=True):
        est = GDLinearRegression(tol=GD_TOL).set_fit_request(sample_weight=False)
        scaler = StandardScaler().set_fit_request(sample_weight=True)
        pipe = make_pipeline(scaler, est).fit(X, y, sample_weight=sw)
    Xs = StandardScaler().fit(X, sample_weight=sw).transform(X)
    unweighted = GDLinearRegression(tol=GD_TOL).fit(Xs, y)
    weighted = GDLinearRegression(tol=GD_TOL).fit(Xs, y, sample_weight=sw)
    assert_array_equal(pipe[-1].coef_, unweighted.coef_)
    assert np.max(np.abs(weighted.coef_ - unweighted.coef_)) > 1e-3 * np.max(np.abs(weighted.coef_))


def test_dataframe_fit_without_penalty_does_not_warn_about_feature_names():
    """The separability test after an unpenalised fit reuses the validated X;
    validating it again warned "X does not have valid feature names"."""
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_iris(return_X_y=True, as_frame=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        GDLogisticRegression(C=np.inf, max_iter=50).fit(X, y)
