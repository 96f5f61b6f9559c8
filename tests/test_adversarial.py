"""Adversarial inputs: each case gets the right answer or a specific, readable error.

The library's promise: a right answer or a clear error (``ValueError`` or
``TypeError`` naming the problem), never NaN coefficients, never a hang, never
a modification of the caller's data. Each test below is one adversarial case
(parametrised over estimators and settings where the case applies to several).

References are independent of our solvers: numpy ``lstsq`` and scikit-learn's
``LinearRegression``/``Ridge`` (exact up to rounding; compared with
``RTOL = 1e-6`` relative to the size of the reference, fits run at
``tol=1e-14``), and scikit-learn's ``LogisticRegression`` (L-BFGS, whose
``ftol`` stop leaves up to a few 1e-6 relative error: compared with
``SKLEARN_LOGISTIC_RTOL = 1e-4``). See ``test_properties.py`` for the
reasoning behind these tolerances. Where the float64 optimum itself is needed
(float32 fits), it is ``LogisticRegression(solver="newton-cholesky")``, whose
Newton steps reach it to rounding (measured: gradient ~1e-15 of its size at
zero, on raw data too), judged by the objective of
:mod:`gdestimators._reference`.
"""

import hashlib
import re
import warnings

import numpy as np
import pytest
from _assertions import assert_close  # tests/ is on pytest's pythonpath
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils._param_validation import InvalidParameterError

from gdestimators import DivergenceError, GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective, relative_gap
from gdestimators._solvers import SOLVERS as LIBRARY_SOLVERS

RTOL = 1e-6
SKLEARN_LOGISTIC_RTOL = 1e-4
# These small problems converge in at most a few hundred iterations; the cap
# keeps a non-converging case fast (and it then fails on its warning).
# tol bounds the relative objective gap; coefficients are then accurate to
# about sqrt(tol) relative, so RTOL = 1e-6 asks for a gap near 1e-14.
TIGHT = dict(tol=1e-14, max_iter=5000)
# Every solver, and the default choice among them.
SOLVERS = ["auto", *LIBRARY_SOLVERS]


def assert_finite_fit(model):
    assert np.all(np.isfinite(model.coef_)), model.coef_
    assert np.all(np.isfinite(model.intercept_)), model.intercept_


