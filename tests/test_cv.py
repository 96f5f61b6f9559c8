"""Cross-validated estimators against independent references.

Every (fold, penalty) model of a batched fit is compared with the single
estimator fitted on that fold's training rows (same objective, same
tolerance, tightened so that both sit at the minimiser), the scores and the
chosen hyper-parameters with ``GridSearchCV`` over the same grid, folds and
scoring, and the objectives with ``gdestimators._reference``.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _assertions import assert_close
from sklearn.datasets import load_breast_cancer, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLogisticRegression, GDLogisticRegressionCV
from gdestimators._reference import log_loss_objective

TOL = 1e-10
#: Coefficients of two fits whose relative objective gaps are certified
#: below TOL (about sqrt(TOL) relative), stopped in different coordinates.
RTOL = 1e-5


def _binary():
    X, y = load_breast_cancer(return_X_y=True)
    return X[::2], y[::2]


def _binary_scaled():
    """Standardised features: every C of the grids converges in few iterations."""
    X, y = _binary()
    return StandardScaler().fit_transform(X), y


def _multiclass():
    return load_wine(return_X_y=True)


def _coefficients(model):
    return np.concatenate([np.asarray(model.coef_), np.asarray(model.intercept_)[:, None]],
                          axis=1)


def _identifiable(path):
    """Coefficients with the intercepts of a multinomial model centred.

    Softmax is blind to a shift of all intercepts, which are not penalised:
    every shift of a minimiser is a minimiser, and two solvers may stop at
    different ones (the change of variables decides which).
    """
    path = np.array(path, dtype=float)
    if path.shape[0] > 1:
        path[:, -1] -= path[:, -1].mean()
    return path


@pytest.mark.parametrize(
    "data, Cs, l1_ratios, weighted, class_weight",
    [
        (_binary, [0.01, 1.0, 100.0], [0.0], False, None),
        (_binary, [0.01, 0.1], [0.0, 0.5], True, "balanced"),
        (_multiclass, [0.01, 1.0], [0.0], True, None),
        (_multiclass, [0.1], [1.0], False, {0: 2.0, 1: 1.0, 2: 0.5}),
    ],
    ids=["binary", "binary-elasticnet-weighted-balanced", "multiclass-weighted",
         "multiclass-l1-classweight"],
)
def test_every_model_equals_its_single_fit(data, Cs, l1_ratios, weighted, class_weight):
    X, y = data()
    sample_weight = (np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
                     if weighted else None)
    folds = list(StratifiedKFold(4).split(X, y))
    cv = GDLogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=folds, tol=TOL,
                                class_weight=class_weight).fit(X, y, sample_weight)
    n_rows = 1 if np.unique(y).size == 2 else np.unique(y).size
    assert cv.coefs_paths_.shape == (4, len(l1_ratios), len(Cs), n_rows, X.shape[1] + 1)
    for fold, (train, _) in enumerate(folds):
        fold_weight = None if sample_weight is None else sample_weight[train]
        for l1_index, l1_ratio in enumerate(l1_ratios):
            for c_index, C in enumerate(Cs):
                single = GDLogisticRegression(
                    C=C, l1_ratio=l1_ratio, tol=TOL, class_weight=class_weight
                ).fit(X[train], y[train], fold_weight)
                path = cv.coefs_paths_[fold, l1_index, c_index]
                assert_close(_identifiable(path), _identifiable(_coefficients(single)), rtol=RTOL)
                # The objective (penalty included) of the batched model is
                # the single fit's minimum, by the reference formula.
                weight = _effective_weight(single, y[train], fold_weight)
                ours = log_loss_objective(
                    X[train], np.searchsorted(single.classes_, y[train]), path[:, :-1],
                    path[:, -1], C=C, l1_ratio=l1_ratio, sample_weight=weight,
                )
                best = log_loss_objective(
                    X[train], np.searchsorted(single.classes_, y[train]), single.coef_,
                    single.intercept_, C=C, l1_ratio=l1_ratio, sample_weight=weight,
                )
                # Both are certified within TOL |F| of the minimum; 64 ulps
                # more for the rounding of the reference formula.
                assert abs(ours - best) <= (TOL + 64 * np.finfo(float).eps) * abs(best)


def _effective_weight(model, y, sample_weight):
    from sklearn.utils.class_weight import compute_class_weight

    weight = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    if model.class_weight is None:
        return weight
    per_class = compute_class_weight(model.class_weight, classes=model.classes_, y=y,
                                     sample_weight=weight)
    return weight * per_class[np.searchsorted(model.classes_, y)]


@pytest.mark.parametrize("scoring", [None, "neg_log_loss", "roc_auc_ovr"])
@pytest.mark.parametrize("data", [_binary_scaled, _multiclass], ids=["binary", "multiclass"])
def test_scores_and_choice_equal_grid_search(data, scoring):
    X, y = data()
    Cs = np.logspace(-3, 1, 5)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    cv = GDLogisticRegressionCV(Cs=Cs, cv=folds, scoring=scoring).fit(X, y)
    search = GridSearchCV(GDLogisticRegression(), {"C": Cs}, cv=folds,
                          scoring=scoring).fit(X, y)
    for index in range(len(Cs)):
        split_scores = [search.cv_results_[f"split{fold}_test_score"][index]
                        for fold in range(len(folds))]
        np.testing.assert_allclose(cv.scores_[:, 0, index], split_scores, atol=1e-6)
    assert cv.C_ == search.best_params_["C"]
    assert_close(cv.coef_, search.best_estimator_.coef_, rtol=1e-12)


def test_elastic_net_grid_chooses_as_grid_search():
    X, y = _binary_scaled()
    Cs, l1_ratios = [0.01, 1.0], [0.0, 0.5, 1.0]
    cv = GDLogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=3,
                                scoring="neg_log_loss").fit(X, y)
    search = GridSearchCV(GDLogisticRegression(), {"C": Cs, "l1_ratio": l1_ratios},
                          cv=3, scoring="neg_log_loss").fit(X, y)
    assert (cv.C_, cv.l1_ratio_) == (search.best_params_["C"], search.best_params_["l1_ratio"])
    np.testing.assert_allclose(
        cv.scores_.mean(axis=0).T.ravel(), search.cv_results_["mean_test_score"], atol=1e-6
    )


def test_int_Cs_is_scikit_learns_grid():
    X, y = _binary_scaled()
    cv = GDLogisticRegressionCV(Cs=4, cv=3).fit(X, y)
    np.testing.assert_array_equal(cv.Cs_, np.logspace(-4, 4, 4))
    assert cv.n_iter_.shape == cv.scores_.shape == (3, 1, 4)


def test_sparse_equals_dense():
    X, y = _multiclass()
    X = X * (np.random.default_rng(0).uniform(size=X.shape) > 0.3)
    dense = GDLogisticRegressionCV(Cs=[0.1, 1.0], cv=3, tol=TOL).fit(X, y)
    for container in (sp.csr_matrix, sp.csc_array):
        sparse = GDLogisticRegressionCV(Cs=[0.1, 1.0], cv=3, tol=TOL).fit(container(X), y)
        assert_close(sparse.coefs_paths_, dense.coefs_paths_, rtol=RTOL)
        np.testing.assert_array_equal(sparse.scores_, dense.scores_)


def test_refit_false_averages_the_folds_best_models():
    X, y = _binary()
    Cs = [0.001, 0.1, 10.0]
    cv = GDLogisticRegressionCV(Cs=Cs, cv=3, refit=False, scoring="neg_log_loss").fit(X, y)
    best = np.argmax(cv.scores_[:, 0, :], axis=1)
    mean = np.mean([cv.coefs_paths_[fold, 0, best[fold]] for fold in range(3)], axis=0)
    assert_close(cv.coef_, mean[:, :-1], rtol=1e-12)
    assert_close(cv.intercept_, mean[:, -1], rtol=1e-12)
    assert cv.C_ == pytest.approx(np.mean(np.asarray(Cs)[best]))


def test_fit_intercept_false_paths_have_no_intercept_column():
    X, y = _binary()
    cv = GDLogisticRegressionCV(Cs=[1.0], cv=3, fit_intercept=False, tol=TOL).fit(X, y)
    assert cv.coefs_paths_.shape[-1] == X.shape[1]
    train = next(iter(StratifiedKFold(3).split(X, y)))[0]
    single = GDLogisticRegression(fit_intercept=False, tol=TOL).fit(X[train], y[train])
    assert_close(cv.coefs_paths_[0, 0, 0], single.coef_, rtol=RTOL)


def test_groups_are_routed_to_the_splitter_and_weights_to_the_scorer():
    X, y = _binary()
    groups = np.arange(y.shape[0]) % 4
    weight = np.random.default_rng(1).uniform(0.5, 2.0, y.shape[0])
    Cs = [0.01, 1.0]
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        cv = GDLogisticRegressionCV(Cs=Cs, cv=GroupKFold(4), scoring=scorer, tol=TOL)
        cv.set_fit_request(sample_weight=True).fit(X, y, sample_weight=weight, groups=groups)
        single = GDLogisticRegression(tol=TOL).set_fit_request(sample_weight=True)
        search = GridSearchCV(single, {"C": Cs}, cv=GroupKFold(4), scoring=scorer)
        search.fit(X, y, sample_weight=weight, groups=groups)
    np.testing.assert_allclose(cv.scores_.mean(axis=0)[0], search.cv_results_["mean_test_score"],
                               atol=1e-6)
    assert cv.C_ == search.best_params_["C"]


def test_without_routing_metadata_other_than_weights_is_refused():
    X, y = _binary()
    with pytest.raises(ValueError, match="groups"):
        GDLogisticRegressionCV(Cs=2, cv=3).fit(X, y, groups=np.zeros(y.shape[0]))


def test_pickle_and_pipeline():
    X, y = _binary()
    pipe = make_pipeline(StandardScaler(), GDLogisticRegressionCV(Cs=3, cv=3)).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    assert pipe.score(X, y) > 0.9


def test_string_labels_and_callable_scoring():
    X, y = _binary()
    labels = np.array(["benign", "malignant"])[y]

    def scoring(estimator, X_test, y_test):
        assert X_test.shape[1] == X.shape[1]  # a plain callable gets the rows
        return float(np.mean(estimator.predict(X_test) == y_test))

    cv = GDLogisticRegressionCV(Cs=[0.1, 1.0], cv=3, scoring=scoring).fit(X, labels)
    reference = GDLogisticRegressionCV(Cs=[0.1, 1.0], cv=3).fit(X, y)
    np.testing.assert_allclose(cv.scores_, reference.scores_)
    assert set(cv.predict(X)) <= set(labels)


def test_models_stop_costing_passes_once_converged():
    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    cv = GDLogisticRegressionCV(Cs=[1e-4, 1e4], cv=2, tol=TOL).fit(X, y)
    # One pass per iteration of the slowest model (plus the start and the
    # certificates, two passes each), not the sum over models.
    assert cv.n_iter_.max() + 1 < cv.n_passes_ < cv.n_iter_.sum()
    assert cv.n_iter_[:, 0, 0].max() < cv.n_iter_[:, 0, 1].min()


def test_verbose_reports_all_models(capsys):
    X, y = _binary_scaled()
    GDLogisticRegressionCV(Cs=2, cv=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "running    4/4 models" in out and "4/4 models converged" in out


def test_max_iter_warns_once_for_all_models():
    X, y = _binary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GDLogisticRegressionCV(Cs=2, cv=2, max_iter=2).fit(X, y)
    messages = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert any("cross-validation models" in str(w.message) for w in messages)


def test_folds_with_a_single_split_and_kfold():
    X, y = _binary()
    cv = GDLogisticRegressionCV(Cs=[1.0], cv=KFold(3)).fit(X, y)
    assert cv.scores_.shape == (3, 1, 1)


class _CountingCallback:
    """Counts the iteration tasks that the callback API opens and closes."""

    def setup(self, estimator, context):
        self.begun = self.ended = 0

    def on_fit_task_begin(self, estimator, context, **kwargs):
        self.begun += context.task_name == "iteration"

    def on_fit_task_end(self, estimator, context, **kwargs):
        self.ended += context.task_name == "iteration"
        return False

    def teardown(self, estimator, context):
        pass


def test_callbacks_get_one_task_per_shared_iteration():
    X, y = _binary_scaled()
    callback = _CountingCallback()
    cv = GDLogisticRegressionCV(Cs=3, cv=3).set_callbacks(callback).fit(X, y)
    # One task per shared iteration, however many models ran in it.
    assert callback.begun == callback.ended == cv.n_iter_.max()


@pytest.mark.parametrize("solver", ["bb", "newton"])
def test_each_solver_gives_every_models_single_fit(solver):
    """BB steps only, or Newton steps from the start: each model at its single fit's minimum."""
    X, y = _binary()
    Cs = [0.01, 100.0]
    folds = list(StratifiedKFold(3).split(X, y))
    cv = GDLogisticRegressionCV(Cs=Cs, cv=folds, solver=solver, tol=TOL).fit(X, y)
    assert cv.n_iter_.max() < (50 if solver == "newton" else 5000)
    for fold, (train, _) in enumerate(folds):
        for index, C in enumerate(Cs):
            single = GDLogisticRegression(C=C, tol=TOL).fit(X[train], y[train])
            path = cv.coefs_paths_[fold, 0, index]
            ours = log_loss_objective(X[train], y[train], path[:, :-1], path[:, -1], C=C)
            best = log_loss_objective(X[train], y[train], single.coef_, single.intercept_, C=C)
            assert abs(ours - best) <= (TOL + 64 * np.finfo(float).eps) * abs(best)


def test_one_hot_dense_data_equal_their_sparse_form():
    """A dense X of one-hot columns is read through a CSR copy: the same fits as CSR input."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 40, size=(600, 2))
    X = np.zeros((600, 80))
    X[np.arange(600), codes[:, 0]] = 1.0
    X[np.arange(600), 40 + codes[:, 1]] = 1.0
    y = (codes[:, 0] % 3 == 0) ^ (rng.uniform(size=600) < 0.2)
    dense = GDLogisticRegressionCV(Cs=[0.1, 10.0], cv=3, tol=TOL).fit(X, y)
    sparse = GDLogisticRegressionCV(Cs=[0.1, 10.0], cv=3, tol=TOL).fit(sp.csr_matrix(X), y)
    assert_close(dense.coefs_paths_, sparse.coefs_paths_, rtol=RTOL)
    np.testing.assert_array_equal(dense.scores_, sparse.scores_)
