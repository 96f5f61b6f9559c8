"""Dask arrays: fits equal the numpy fits, predictions stay lazy, a real cluster works.

The parity tests run on dask's local scheduler; ``test_local_cluster_*``
starts a ``dask.distributed.LocalCluster`` of two worker processes whose
memory limit is smaller than ``X``, and checks the fitted models by the
optimality conditions of their objectives, computed on the cluster with
plain ``dask.array`` expressions (independently of the package's code).
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_linnerud,
    make_classification,
)
from sklearn.utils.class_weight import compute_class_weight

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective

da = pytest.importorskip("dask.array")

RTOL = {np.float64: 1e-6, np.float32: 1e-4}


def chunked(array, rows=64):
    """A dask array of ``array`` in chunks of ``rows`` samples."""
    return da.from_array(array, chunks=(rows,) + array.shape[1:])


def assert_fits_equal(numpy_fit, dask_fit, dtype):
    rtol = RTOL[dtype]
    scale = np.max(np.abs(numpy_fit.coef_))
    np.testing.assert_allclose(dask_fit.coef_, numpy_fit.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(
        dask_fit.intercept_, numpy_fit.intercept_, rtol=rtol, atol=rtol * scale
    )
    assert dask_fit.coef_.dtype == numpy_fit.coef_.dtype == dtype


def three_classes(n_samples=500):
    """Overlapping classes on features of unequal scales and offsets.

    Their minimiser is well determined, also at float32 precision, so that
    two fits that stop at the tolerance agree to it (near-separable sets
    such as iris leave directions of so little curvature that float32
    fits stopped at the tol floor differ by 1e-4 relative).
    """
    X, y = make_classification(
        n_samples=n_samples, n_features=8, n_informative=5, n_classes=3,
        class_sep=0.5, random_state=0,
    )
    scales = np.logspace(-2, 2, X.shape[1])
    return X * scales + 3.0 * scales, y


def weights_for(n_samples):
    return np.random.default_rng(0).uniform(0.2, 3.0, n_samples)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "params",
    [{}, {"fit_intercept": False}, {"alpha": 0.1, "l1_ratio": 0.5}, {"alpha": 1.0}],
    ids=["ols", "no-intercept", "elastic-net", "ridge"],
)
@pytest.mark.parametrize("targets", ["one", "three"])
def test_linear_regression_equals_numpy_fit(dtype, params, targets):
    if targets == "one":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = load_linnerud(return_X_y=True)
    X = X.astype(dtype)
    sample_weight = weights_for(X.shape[0])
    params = {"tol": 1e-14, **params}
    numpy_fit = GDLinearRegression(**params).fit(X, y, sample_weight=sample_weight)
    dask_fit = GDLinearRegression(**params).fit(
        chunked(X, 50), chunked(y, 50), sample_weight=chunked(sample_weight, 50)
    )
    if dtype == np.float64:
        assert_fits_equal(numpy_fit, dask_fit, dtype)
        expected = numpy_fit.predict(X)
    else:
        # float32 certifies the objective to its precision (a relative gap of
        # 128 float32 epsilons), which leaves the coefficients of diabetes's
        # correlated columns free by 1e-3 relative: both fits are within
        # their certified gaps of the minimum, in float64.
        objectives = [
            least_squares_objective(
                X.astype(np.float64), y, fit.coef_.astype(np.float64),
                np.asarray(fit.intercept_, dtype=np.float64),
                alpha=params.get("alpha", 0.0), l1_ratio=params.get("l1_ratio", 0.0),
                sample_weight=sample_weight,
            )
            for fit in (numpy_fit, dask_fit)
        ]
        allowed = max(fit.dual_gap_ for fit in (numpy_fit, dask_fit))
        assert abs(objectives[0] - objectives[1]) <= allowed, (objectives, allowed)
        assert dask_fit.coef_.dtype == numpy_fit.coef_.dtype == dtype
        expected = dask_fit.predict(X)  # lazy against eager, the same model
    prediction = dask_fit.predict(chunked(X, 50))
    assert isinstance(prediction, da.Array)
    np.testing.assert_allclose(
        prediction.compute(), expected, rtol=RTOL[dtype],
        atol=RTOL[dtype] * np.max(np.abs(y)),
    )


# With an L1 part, the float32 solution at the float32 tol floor is fixed
# only to about 2e-4 relative on these sets (two summation orders stop at
# points that far apart); L1 parity is checked in float64.
@pytest.mark.parametrize(
    "dtype, params",
    [(dtype, params) for dtype in (np.float64, np.float32)
     for params in ({}, {"class_weight": "balanced"}, {"fit_intercept": False, "C": 10.0})]
    + [(np.float64, {"C": 0.5, "l1_ratio": 0.3})],
    ids=lambda value: getattr(value, "__name__", None) or (
        ",".join(f"{k}={v}" for k, v in value.items()) or "default"),
)
@pytest.mark.parametrize("dataset", ["binary", "multiclass"])
def test_logistic_regression_equals_numpy_fit(dtype, params, dataset):
    if dataset == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        # The "error" features: all 30 raw features are beyond what float32
        # objective values resolve at tol's float32 floor, numpy or dask.
        X = X[:, 10:20]
        y = np.where(y == 1, "benign", "malignant")
    else:
        X, y = three_classes()
    X = X.astype(dtype)
    sample_weight = weights_for(X.shape[0])
    params = {"tol": 1e-14, **params}
    numpy_fit = GDLogisticRegression(**params).fit(X, y, sample_weight=sample_weight)
    dask_fit = GDLogisticRegression(**params).fit(
        chunked(X), chunked(y), sample_weight=sample_weight
    )
    np.testing.assert_array_equal(dask_fit.classes_, numpy_fit.classes_)
    if dtype == np.float64:
        assert_fits_equal(numpy_fit, dask_fit, dtype)
    else:
        # float32 certifies the objective to its precision, not coefficients:
        # without an intercept these offset columns are so correlated that
        # coefficients 1e-3 apart have objectives within 1e-9. Both fits are
        # within their certified gaps of the minimum (checked in float64).
        weights = sample_weight
        if params.get("class_weight") is not None:
            classes, codes = np.unique(y, return_inverse=True)
            weights = sample_weight * compute_class_weight(
                params["class_weight"], classes=classes, y=y, sample_weight=sample_weight
            )[codes]
        objectives = [
            log_loss_objective(
                X.astype(np.float64), y, fit.coef_.astype(np.float64),
                fit.intercept_.astype(np.float64), C=params.get("C", 1.0),
                sample_weight=weights,
            )
            for fit in (numpy_fit, dask_fit)
        ]
        allowed = max(fit.dual_gap_ for fit in (numpy_fit, dask_fit))
        assert abs(objectives[0] - objectives[1]) <= allowed, (objectives, allowed)
        assert dask_fit.coef_.dtype == numpy_fit.coef_.dtype == dtype
    X_lazy = chunked(X)
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        lazy = getattr(dask_fit, method)(X_lazy)
        assert isinstance(lazy, da.Array)
        # The lazy prediction equals the eager one of the same model; the
        # models themselves were compared above.
        expected = getattr(dask_fit, method)(X)
        assert lazy.shape == expected.shape
        np.testing.assert_allclose(
            lazy.compute(), expected, rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype]
        )
    labels = dask_fit.predict(X_lazy)
    assert isinstance(labels, da.Array)
    agreement = np.mean(labels.compute() == numpy_fit.predict(X))
    assert agreement >= 0.99  # ties at the decision boundary may flip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "estimator, data",
    [("linear", "one"), ("linear", "three"), ("logistic", "binary"),
     ("logistic", "multiclass")],
)
def test_lbfgs_equals_numpy_fit(dtype, estimator, data):
    """solver="lbfgs" runs its own loop on the client: the same fit as numpy's."""
    if estimator == "linear":
        X, y = (load_diabetes if data == "one" else load_linnerud)(return_X_y=True)
        make = lambda: GDLinearRegression(alpha=0.1, solver="lbfgs", tol=1e-14)  # noqa: E731
        rows = 50
    else:
        if data == "binary":
            X, y = load_breast_cancer(return_X_y=True)
            X = X[:, 10:20]  # see test_logistic_regression_equals_numpy_fit
        else:
            X, y = three_classes()
        make = lambda: GDLogisticRegression(  # noqa: E731
            solver="lbfgs", class_weight="balanced", tol=1e-14
        )
        rows = 64
    X = X.astype(dtype)
    sample_weight = weights_for(X.shape[0])
    numpy_fit = make().fit(X, y, sample_weight=sample_weight)
    dask_fit = make().fit(chunked(X, rows), chunked(y, rows),
                          sample_weight=chunked(sample_weight, rows))
    assert_fits_equal(numpy_fit, dask_fit, dtype)