def fit_without_convergence_warning(estimator, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return estimator.fit(X, y, sample_weight=sample_weight)


def regression_data(n_samples=60, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = X @ rng.normal(0, 2, n_features) + 1.5 + 0.3 * rng.standard_normal(n_samples)
    return X, y


def classification_data(n_samples=90, n_features=3, n_classes=3, seed=0):
    """Overlapping classes (not separable), every class present."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = np.arange(n_samples) % n_classes
    X[:, 0] += 0.8 * y
    return X, y


def soft_label_data(n_points=40, n_features=3, seed=0):
    """Every point carries both labels with weights p, 1 - p: never separable."""
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n_points, n_features))
    p = 1.0 / (1.0 + np.exp(-(points @ rng.normal(0, 1, n_features) + 0.3)))
    X = np.vstack([points, points])
    y = np.r_[np.ones(n_points), np.zeros(n_points)]
    return X, y, np.r_[p, 1.0 - p]


# ---------------------------------------------------------------------------
# Degenerate designs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 1.0, 0.1, -3.0, 5.0, 1e6])
@pytest.mark.parametrize("precondition", ["auto", "diagonal", "none"])
def test_constant_column_linear(value, precondition):
    """A constant column is collinear with the intercept: any coefficient is a
    minimiser, but the predictions and the other coefficients are unique."""
    if precondition == "none" and value == 1e6:
        pytest.skip("the raw coordinates are ill-conditioned by design")
    X, y = regression_data()
    X_const = np.column_stack([X, np.full(X.shape[0], value)])
    model = fit_without_convergence_warning(
        GDLinearRegression(precondition=precondition, **TIGHT), X_const, y)
    reference = LinearRegression().fit(X_const, y)
    assert_finite_fit(model)
    assert_close(model.predict(X_const), reference.predict(X_const), what="predictions")
    assert_close(model.coef_[:3], reference.coef_[:3])


@pytest.mark.parametrize("value", [1.0, 0.1, -3.0])
def test_constant_column_without_intercept_is_the_intercept(value):
    X, y = regression_data()
    X_const = np.column_stack([X, np.full(X.shape[0], value)])
    model = fit_without_convergence_warning(
        GDLinearRegression(fit_intercept=False, **TIGHT), X_const, y)
    reference = LinearRegression(fit_intercept=False).fit(X_const, y)
    assert_close(model.coef_, reference.coef_)
    assert model.intercept_ == 0.0


@pytest.mark.parametrize("value", [0.0, 1.0, 0.1, -3.0, 1e6])
@pytest.mark.parametrize("precondition", ["auto", "diagonal", "none"])
def test_constant_column_logistic(value, precondition):
    """With the L2 penalty the minimiser is unique: at the optimum the
    intercept's gradient is zero, hence so is the data part of the constant
    column's gradient, so its coefficient is exactly 0 and the others are the
    fit without that column."""
    if precondition == "none" and value == 1e6:
        pytest.skip("the raw coordinates are ill-conditioned by design")
    X, y = classification_data()
    X_const = np.column_stack([X, np.full(X.shape[0], value)])
    model = fit_without_convergence_warning(
        GDLogisticRegression(precondition=precondition, **TIGHT), X_const, y)
    reference = LogisticRegression(tol=1e-10, max_iter=100_000).fit(X, y)
    expected = np.column_stack([reference.coef_, np.zeros(3)])
    assert_close(model.coef_, expected, rtol=SKLEARN_LOGISTIC_RTOL)
    assert_close(model.predict_proba(X_const), reference.predict_proba(X),
                 rtol=SKLEARN_LOGISTIC_RTOL, what="probabilities")


@pytest.mark.parametrize("value", [1.0, 0.1, -3.0])
def test_all_columns_constant(value):
    """Nothing to learn: the prediction is the (weighted) mean of y."""
    rng = np.random.default_rng(0)
    X = np.full((30, 3), value)
    y = rng.standard_normal(30)
    sample_weight = rng.uniform(0.5, 2.0, 30)
    model = fit_without_convergence_warning(GDLinearRegression(**TIGHT), X, y,
                                            sample_weight)
    assert_finite_fit(model)
    assert_close(model.predict(X), np.full(30, np.average(y, weights=sample_weight)),
                 what="predictions")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("precondition", ["auto", "diagonal", "none"])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_all_zero_features_without_intercept(estimator_name, precondition, solver):
    """X = 0 and no intercept: the model cannot depend on anything; the
    objective is flat in w (no penalty) or minimised at w = 0 (penalty), and
    starting from 0 the answer is 0."""
    X = np.zeros((10, 3))
    if estimator_name == "linear":
        y = np.arange(10.0)
        model = GDLinearRegression(fit_intercept=False, solver=solver,
                                   precondition=precondition).fit(X, y)
    else:
        y = np.arange(10) % 2
        model = GDLogisticRegression(fit_intercept=False, solver=solver,
                                     precondition=precondition).fit(X, y)
    np.testing.assert_array_equal(model.coef_, np.zeros_like(model.coef_))
    assert np.all(np.asarray(model.intercept_) == 0)


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_duplicated_columns(alpha):
    X, y = regression_data()
    X_dup = np.column_stack([X, X[:, 0], X[:, 0], X[:, 2]])
    model = GDLinearRegression(alpha=alpha, **TIGHT).fit(X_dup, y)
    assert_finite_fit(model)
    if alpha == 0:
        reference = LinearRegression().fit(X_dup, y)
        assert_close(model.predict(X_dup), reference.predict(X_dup), what="predictions")
        X_new = np.random.default_rng(1).standard_normal((10, 3))
        X_new_dup = np.column_stack([X_new, X_new[:, 0], X_new[:, 0], X_new[:, 2]])
        assert_close(model.predict(X_new_dup), reference.predict(X_new_dup),
                     what="predictions on new data with the same duplication")
        # Only the sums over copies are identified.
        single = LinearRegression().fit(X, y).coef_
        assert_close([model.coef_[[0, 3, 4]].sum(), model.coef_[1],
                      model.coef_[[2, 5]].sum()], single)
    else:
        # The ridge penalty splits the weight equally: a unique minimiser.
        reference = Ridge(alpha=alpha * X.shape[0], solver="svd").fit(X_dup, y)
        assert_close(model.coef_, reference.coef_)
        assert_close(model.intercept_, reference.intercept_, what="intercept")


def test_duplicated_columns_logistic():
    X, y = classification_data()
    X_dup = np.column_stack([X, X[:, 0], X[:, 0]])
    model = GDLogisticRegression(**TIGHT).fit(X_dup, y)
    reference = LogisticRegression(tol=1e-10, max_iter=100_000).fit(X_dup, y)
    assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)
    assert_close(model.coef_[:, 3], model.coef_[:, 0])


@pytest.mark.parametrize("noise", [0.0, 1e-12, 1e-8])
@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
def test_collinear_columns(noise, precondition):
    X, y = regression_data()
    rng = np.random.default_rng(2)
    X_col = np.column_stack([X, X[:, 0] - 2.0 * X[:, 1] + noise * rng.standard_normal(len(y))])
    model = GDLinearRegression(precondition=precondition, **TIGHT).fit(X_col, y)
    reference = LinearRegression().fit(X_col, y)
    assert_finite_fit(model)
    if noise <= 1e-12:
        # Collinear to rounding: moving along the null direction does not
        # change the predictions, which are unique.
        assert_close(model.predict(X_col), reference.predict(X_col), what="predictions")
    else:
        # Nearly collinear: the minimiser is ill-determined along the
        # (curvature ~noise^2) direction, and a gradient-based stop test
        # bounds the excess objective, not the distance: check the objective.
        # Stopping at tol=1e-10 in whitened coordinates leaves an excess of
        # order tol**2 / lifted_curvature ~ 1e-10 of var(y). The excess of
        # the mean squared error is twice that of the objective.
        excess = 2 * (least_squares_objective(X_col, y, model.coef_, model.intercept_)
                      - least_squares_objective(X_col, y, reference.coef_, reference.intercept_))
        assert excess <= 1e-8 * np.var(y), excess


@pytest.mark.parametrize("precondition", ["auto", "diagonal", "none"])
def test_more_features_than_samples(precondition):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 30))
    y = rng.standard_normal(8)
    # alpha=0: many minimisers, all of which interpolate the training data.
    model = GDLinearRegression(precondition=precondition, **TIGHT).fit(X, y)
    assert_finite_fit(model)
    assert_close(model.predict(X), LinearRegression().fit(X, y).predict(X),
                 what="training predictions")
    # alpha>0: a unique minimiser.
    ridge = GDLinearRegression(alpha=0.05, precondition=precondition, **TIGHT).fit(X, y)
    reference = Ridge(alpha=0.05 * 8, solver="svd").fit(X, y)
    assert_close(ridge.coef_, reference.coef_)
    assert_close(ridge.intercept_, reference.intercept_, what="intercept")


def test_more_features_than_samples_logistic():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 30))
    y = np.arange(12) % 3
    model = GDLogisticRegression(C=0.5, **TIGHT).fit(X, y)
    reference = LogisticRegression(C=0.5, tol=1e-10, max_iter=100_000).fit(X, y)
    assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_one_sample_linear(fit_intercept, solver):
    X = np.array([[1.5, -2.0, 0.5]])
    y = np.array([3.0])
    model = GDLinearRegression(fit_intercept=fit_intercept, solver=solver,
                               **TIGHT).fit(X, y)
    assert_finite_fit(model)
    assert_close(model.predict(X), y, what="prediction")
    if fit_intercept:
        # Centred data are all zero: the minimum-norm answer, like sklearn's.
        reference = LinearRegression().fit(X, y)
        assert_close(model.coef_, reference.coef_)
        assert_close(model.intercept_, reference.intercept_, what="intercept")


def test_one_sample_logistic():
    with pytest.raises(ValueError, match="only one class"):
        GDLogisticRegression().fit(np.array([[1.0, 2.0]]), np.array([1]))


def test_one_feature():
    X, y = regression_data(n_features=1)
    model = GDLinearRegression(**TIGHT).fit(X, y)
    reference = LinearRegression().fit(X, y)
    assert model.coef_.shape == (1,)
    assert_close(model.coef_, reference.coef_)
    assert_close(model.intercept_, reference.intercept_, what="intercept")
    Xc, yc = classification_data(n_features=1, n_classes=2)
    clf = GDLogisticRegression(**TIGHT).fit(Xc, yc)
    ref_clf = LogisticRegression(tol=1e-10, max_iter=100_000).fit(Xc, yc)
    assert clf.coef_.shape == (1, 1)
    assert_close(clf.coef_, ref_clf.coef_, rtol=SKLEARN_LOGISTIC_RTOL)
    with pytest.raises(ValueError, match="Expected 2D array"):
        GDLinearRegression().fit(X[:, 0], y)


# ---------------------------------------------------------------------------
# Extreme magnitudes
# ---------------------------------------------------------------------------

FEATURE_SCALES = np.logspace(-150, 150, 5)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
def test_feature_scales_1e_minus150_to_1e150_linear(solver, precondition):
    """Unpenalised, so coef_j * scale_j is the fit on the unscaled data."""
    X, y = regression_data(n_features=5)
    model = fit_without_convergence_warning(
        GDLinearRegression(solver=solver, precondition=precondition, **TIGHT),
        X * FEATURE_SCALES, y)
    reference = LinearRegression().fit(X, y)
    assert_close(model.coef_ * FEATURE_SCALES, reference.coef_)
    assert_close(model.intercept_, reference.intercept_, what="intercept")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("precondition", ["auto", "diagonal"])
def test_feature_scales_1e_minus150_to_1e150_logistic(solver, precondition):
    X, y, sample_weight = soft_label_data(n_features=5)
    model = fit_without_convergence_warning(
        GDLogisticRegression(C=np.inf, solver=solver, precondition=precondition, **TIGHT),
        X * FEATURE_SCALES, y, sample_weight)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=100_000).fit(
        X, y, sample_weight=sample_weight)
    assert_close(model.coef_ * FEATURE_SCALES, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("estimator", ["linear", "logistic"])
def test_feature_scales_without_preconditioning_fail_cleanly(solver, estimator):
    """The note's raw algorithm cannot cope with curvatures 1e300 apart; it may
    stop with a ConvergenceWarning or a ValueError, never another exception."""
    if estimator == "linear":
        X, y = regression_data(n_features=5)
        sample_weight = None
        model = GDLinearRegression(solver=solver, precondition="none", max_iter=200)
    else:
        X, y, sample_weight = soft_label_data(n_features=5)
        model = GDLogisticRegression(C=np.inf, solver=solver, precondition="none",
                                     max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            model.fit(X * FEATURE_SCALES, y, sample_weight=sample_weight)
        except ValueError as error:
            assert re.search(r"(?i)rescale|learning.rate|too large", str(error)), error
            return
    assert_finite_fit(model)


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_uniformly_extreme_features(scale):
    """All features tiny or huge (still finite, squares may under/overflow):
    the right answer, or a ValueError that says to rescale."""
    X, y = regression_data()
    reference = LinearRegression().fit(X, y)
    try:
        model = GDLinearRegression(**TIGHT).fit(X * scale, y)
    except ValueError as error:
        assert re.search(r"(?i)rescale", str(error)), error
        return
    assert_close(model.coef_ * scale, reference.coef_)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_targets_of_extreme_magnitude(scale):
    """Least squares is equivariant in y: the coefficients scale with it.
    (1e200 and 1e-200 are ordinary float64 numbers; their squares are not.)"""
    X, y = regression_data()
    reference = LinearRegression().fit(X, y)
    model = GDLinearRegression(**TIGHT).fit(X, y * scale)
    assert_close(model.coef_ / scale, reference.coef_)
    assert_close(model.intercept_ / scale, reference.intercept_, what="intercept")
    assert_close(model.predict(X) / scale, reference.predict(X), what="predictions")


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_class_labels_of_1e200():
    """scikit-learn's label-type check calls floats beyond the int64 range
    continuous, for LogisticRegression too: a clear error, consistently."""
    X, y = classification_data(n_classes=2)
    labels = np.array([-1e200, 1e200])
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        LogisticRegression().fit(X, labels[y])
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        GDLogisticRegression().fit(X, labels[y])


@pytest.mark.parametrize("weight", [1e300, 1e-300])
@pytest.mark.parametrize("estimator", ["linear", "logistic"])
def test_extreme_uniform_sample_weights(weight, estimator):
    """Uniform weights change nothing for least squares (S cancels); for the
    logistic loss they scale C (sklearn's parametrisation), checked on the
    unpenalised problem where they change nothing either."""
    if estimator == "linear":
        X, y = regression_data()
        sample_weight = np.full(len(y), weight)
        model = GDLinearRegression(**TIGHT).fit(X, y, sample_weight=sample_weight)
        assert_close(model.coef_, LinearRegression().fit(X, y).coef_)
    else:
        X, y, p = soft_label_data()
        model = GDLogisticRegression(C=np.inf, **TIGHT).fit(X, y, sample_weight=p * weight)
        reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=100_000).fit(
            X, y, sample_weight=p)
        assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)


# ---------------------------------------------------------------------------
# Classification pathologies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_perfectly_separable_without_penalty(solver, n_classes):
    """C=np.inf on separable data: no finite minimiser exists. Expected: finite
    coefficients that separate the data, and a warning that says why the
    answer is arbitrary (the classes are separable)."""
    rng = np.random.default_rng(0)
    centres = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 6.0]])[:n_classes]
    y = np.arange(60) % n_classes
    X = centres[y] + 0.5 * rng.standard_normal((60, 2))
    with pytest.warns(Warning, match=r"(?i)separa"):
        model = GDLogisticRegression(C=np.inf, solver=solver).fit(X, y)
    assert_finite_fit(model)
    np.testing.assert_array_equal(model.predict(X), y)
    assert np.all(np.isfinite(model.predict_proba(X)))


@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
def test_class_with_all_zero_weight_multiclass(how):
    """A class with no weight is never predicted; the others are fitted as if
    it were absent. Its intercept tends to -inf, so the reference for the
    two remaining softmax rows (penalised 1/2 (|w0|^2 + |w1|^2), w0 = -w1 at
    the optimum) is the binary model with coefficient w0 - w1 and C' = 2C."""
    X, y = classification_data(n_classes=3)
    if how == "sample_weight":
        kwargs = dict(sample_weight=(y != 2).astype(float))
        estimator = GDLogisticRegression()
    else:
        kwargs = {}
        estimator = GDLogisticRegression(class_weight={0: 1.0, 1: 1.0, 2: 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator.fit(X, y, **kwargs)
    assert_finite_fit(model)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert np.all(model.predict(X) != 2)
    assert proba[:, 2].max() < 1e-4
    kept = y != 2
    binary = LogisticRegression(C=2.0, tol=1e-10).fit(X[kept], y[kept])
    expected = binary.predict_proba(X)
    assert_close(proba[:, :2] / proba[:, :2].sum(axis=1, keepdims=True), expected,
                 rtol=1e-4, what="probabilities of the weighted classes")


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weight_on_one_class_only_is_refused_as_one_class_is(n_classes, how, fit_intercept):
    """Weights (or class weights) that are zero on every class but one leave
    data of one class, since a zero weight counts as an absent sample; so
    they raise scikit-learn's error for one class, which the same samples
    without the others raise (checked on LogisticRegression), instead of
    running max_iter towards an intercept of -inf."""
    X, y = classification_data(n_classes=n_classes)
    kept_class = 1
    if how == "sample_weight":
        estimator = GDLogisticRegression(fit_intercept=fit_intercept)
        kwargs = dict(sample_weight=(y == kept_class).astype(float))
    else:
        estimator = GDLogisticRegression(
            fit_intercept=fit_intercept,
            class_weight={label: float(label == kept_class) for label in range(n_classes)})
        kwargs = {}
    message = "needs samples of at least 2 classes in the data"
    with pytest.raises(ValueError, match=message) as error:
        estimator.fit(X, y, **kwargs)
    assert "only one class: np.int64(1)" in str(error.value)
    assert not hasattr(estimator, "coef_")
    with pytest.raises(ValueError, match=message):
        LogisticRegression().fit(X[y == kept_class], y[y == kept_class])


def test_weightless_class_warns_that_its_intercept_is_arbitrary():
    """Two weighted classes out of three: the fit goes on (the weighted
    classes' model is well defined, as the test above checks), and says that
    the third class's intercept has no minimiser."""
    X, y = classification_data(n_classes=3)
    with pytest.warns(ConvergenceWarning, match=r"classes \[2\] have zero total weight"):
        GDLogisticRegression().fit(X, y, sample_weight=(y != 2).astype(float))
    # Without intercept the minimiser exists: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDLogisticRegression(fit_intercept=False).fit(X, y, sample_weight=(y != 2) * 1.0)


# ---------------------------------------------------------------------------
# Invalid values
# ---------------------------------------------------------------------------

NON_FINITE = [np.nan, np.inf, -np.inf]


def _data_for(estimator_name):
    if estimator_name == "linear":
        X, y = regression_data(n_samples=20)
        return GDLinearRegression(), X, y.astype(float)
    X, y = classification_data(n_samples=21)
    return GDLogisticRegression(), X, y.astype(float)


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["X", "y", "sample_weight", "X_predict"])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_non_finite_values_are_rejected(estimator_name, where, value):
    estimator, X, y = _data_for(estimator_name)
    sample_weight = np.ones(len(y))
    position = 5
    if where == "X":
        X[position, 1] = value
    elif where == "y":
        y[position] = value
    elif where == "sample_weight":
        sample_weight[position] = value
    pattern = r"NaN|infinity" if value != -np.inf or where != "sample_weight" \
        else r"NaN|infinity|[Nn]egative"
    if where == "X_predict":
        estimator.fit(X, y)
        X_bad = X.copy()
        X_bad[position, 1] = value
        methods = ["predict"] + (["predict_proba", "decision_function"]
                                 if estimator_name == "logistic" else [])
        for method in methods:
            with pytest.raises(ValueError, match=pattern):
                getattr(estimator, method)(X_bad)
        return
    with pytest.raises(ValueError, match=pattern):
        estimator.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
@pytest.mark.parametrize("weights, pattern", [
    ("negative", "Negative values"),
    ("zeros", "non-zero"),
    ("wrong_length", "sample_weight.shape|number of samples|inconsistent"),
])
def test_invalid_sample_weights_are_rejected(estimator_name, weights, pattern):
    estimator, X, y = _data_for(estimator_name)
    sample_weight = {
        "negative": np.r_[-1.0, np.ones(len(y) - 1)],
        "zeros": np.zeros(len(y)),
        "wrong_length": np.ones(len(y) + 1),
    }[weights]
    with pytest.raises(ValueError, match=pattern):
        estimator.fit(X, y, sample_weight=sample_weight)


# ---------------------------------------------------------------------------
# Input types and layouts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [object, bool, np.float16, np.float32, np.int64,
                                   np.int32, np.uint8])
def test_input_dtypes_linear(dtype):
    """Numeric inputs of any dtype give the fit of their float64 values
    (float32 may be kept as the working precision: then RTOL is 1e-4)."""
    rng = np.random.default_rng(0)
    X_float = rng.standard_normal((40, 3)) * 4
    X = (X_float > 0) if dtype is bool else X_float.astype(dtype)
    X64 = np.asarray(X, dtype=np.float64)
    y = X64 @ [1.0, -2.0, 0.5] + rng.standard_normal(40)
    model = GDLinearRegression(**TIGHT).fit(X, y.astype(dtype) if dtype is object else y)
    reference = LinearRegression().fit(X64, y)
    rtol = RTOL if model.coef_.dtype == np.float64 else 1e-4
    assert model.coef_.dtype in (np.float64, np.float32)
    assert_close(model.coef_, reference.coef_, rtol=rtol)
    prediction = model.predict(X)
    assert prediction.dtype in (np.float64, np.float32)
    assert_close(prediction, reference.predict(X64), rtol=rtol, what="predictions")


@pytest.mark.parametrize("y_kind", ["int", "bool", "str_object", "str", "float_labels"])
def test_label_types_logistic(y_kind):
    X, y = classification_data(n_classes=2)
    labels = {
        "int": np.array([3, 7]),
        "bool": np.array([False, True]),
        "str_object": np.array(["no", "yes"], dtype=object),
        "str": np.array(["no", "yes"]),
        "float_labels": np.array([-1.0, 1.0]),
    }[y_kind]
    model = GDLogisticRegression(**TIGHT).fit(X.astype(object), labels[y])
    reference = LogisticRegression(tol=1e-10, max_iter=100_000).fit(X, y)
    np.testing.assert_array_equal(model.classes_, labels)
    assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)
    np.testing.assert_array_equal(model.predict(X), labels[reference.predict(X)])


@pytest.mark.parametrize("bad_X, pattern", [
    (np.array([["a", "b"]] * 6, dtype=object), "could not convert string to float"),
    (np.array([[1.0, None]] * 6, dtype=object), "NaN"),
    (np.ones((6, 2)) + 1j, "[Cc]omplex"),
])
@pytest.mark.parametrize("estimator", [GDLinearRegression(), GDLogisticRegression()],
                         ids=["linear", "logistic"])
def test_non_numeric_inputs_are_rejected(estimator, bad_X, pattern):
    y = np.arange(6) % 2
    with pytest.raises((ValueError, TypeError), match=pattern):
        estimator.fit(bad_X, y)


def test_continuous_targets_rejected_by_classifier():
    X, y = regression_data()
    with pytest.raises(ValueError, match="Unknown label type"):
        GDLogisticRegression().fit(X, y)


def _layouts(X, tmp_path):
    memmap_path = tmp_path / "X.dat"
    stored = np.memmap(memmap_path, dtype=np.float64, mode="w+", shape=X.shape)
    stored[:] = X
    stored.flush()
    del stored
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    wide[::2, ::3] = X
    read_only = X.copy()
    read_only.setflags(write=False)
    return {
        "fortran": np.asfortranarray(X),
        "strided_rows_and_columns": wide[::2, ::3],
        "reversed_rows": X[::-1][::-1],
        "read_only": read_only,
        "memmap_read_only": np.memmap(memmap_path, dtype=np.float64, mode="r",
                                      shape=X.shape),
    }


@pytest.mark.parametrize("layout", ["fortran", "strided_rows_and_columns", "reversed_rows",
                                    "read_only", "memmap_read_only"])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_memory_layouts(estimator_name, layout, tmp_path):
    if estimator_name == "linear":
        X, y = regression_data()
        estimator, reference = GDLinearRegression(**TIGHT), LinearRegression()
        rtol = RTOL
    else:
        X, y = classification_data()
        estimator = GDLogisticRegression(**TIGHT)
        reference = LogisticRegression(tol=1e-10, max_iter=100_000)
        rtol = SKLEARN_LOGISTIC_RTOL
    X_layout = _layouts(X, tmp_path)[layout]
    np.testing.assert_array_equal(X_layout, X)
    before = _fingerprint(X_layout)
    model = estimator.fit(X_layout, y)
    reference.fit(X, y)
    assert_close(model.coef_, reference.coef_, rtol=rtol)
    assert_close(model.predict(X_layout), model.predict(np.ascontiguousarray(X)),
                 rtol=1e-12, what="predictions of the same data in two layouts")
    assert _fingerprint(X_layout) == before
    if layout == "memmap_read_only":
        assert isinstance(X_layout, np.memmap) and not X_layout.flags.writeable


# ---------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------

INVALID_PARAMETERS = [
    (GDLinearRegression, "alpha", -1.0),
    (GDLinearRegression, "alpha", np.nan),
    (GDLinearRegression, "alpha", np.inf),
    (GDLogisticRegression, "C", 0.0),
    (GDLogisticRegression, "C", -1.0),
    (GDLogisticRegression, "C", np.nan),
    (GDLogisticRegression, "C", -np.inf),
    (GDLinearRegression, "l1_ratio", -0.1),
    (GDLinearRegression, "l1_ratio", 1.5),
    (GDLogisticRegression, "l1_ratio", np.nan),
    (GDLogisticRegression, "l1_ratio", np.inf),
    (GDLinearRegression, "learning_rate", 0.0),
    (GDLinearRegression, "learning_rate", -0.1),
    (GDLogisticRegression, "learning_rate", np.nan),
    (GDLogisticRegression, "learning_rate", np.inf),
    (GDLinearRegression, "max_iter", 0),
    (GDLinearRegression, "max_iter", -5),
    (GDLogisticRegression, "max_iter", 10.5),
    (GDLogisticRegression, "max_iter", np.inf),
    (GDLinearRegression, "tol", -1e-3),
    (GDLinearRegression, "tol", np.nan),
    (GDLogisticRegression, "tol", np.inf),
    (GDLinearRegression, "solver", "sgd"),
    (GDLinearRegression, "precondition", "yes"),
    (GDLogisticRegression, "class_weight", "unbalanced"),
    (GDLogisticRegression, "fit_intercept", "yes"),
    (GDLinearRegression, "verbose", -1),
]


@pytest.mark.parametrize("Estimator, name, value", INVALID_PARAMETERS,
                         ids=[f"{e.__name__}-{n}={v}" for e, n, v in INVALID_PARAMETERS])
def test_invalid_hyperparameters(Estimator, name, value):
    X, y = classification_data(n_classes=2)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        Estimator(**{name: value}).fit(X, y)


def test_infinite_C_is_valid():
    X, y, sample_weight = soft_label_data()
    model = GDLogisticRegression(C=np.inf, **TIGHT).fit(X, y, sample_weight=sample_weight)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=100_000).fit(
        X, y, sample_weight=sample_weight)
    assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)


