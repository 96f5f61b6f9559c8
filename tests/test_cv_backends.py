"""The cross-validated estimators on dask arrays and array-API arrays equal the numpy fits.

The same batched code runs on every kind of array: dask arrays (one
map-reduce per iteration for all models, counted here) and array_api_strict
arrays (where the loop keeps its decisions on the device).
"""

import os

import numpy as np
import pytest
import sklearn
from _assertions import assert_close
from sklearn.datasets import load_diabetes, load_wine

from gdestimators import GDLinearRegressionCV, GDLogisticRegressionCV

# tol bounds each model's relative objective gap, and numpy fits may take
# Newton steps where a dask array's take Barzilai-Borwein steps: coefficients
# (and scores) then agree to about sqrt(tol), so RTOL = 1e-6 asks for 1e-14.
TOL = 1e-14
RTOL = 1e-6


def _classification():
    return load_wine(return_X_y=True)


def _regression():
    return load_diabetes(return_X_y=True)


CASES = {
    "logistic": (_classification, lambda: GDLogisticRegressionCV(
        Cs=[0.1, 1.0], l1_ratios=[0.0, 0.5], cv=3, tol=TOL, scoring="neg_log_loss")),
    "linear": (_regression, lambda: GDLinearRegressionCV(
        alphas=4, l1_ratio=[0.0, 1.0], cv=3, tol=TOL)),
}


def _assert_same_fit(numpy_fit, other, to_numpy=np.asarray):
    assert_close(to_numpy(other.coefs_paths_), numpy_fit.coefs_paths_, rtol=RTOL,
                 what="coefs_paths_")
    np.testing.assert_allclose(to_numpy(other.scores_), numpy_fit.scores_, rtol=1e-7)
    assert_close(to_numpy(other.coef_), numpy_fit.coef_, rtol=RTOL)


@pytest.mark.parametrize("case", CASES)
def test_dask_equals_numpy_with_one_map_reduce_per_iteration(case, monkeypatch):
    da = pytest.importorskip("dask.array")
    from gdestimators import _dask

    load, make = CASES[case]
    X, y = load()
    weight = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    numpy_fit = make().fit(X, y, sample_weight=weight)
    computes = []
    original = _dask._tree_compute

    def counting(parts, combine):
        computes.append(len(parts))
        return original(parts, combine)

    def persisting(parts):
        computes.append(len(parts))
        return original_persist(parts)

    original_persist = _dask._persist
    monkeypatch.setattr(_dask, "_tree_compute", counting)
    monkeypatch.setattr(_dask, "_persist", persisting)
    dask_fit = make().fit(da.from_array(X, chunks=(60, X.shape[1])), y, sample_weight=weight)
    _assert_same_fit(numpy_fit, dask_fit)
    # One map-reduce per pass over X for all models, whatever their number
    # (the certificates' logits, kept on the workers, are a pass too).
    assert len(computes) == dask_fit.n_passes_


@pytest.mark.skipif(os.environ.get("SCIPY_ARRAY_API") != "1",
                    reason="array-API dispatch needs SCIPY_ARRAY_API=1")
@pytest.mark.parametrize("case", CASES)
def test_array_api_strict_equals_numpy(case):
    xp = pytest.importorskip("array_api_strict")
    load, make = CASES[case]
    X, y = load()
    numpy_fit = make().fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        strict_fit = make().fit(xp.asarray(X), xp.asarray(y))
        predictions = strict_fit.predict(xp.asarray(X))
    assert type(predictions).__module__.startswith("array_api_strict")
    assert type(strict_fit.coefs_paths_).__module__.startswith("array_api_strict")
    _assert_same_fit(numpy_fit, strict_fit, to_numpy=lambda a: np.from_dlpack(a))
    np.testing.assert_allclose(np.from_dlpack(predictions), numpy_fit.predict(X), rtol=1e-7)
