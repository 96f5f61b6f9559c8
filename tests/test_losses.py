"""The per-sample losses of :mod:`gdestimators._losses`, one method at a time.

References are independent: finite differences of the residual for the
second derivative, explicit matrices for its products, the definitions of
the weighted mean and of the log-odds for the intercept-only start.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gdestimators._losses import (
    BinaryLogistic,
    Multinomial,
    SquaredError,
    classification_loss,
    curvature_product,
)

# Central differences of a residual of order one with step 1e-6: truncation
# ~1e-12, rounding ~1e-10; real errors (a wrong factor) are order one.
FD_STEP = 1e-6
FD_ATOL = 1e-8


def _targets(loss, m, rng):
    if isinstance(loss, SquaredError):
        return rng.standard_normal((3, m))
    if isinstance(loss, BinaryLogistic):
        return (rng.random((1, m)) < 0.5).astype(np.float64)
    return loss.encode_targets(rng.integers(0, loss.n_classes, m), np.float64)


LOSSES = [SquaredError(), BinaryLogistic(), Multinomial(4)]
IDS = ["squared", "binary", "multinomial"]


def _dense_second_derivative(curvature, sample, k):
    """The ``(k, k)`` matrix ``diag(d) - u u^T`` of one sample.

    A diagonal of one row is shared by the ``k`` outputs.
    """
    d = np.broadcast_to(curvature.diagonal[:, sample], (k,))
    matrix = np.diag(d)
    if curvature.low_rank is not None:
        u = curvature.low_rank[:, sample]
        matrix = matrix - np.outer(u, u)
    return matrix


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_curvature_is_the_jacobian_of_the_residual(loss):
    rng = np.random.default_rng(0)
    m = 7
    Y = _targets(loss, m, rng)
    z = 2.0 * rng.standard_normal(Y.shape)
    curvature = loss.curvature(z)
    for sample in range(m):
        jacobian = np.zeros((Y.shape[0], Y.shape[0]))
        for j in range(Y.shape[0]):
            plus, minus = z.copy(), z.copy()
            plus[j, sample] += FD_STEP
            minus[j, sample] -= FD_STEP
            jacobian[:, j] = (
                loss.loss_and_residual(plus, Y)[1][:, sample]
                - loss.loss_and_residual(minus, Y)[1][:, sample]
            ) / (2 * FD_STEP)
        expected = _dense_second_derivative(curvature, sample, Y.shape[0])
        assert_allclose(expected, jacobian, atol=FD_ATOL)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_curvature_product_is_the_matrix_product(loss):
    rng = np.random.default_rng(1)
    Y = _targets(loss, 5, rng)
    z, V = rng.standard_normal(Y.shape), rng.standard_normal(Y.shape)
    curvature = loss.curvature(z)
    product = curvature_product(curvature, V)
    for sample in range(Y.shape[1]):
        expected = _dense_second_derivative(curvature, sample, Y.shape[0]) @ V[:, sample]
        assert_allclose(product[:, sample], expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_curvature_is_within_its_bound(loss):
    rng = np.random.default_rng(2)
    Y = _targets(loss, 50, rng)
    curvature = loss.curvature(3.0 * rng.standard_normal(Y.shape))
    for sample in range(Y.shape[1]):
        eigenvalues = np.linalg.eigvalsh(_dense_second_derivative(curvature, sample, Y.shape[0]))
        assert eigenvalues.min() >= -1e-15
        assert eigenvalues.max() <= loss.curvature_bound + 1e-15


def test_binary_curvature_keeps_tiny_values():
    """``a (1 - a)`` at ``|z| = 40`` is about 4e-18: ``1 - a`` would round it to 0."""
    curvature = BinaryLogistic().curvature(np.array([[40.0, -40.0]]))
    assert_allclose(curvature.diagonal, np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2, rtol=1e-12)


def _weighted_problem(loss, seed=3):
    rng = np.random.default_rng(seed)
    Y = _targets(loss, 40, rng)
    return Y, rng.uniform(0.2, 3.0, size=Y.shape[1])


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_intercept_only_zeroes_the_intercept_gradient(loss):
    """At zero coefficients, the best intercept makes ``sum_i s_i r_i = 0``."""
    Y, s = _weighted_problem(loss)
    b = loss.intercept_only(Y, s)
    z = np.broadcast_to(b[:, None], Y.shape)
    _, residual = loss.loss_and_residual(z, Y)
    assert_allclose(residual @ s, 0.0, atol=1e-12)


def test_intercept_only_values():
    Y, s = _weighted_problem(SquaredError())
    assert_allclose(SquaredError().intercept_only(Y, s), (Y * s).sum(1) / s.sum())
    Y, s = _weighted_problem(BinaryLogistic())
    share = (Y[0] * s).sum() / s.sum()
    assert_allclose(BinaryLogistic().intercept_only(Y, s), [np.log(share / (1 - share))])
    Y, s = _weighted_problem(Multinomial(4))
    log_share = np.log((Y * s).sum(1) / s.sum())
    assert_allclose(Multinomial(4).intercept_only(Y, s), log_share - log_share.mean())


def test_intercept_only_is_none_when_a_class_has_no_weight():
    Y = Multinomial(3).encode_targets(np.array([0, 1, 2, 0]), np.float64)
    assert Multinomial(3).intercept_only(Y, np.array([1.0, 1.0, 0.0, 1.0])) is None
    Y = BinaryLogistic().encode_targets(np.array([0, 1, 1]), np.float64)
    assert BinaryLogistic().intercept_only(Y, np.array([0.0, 1.0, 2.0])) is None


def test_encode_targets():
    y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert_allclose(SquaredError().encode_targets(y, np.float32), y.T)
    assert SquaredError().encode_targets(y[:, 0], np.float32).shape == (1, 3)
    assert SquaredError().encode_targets(y, np.float32).dtype == np.float32
    assert_allclose(BinaryLogistic().encode_targets(np.array([1, 0, 1]), np.float64),
                    [[1.0, 0.0, 1.0]])
    # A batch may lack a class: the encoding still has one row per class.
    assert_allclose(Multinomial(3).encode_targets(np.array([2, 0]), np.float64),
                    [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])


def test_classification_loss_by_number_of_classes():
    assert isinstance(classification_loss(2), BinaryLogistic)
    loss = classification_loss(5)
    assert isinstance(loss, Multinomial) and loss.n_classes == 5