STABLE_RATE = re.compile(r"largest stable learning rate[^=]*= (\S+?)[\s;,(]")


# Solvers that take the fixed rate as every step (for "bb" it is only the
# first one: test_large_first_step_of_bb_is_corrected).
@pytest.mark.parametrize("solver", ["gd", "nesterov"])
@pytest.mark.parametrize("precondition", ["auto", "diagonal", "none"])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_learning_rate_far_too_large(estimator_name, precondition, solver):
    """A fixed rate 1e6 times too large is refused with the largest stable rate,
    and that rate (slightly reduced) does work."""
    if estimator_name == "linear":
        X, y = regression_data()
        Estimator = GDLinearRegression
        reference = LinearRegression().fit(X, y)
        rtol = RTOL
    else:
        X, y = classification_data()
        Estimator = GDLogisticRegression
        reference = LogisticRegression(tol=1e-10, max_iter=100_000).fit(X, y)
        rtol = SKLEARN_LOGISTIC_RTOL

    def make(**params):
        return Estimator(solver=solver, precondition=precondition, **params)

    with pytest.raises(ValueError, match="largest stable learning rate") as excinfo:
        make(learning_rate=1e6).fit(X, y)
    message = str(excinfo.value)
    assert "learning_rate=1e+06" in message
    match = STABLE_RATE.search(message)
    assert match is not None, message
    stable = float(match.group(1))
    assert 0 < stable < 1e6, message
    if estimator_name == "linear" and precondition == "none":
        # Independent check: 2 / lambda_max of the note's Hessian
        # (1/m) [X 1]^T [X 1] of the mean squared error.
        design = np.column_stack([X, np.ones(len(y))])
        true_stable = 2.0 / np.linalg.eigvalsh(design.T @ design / len(y))[-1]
        assert 0.5 * true_stable <= stable <= true_stable
    model = make(learning_rate=0.9 * stable, **TIGHT).fit(X, y)
    assert_close(model.coef_, reference.coef_, rtol=rtol)


