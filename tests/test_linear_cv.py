"""GDLinearRegressionCV against single fits, GridSearchCV and ElasticNetCV.

Every (fold, alpha, l1_ratio) model is compared with ``GDLinearRegression``
on that fold's training rows, the automatic grid and the held-out errors
with scikit-learn's ``ElasticNetCV`` (fitted to a tight tolerance), and the
choice with ``GridSearchCV`` over the same grid and folds.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from _assertions import assert_close
from sklearn.datasets import load_diabetes, load_linnerud
from sklearn.linear_model import ElasticNetCV
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLinearRegression, GDLinearRegressionCV
from gdestimators._reference import least_squares_objective

# tol bounds each fit's relative objective gap: coefficients are then
# accurate to about sqrt(tol) relative, so RTOL = 1e-6 asks for 1e-14.
TOL = 1e-14
RTOL = 1e-6
#: ``tol`` as the estimators apply it: raised to 128 ulps of float64.
EFFECTIVE_TOL = max(TOL, 128 * np.finfo(np.float64).eps)


def assert_same_minimum(ours, best):
    """Both objectives are certified within ``EFFECTIVE_TOL |F|`` of the minimum.

    64 ulps more for the rounding of the reference formula itself.
    """
    assert abs(ours - best) <= (EFFECTIVE_TOL + 64 * np.finfo(np.float64).eps) * abs(best), (
        ours, best)


def _diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("l1_ratio", [[0.0], [0.5, 1.0]], ids=["ridge", "enet-lasso"])
def test_every_model_equals_its_single_fit(l1_ratio, weighted):
    X, y = _diabetes()
    weight = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0]) if weighted else None
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    cv = GDLinearRegressionCV(alphas=5, l1_ratio=l1_ratio, cv=folds, tol=TOL)
    cv.fit(X, y, sample_weight=weight)
    alphas = np.atleast_2d(cv.alphas_)
    for fold, (train, _) in enumerate(folds):
        fold_weight = None if weight is None else weight[train]
        for l1_index, ratio in enumerate(l1_ratio):
            for a_index, alpha in enumerate(alphas[l1_index]):
                single = GDLinearRegression(alpha=alpha, l1_ratio=ratio, tol=TOL).fit(
                    X[train], y[train], fold_weight
                )
                path = cv.coefs_paths_[fold, l1_index, a_index, 0]
                assert_close(path, np.append(single.coef_, single.intercept_), rtol=RTOL)
                ours = least_squares_objective(X[train], y[train], path[:-1], path[-1],
                                               alpha=alpha, l1_ratio=ratio,
                                               sample_weight=fold_weight)
                best = least_squares_objective(X[train], y[train], single.coef_,
                                               single.intercept_, alpha=alpha,
                                               l1_ratio=ratio, sample_weight=fold_weight)
                assert_same_minimum(ours, best)


def test_grid_and_errors_equal_elastic_net_cv():
    X, y = _diabetes()
    ours = GDLinearRegressionCV(alphas=8, l1_ratio=[0.5, 1.0], cv=4, tol=TOL).fit(X, y)
    reference = ElasticNetCV(alphas=8, l1_ratio=[0.5, 1.0], cv=4, tol=1e-14,
                             max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, reference.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, reference.mse_path_, rtol=1e-6)
    assert (ours.alpha_, ours.l1_ratio_) == (reference.alpha_, reference.l1_ratio_)
    assert_close(ours.coef_, reference.coef_, rtol=1e-5)


def test_ridge_grid_is_glmnets():
    X, y = _diabetes()
    ours = GDLinearRegressionCV(alphas=6, l1_ratio=0.0, cv=3).fit(X, y)
    lasso_top = GDLinearRegressionCV(alphas=6, l1_ratio=1.0, cv=3).fit(X, y).alphas_[0]
    np.testing.assert_allclose(ours.alphas_[0], lasso_top * 1e3, rtol=1e-12)
    np.testing.assert_allclose(ours.alphas_[-1], ours.alphas_[0] * 1e-3, rtol=1e-12)


def test_alpha_max_gives_all_zero_coefficients():
    X, y = _diabetes()
    cv = GDLinearRegressionCV(alphas=3, l1_ratio=1.0, cv=3).fit(X, y)
    top = cv.alphas_[0]
    assert np.all(GDLinearRegression(alpha=top * 1.0001, l1_ratio=1.0).fit(X, y).coef_ == 0)
    assert np.any(GDLinearRegression(alpha=top * 0.99, l1_ratio=1.0).fit(X, y).coef_ != 0)


@pytest.mark.parametrize("scoring", [None, "r2", "neg_mean_absolute_error"])
def test_choice_equals_grid_search(scoring):
    X, y = _diabetes()
    alphas = [1.0, 0.1, 0.01, 0.001]
    # At TOL both sides' held-out errors agree to 1e-6 even where a score is
    # near zero (the r2 of the strongest ridge), which the default tol's
    # sqrt(1e-12) accuracy of the coefficients does not give.
    cv = GDLinearRegressionCV(alphas=alphas, l1_ratio=[0.0, 1.0], cv=5, scoring=scoring,
                              tol=TOL)
    cv.fit(X, y)
    search = GridSearchCV(
        GDLinearRegression(tol=TOL), {"alpha": alphas, "l1_ratio": [0.0, 1.0]}, cv=5,
        scoring=scoring or "neg_mean_squared_error",
    ).fit(X, y)
    assert (cv.alpha_, cv.l1_ratio_) == (search.best_params_["alpha"],
                                         search.best_params_["l1_ratio"])
    np.testing.assert_allclose(cv.scores_.mean(axis=0).T.ravel(),
                               search.cv_results_["mean_test_score"], rtol=1e-6)
    assert_close(cv.coef_, search.best_estimator_.coef_, rtol=1e-12)


def test_multi_output_models_equal_single_fits():
    X, Y = load_linnerud(return_X_y=True)
    folds = list(KFold(3).split(X))
    cv = GDLinearRegressionCV(alphas=[10.0, 1.0], l1_ratio=0.5, cv=folds, tol=TOL).fit(X, Y)
    assert cv.coef_.shape == (3, 3) and cv.mse_path_.shape == (2, 3)
    for fold, (train, _) in enumerate(folds):
        for index, alpha in enumerate([10.0, 1.0]):
            single = GDLinearRegression(alpha=alpha, l1_ratio=0.5, tol=TOL).fit(X[train],
                                                                              Y[train])
            expected = np.concatenate([single.coef_, single.intercept_[:, None]], axis=1)
            assert_close(cv.coefs_paths_[fold, 0, index], expected, rtol=RTOL)


def test_sparse_equals_dense():
    X, y = _diabetes()
    X = X * (np.random.default_rng(0).uniform(size=X.shape) > 0.4)
    dense = GDLinearRegressionCV(alphas=4, l1_ratio=[0.0, 0.7], cv=3, tol=TOL).fit(X, y)
    sparse = GDLinearRegressionCV(alphas=4, l1_ratio=[0.0, 0.7], cv=3, tol=TOL).fit(
        sp.csr_array(X), y
    )
    assert_close(sparse.coefs_paths_, dense.coefs_paths_, rtol=RTOL)
    np.testing.assert_allclose(sparse.mse_path_, dense.mse_path_, rtol=1e-8)


def test_pickle_and_pipeline():
    X, y = _diabetes()
    pipe = make_pipeline(StandardScaler(), GDLinearRegressionCV(alphas=4, cv=3)).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))
    assert pipe.score(X, y) > 0.4