def test_unequal_and_column_chunks_are_handled():
    X, y = load_diabetes(return_X_y=True)
    X_lazy = da.from_array(X, chunks=((100, 42, 300), (4, 6)))
    numpy_fit = GDLinearRegression().fit(X, y)
    dask_fit = GDLinearRegression().fit(X_lazy, y)
    assert_fits_equal(numpy_fit, dask_fit, np.float64)


def test_integer_data_are_fitted_in_float64():
    X, y = three_classes()
    X_int = np.round(X * 10).astype(np.int64)
    numpy_fit = GDLogisticRegression(tol=1e-10).fit(X_int, y)
    dask_fit = GDLogisticRegression(tol=1e-10).fit(chunked(X_int), y)
    assert_fits_equal(numpy_fit, dask_fit, np.float64)


def test_separable_data_warn_as_for_numpy():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(UserWarning, match="linearly separable"):
        GDLogisticRegression(C=np.inf, max_iter=50).fit(chunked(X, 2), y)


@pytest.mark.parametrize(
    "make_input, error, match",
    [
        (lambda X: da.from_array(X[:, 0], chunks=50), ValueError, "Expected a 2D"),
        (lambda X: da.from_array(np.where(X > 0.05, np.nan, X), chunks=50),
         ValueError, "NaN or infinity"),
        (lambda X: da.from_array(np.where(X > 0.05, np.inf, X), chunks=50),
         ValueError, "NaN or infinity"),
        (lambda X: da.from_array(X.astype(np.complex128), chunks=50),
         ValueError, "Complex"),
        (lambda X: da.from_array(X[:0], chunks=50), ValueError, "0 sample"),
    ],
    ids=["1d", "nan", "inf", "complex", "empty"],
)
def test_bad_dask_input_raises_a_clear_error(make_input, error, match):
    X, y = load_diabetes(return_X_y=True)
    X_bad = make_input(X)
    with pytest.raises(error, match=match):
        GDLinearRegression().fit(X_bad, y[: X_bad.shape[0]])