@pytest.mark.parametrize("scale", [1e100, 1e200])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_learning_rate_too_large_on_huge_data(estimator_name, scale):
    """Raw coordinates, huge features, a fixed rate: an error whose numbers
    mean something (a finite positive largest stable rate), or one that says
    to rescale; never "2/L = nan"."""
    X, y = regression_data()
    if estimator_name == "linear":
        model = GDLinearRegression(solver="gd", precondition="none", learning_rate=1.0)
    else:
        model = GDLogisticRegression(solver="gd", precondition="none", learning_rate=1.0)
        y = y > np.median(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError) as excinfo:
            model.fit(X * scale, y)
    message = str(excinfo.value)
    match = STABLE_RATE.search(message)
    if match is None:
        assert re.search(r"(?i)rescale", message), message
    else:
        assert 0 < float(match.group(1)) < np.inf, message


@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_large_first_step_of_bb_is_corrected(estimator_name):
    """For "bb" a float learning_rate is only the first step (documented):
    the line search recovers from one that is far too large."""
    if estimator_name == "linear":
        X, y = regression_data()
        model = GDLinearRegression(solver="bb", learning_rate=1e6, **TIGHT).fit(X, y)
        assert_close(model.coef_, LinearRegression().fit(X, y).coef_)
    else:
        X, y = classification_data()
        model = GDLogisticRegression(solver="bb", learning_rate=1e6, **TIGHT).fit(X, y)
        reference = LogisticRegression(tol=1e-10, max_iter=100_000).fit(X, y)
        assert_close(model.coef_, reference.coef_, rtol=SKLEARN_LOGISTIC_RTOL)


