"""The Hessian of the objective in the solver's coordinates, and its solves.

References: central finite differences of the gradient (which is itself
checked against finite differences of the objective in test_objectives.py),
and explicit linear algebra for the solves.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from gdestimators._hessian import HessianMatrix
from gdestimators._losses import BinaryLogistic, Multinomial, SquaredError
from gdestimators._problem import ObjectiveSettings, build_problem

CASES = [("squared", 1), ("squared", 3), ("binary", 1), ("multinomial", 4)]
IDS = ["squared-k1", "squared-k3", "binary", "multinomial-K4"]


def _data(loss_name, k, *, seed=0, with_zeros=False, l2=0.3):
    """Raw features of unequal scale and offset, targets, weights and settings."""
    rng = np.random.default_rng(seed)
    m, n = 60, 4
    X = rng.standard_normal((m, n)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 1.0]
    if with_zeros:
        X[rng.random((m, n)) < 0.5] = 0.0
    if loss_name == "squared":
        loss, Y = SquaredError(), rng.standard_normal((k, m))
    elif loss_name == "binary":
        loss = BinaryLogistic()
        Y = loss.encode_targets(rng.integers(0, 2, m), np.float64)
    else:
        loss = Multinomial(k)
        Y = loss.encode_targets(rng.integers(0, k, m), np.float64)
    return X, ObjectiveSettings(loss, Y, l2, 0.0), rng.uniform(0.2, 3.0, m)


def _problem(loss_name, k, *, precondition, fit_intercept, seed=0):
    X, settings, s = _data(loss_name, k, seed=seed)
    return build_problem(X, settings, s, fit_intercept=fit_intercept,
                         precondition=precondition)


def _finite_difference_hessian(problem, theta, step=1e-5):
    """Columns ``(grad(theta + h e_j) - grad(theta - h e_j)) / 2h``, output-major."""
    p, k = theta.shape
    columns = []
    for c in range(k):
        for j in range(p):
            plus, minus = theta.copy(), theta.copy()
            plus[j, c] += step
            minus[j, c] -= step
            difference = problem.smooth(plus)[1] - problem.smooth(minus)[1]
            columns.append((difference / (2 * step)).T.reshape(-1))
    return np.column_stack(columns)


@pytest.mark.parametrize("loss_name, k", CASES, ids=IDS)
@pytest.mark.parametrize("precondition", ["none", "diagonal", "full"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_is_the_jacobian_of_the_gradient(loss_name, k, precondition, fit_intercept):
    problem, model = _problem(loss_name, k, precondition=precondition,
                              fit_intercept=fit_intercept)
    theta = 0.3 * np.random.default_rng(1).standard_normal((model.n_rows, k))
    value, gradient, hessian = problem.second_order(theta)
    smooth_value, smooth_gradient = problem.smooth(theta)
    assert_allclose(value, smooth_value, rtol=1e-13)
    assert_allclose(gradient, smooth_gradient, rtol=1e-12, atol=1e-15)
    expected = _finite_difference_hessian(problem, theta)
    # Central differences of an O(1) gradient with step 1e-5: errors ~1e-9.
    assert_allclose(hessian.full(), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss_name, k", CASES, ids=IDS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_hessian_equals_dense(loss_name, k, fit_intercept):
    """Sparse X is never centred: its blocks use the expanded product."""
    X, settings, s = _data(loss_name, k, seed=4, with_zeros=True)
    dense, model = build_problem(X, settings, s, fit_intercept=fit_intercept,
                                 precondition="diagonal")
    sparse, _ = build_problem(sp.csr_matrix(X), settings, s, fit_intercept=fit_intercept,
                              precondition="diagonal")
    theta = 0.3 * np.random.default_rng(2).standard_normal((model.n_rows, k))
    assert_allclose(sparse.second_order(theta)[2].full(), dense.second_order(theta)[2].full(),
                    rtol=1e-10, atol=1e-12)


def test_shared_block_solves_every_output():
    """Least squares with k outputs: one block, k right-hand sides."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 5))
    block = A @ A.T + np.eye(5)
    hessian = HessianMatrix(block, n_outputs=3, shared=True)
    gradient = rng.standard_normal((5, 3))
    assert_allclose(hessian.solve(gradient), np.linalg.solve(block, gradient), rtol=1e-10)
    assert_allclose(hessian.full(), np.kron(np.eye(3), block))


def test_coupled_solve_is_output_major():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((6, 6))
    matrix = A @ A.T + np.eye(6)
    hessian = HessianMatrix(matrix, n_outputs=2, shared=False)
    gradient = rng.standard_normal((3, 2))
    flat = np.linalg.solve(matrix, gradient.T.reshape(-1))
    assert_allclose(hessian.solve(gradient), flat.reshape(2, 3).T, rtol=1e-10)


def test_singular_hessian_gives_the_least_norm_solution():
    """Collinear directions are flat: the solve stays out of them."""
    basis = np.linalg.qr(np.random.default_rng(6).standard_normal((4, 4)))[0]
    matrix = (basis * [3.0, 2.0, 1.0, 0.0]) @ basis.T
    hessian = HessianMatrix(matrix, n_outputs=1, shared=False)
    gradient = matrix @ np.array([[1.0], [-2.0], [0.5], [4.0]])
    solution = hessian.solve(gradient)
    assert_allclose(solution, np.linalg.pinv(matrix) @ gradient, atol=1e-10)
    assert abs(float(basis[:, 3] @ solution[:, 0])) < 1e-10