def test_inconsistent_lengths_and_features_raise():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GDLinearRegression().fit(chunked(X), y[:-1])
    fitted = GDLinearRegression().fit(chunked(X), y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(chunked(X[:, :-1]))


def test_other_dask_collections_are_refused_with_advice():
    """Only dask arrays are fitted; the error names the conversion of the
    usual other collection, a dask DataFrame (here a delayed array, which
    takes the same path and needs no extra dependency)."""
    dask = pytest.importorskip("dask")
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(TypeError, match="to_dask_array"):
        GDLinearRegression().fit(dask.delayed(X), y)


def test_input_is_not_modified():
    X, y = load_breast_cancer(return_X_y=True)
    X_before = X.copy()
    GDLogisticRegression().fit(chunked(X), y)
    np.testing.assert_array_equal(X, X_before)


# A real cluster: two worker processes, each allowed less memory than X.
# X lives only on the workers (generated there); the checks run there too.
CLUSTER_ROWS = 4_000_000
CLUSTER_FEATURES = 20
WORKER_MEMORY = 560 * 2**20


@pytest.fixture(scope="module")
def cluster_data():
    distributed = pytest.importorskip("dask.distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # port and memory notices of the cluster
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True,
            memory_limit=WORKER_MEMORY, dashboard_address=":0",
        )
    client = distributed.Client(cluster)
    rng = da.random.default_rng(0)
    chunks = (CLUSTER_ROWS // 16, CLUSTER_FEATURES)
    scales = np.logspace(-3, 3, CLUSTER_FEATURES)
    X = (rng.standard_normal((CLUSTER_ROWS, CLUSTER_FEATURES), chunks=chunks)
         * scales + 10.0 * scales).persist()
    beta = np.random.default_rng(1).standard_normal(CLUSTER_FEATURES) / scales
    noise = rng.standard_normal(CLUSTER_ROWS, chunks=chunks[0])
    linear_target = (X @ beta + 0.5 * noise).persist()
    labels = (linear_target > float((10.0 * scales) @ beta)).astype(np.int64).persist()
    yield X, linear_target, labels
    client.close()
    cluster.close()


def test_local_cluster_data_exceed_a_workers_memory(cluster_data):
    X, _, _ = cluster_data
    assert X.nbytes > WORKER_MEMORY


def test_local_cluster_linear_regression(cluster_data):
    X, target, _ = cluster_data
    fitted = GDLinearRegression().fit(X, target)
    assert fitted.coef_.shape == (CLUSTER_FEATURES,)
    # Optimality, computed independently on the cluster: the gradient of
    # (1/2m)||Xw + b - y||^2 vanishes. Each coordinate is compared in units
    # of its feature's and the target's spread (a scale-free measure).
    residual = X @ fitted.coef_ + fitted.intercept_ - target
    grad_w = (X.T @ residual) / CLUSTER_ROWS
    grad_b = residual.mean()
    grad_w, grad_b, x_std, y_std = da.compute(grad_w, grad_b, X.std(axis=0), target.std())
    assert np.max(np.abs(grad_w) / (x_std * y_std)) < 1e-6
    assert abs(grad_b) / y_std < 1e-6
    prediction = fitted.predict(X)
    assert isinstance(prediction, da.Array)
    r2 = 1 - ((prediction - target) ** 2).mean() / target.var()
    assert float(r2.compute()) > 0.9


def test_local_cluster_logistic_regression(cluster_data):
    X, _, labels = cluster_data
    C = 1e-3
    fitted = GDLogisticRegression(C=C).fit(X, labels)
    # Optimality of sum_i CE_i + ||w||^2 / (2C), divided by m, on the cluster.
    logits = X @ fitted.coef_[0] + fitted.intercept_[0]
    residual = 1.0 / (1.0 + da.exp(-logits)) - labels
    grad_w = (X.T @ residual) / CLUSTER_ROWS + fitted.coef_[0] / (C * CLUSTER_ROWS)
    grad_b = residual.mean()
    grad_w, grad_b, x_std = da.compute(grad_w, grad_b, X.std(axis=0))
    assert np.max(np.abs(grad_w) / x_std) < 1e-6
    assert abs(grad_b) < 1e-6
    # Lazy predictions agree with the model computed by hand on the cluster.
    probabilities = fitted.predict_proba(X)
    assert isinstance(probabilities, da.Array)
    assert probabilities.shape == (CLUSTER_ROWS, 2)
    largest_error, disagreements = da.compute(
        abs(probabilities[:, 1] - 1.0 / (1.0 + da.exp(-logits))).max(),
        (fitted.predict(X) != (logits > 0)).sum(),
    )
    assert largest_error < 1e-12
    assert disagreements == 0