#: Solvers for which a float learning_rate is the step of every iteration,
#: so that one too large raises DivergenceError; for every other solver it is
#: a first step that a line search corrects (the docstrings' learning_rate).
FIXED_STEP_SOLVERS = ("gd", "nesterov")


@pytest.mark.parametrize("solver", list(LIBRARY_SOLVERS))
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_what_a_float_learning_rate_means_for_each_solver(estimator_name, solver):
    """learning_rate=1e3 (far above 2/L, which is below 10 here): a
    DivergenceError exactly where the docstring promises one, and otherwise
    the same minimiser as scikit-learn's; and a moderate float, the same
    minimiser for every solver."""
    if estimator_name == "linear":
        X, y = regression_data()
        Estimator = GDLinearRegression
        reference = LinearRegression().fit(X, y)
        rtol = RTOL
    else:
        X, y = classification_data()
        Estimator = GDLogisticRegression
        reference = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
        rtol = SKLEARN_LOGISTIC_RTOL
    if solver in FIXED_STEP_SOLVERS:
        with pytest.raises(DivergenceError, match="learning_rate=1000 is too large"):
            Estimator(solver=solver, learning_rate=1e3).fit(X, y)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # neither an error nor a warning
            model = Estimator(solver=solver, learning_rate=1e3, **TIGHT).fit(X, y)
        assert_close(model.coef_, reference.coef_, rtol=rtol)
        if solver == "newton":
            # Above 1 the first step counts as 1: the iterations of "auto".
            default = Estimator(solver=solver, **TIGHT).fit(X, y)
            np.testing.assert_array_equal(model.loss_curve_, default.loss_curve_)
    model = Estimator(solver=solver, learning_rate=0.5, **{**TIGHT, "max_iter": 100_000})
    model.fit(X, y)
    assert_close(model.coef_, reference.coef_, rtol=rtol)


