"""Fitted attributes and methods as scikit-learn's own estimators give them.

Code written for ``LogisticRegression`` / ``LinearRegression`` reads
``n_iter_[0]``, checks ``intercept_.dtype``, calls ``sparsify()`` and catches
``ValueError``; each test here compares our types, shapes and behaviour with
those of the scikit-learn estimator that code was written for.
"""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification, make_regression

import gdestimators
from gdestimators import DivergenceError, GDLinearRegression

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