# ---------------------------------------------------------------------------
# partial_fit: the same promise, one step at a time
# ---------------------------------------------------------------------------


def _partial_fit_cases():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = X @ [1.0, 2.0] + 0.1 * rng.standard_normal(20)
    constant_with_outlier = np.ones((20, 1))
    constant_with_outlier[4, 0] = 1e308
    return {
        "features_1e200": (X * 1e200, y, {}),
        "constant_column_with_1e308": (constant_with_outlier, y, {}),
        "zero_features_without_intercept": (np.zeros((20, 2)), y,
                                            dict(fit_intercept=False)),
        "tiny_features_without_intercept": (X * 1e-200, y, dict(fit_intercept=False)),
        "fixed_rate_on_1e168_features": (X[:, :1] * 1e168, y,
                                         dict(solver="gd", learning_rate=1e-3)),
    }


@pytest.mark.parametrize("case", list(_partial_fit_cases()))
def test_partial_fit_never_returns_non_finite_coefficients(case):
    X, y, params = _partial_fit_cases()[case]
    model = GDLinearRegression(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(3):
            try:
                model.partial_fit(X, y)
            except ValueError as error:
                assert re.search(r"(?i)rescale|too large|learning.rate", str(error)), error
                return
            assert_finite_fit(model)


# ---------------------------------------------------------------------------
# The caller's data are never modified
# ---------------------------------------------------------------------------


def _fingerprint(array):
    array = np.asarray(array)
    return (array.shape, array.dtype.str, array.strides, array.flags.writeable,
            hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest())


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_inputs_never_modified(estimator_name, dtype, layout):
    rng = np.random.default_rng(0)
    X = np.array(rng.standard_normal((50, 4)) * 10 + 3, dtype=dtype, order=layout)
    sample_weight = rng.uniform(0.1, 2.0, 50).astype(dtype if dtype != np.int64 else float)
    if estimator_name == "linear":
        y = np.asarray(X, dtype=float) @ [1.0, 2.0, -1.0, 0.5] + 7.0
        y = np.column_stack([y, -y])  # two targets
        estimators = [GDLinearRegression(alpha=a, l1_ratio=r) for a, r in
                      [(0.0, 0.0), (0.1, 0.5)]]
        methods = ["predict", "score"]
    else:
        y = np.arange(50) % 3
        estimators = [GDLogisticRegression(class_weight=cw, l1_ratio=r) for cw, r in
                      [(None, 0.0), ("balanced", 0.5)]]
        methods = ["predict", "predict_proba", "predict_log_proba", "decision_function",
                   "score"]
    y = np.asarray(y, order=layout)
    arrays = {"X": X, "y": y, "sample_weight": sample_weight}
    before = {name: _fingerprint(a) for name, a in arrays.items()}
    for estimator in estimators:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y, sample_weight=sample_weight)
            for method in methods:
                if method == "score":
                    estimator.score(X, y, sample_weight=sample_weight)
                else:
                    getattr(estimator, method)(X)
            estimator.set_params(warm_start=True).fit(X, y, sample_weight=sample_weight)
            if hasattr(estimator, "partial_fit"):
                estimator.partial_fit(X, y, sample_weight=sample_weight)
        after = {name: _fingerprint(a) for name, a in arrays.items()}
        assert after == before, f"{estimator} modified its input"


# float32 near the optimum: the decrease a good step achieves (|grad|^2 / L)
# falls below the rounding noise of float32 objective values.


def float64_optimum(X, y, sample_weight=None):
    """The float64 minimiser of the default objective (C=1), by Newton steps."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
            X, y, sample_weight=sample_weight)


def test_float32_fit_converges_where_objective_values_are_noise():
    """Weighted raw iris in float32: the line search cannot tell good steps
    from bad by objective values alone; the slope certificate lets it reach
    the float32 tol floor, and the answer is the float64 optimum to float32
    accuracy."""
    X, y = load_iris(return_X_y=True)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, y.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        single = GDLogisticRegression().fit(X.astype(np.float32), y, sample_weight=weights)
    optimum = float64_optimum(X, y, sample_weight=weights)
    assert single.n_iter_[0] < 1000
    scale = np.max(np.abs(optimum.coef_))
    np.testing.assert_allclose(single.coef_, optimum.coef_, atol=1e-3 * scale)


@pytest.mark.parametrize(
    "load, accuracy",
    # digits is nearly separable at C=1: along its flattest directions a
    # scaled gradient at the float32 tol floor still leaves 1e-4 of objective.
    [(load_breast_cancer, 1e-6), (load_digits, 1e-3)],
    ids=["breast_cancer", "digits"],
)
def test_float32_fits_of_raw_correlated_data_converge(load, accuracy):
    """Raw breast_cancer and digits (strongly correlated, unscaled features)
    in float32: the fit reaches the float32 tol floor without warning (both
    ran into max_iter before float32 took the long BB step) and its float64
    objective is the optimum's to the stated relative accuracy."""
    X, y = load(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        single = GDLogisticRegression().fit(X.astype(np.float32), y)
    reference = float64_optimum(X, y)
    assert single.coef_.dtype == np.float32
    reached = log_loss_objective(X, y, single.coef_, single.intercept_)
    optimum = log_loss_objective(X, y, reference.coef_, reference.intercept_)
    assert relative_gap(reached, optimum) <= accuracy
