"""The gradient formulas: :mod:`gdestimators._objectives` and :mod:`gdestimators._problem`.

Every gradient is checked against an independent reference:

* central finite differences of the cost ``J`` (float64), for every loss,
  with non-uniform sample weights;
* the cost ``J`` itself against the independent reference objectives of
  :mod:`gdestimators._reference`;
* the literal formulas of ``note-computing-gradients.md`` (``X`` of shape
  ``(n, m)``, one column per sample, unit weights);
* repeated columns for integer sample weights;
* central finite differences of the full (penalised, preconditioned) objective
  that the solvers minimise, ``problem.smooth(theta)``.

Tolerances
----------
Central differences with step ``eps`` have truncation error ``O(eps^2 f''')``
and rounding error ``O(ulp(J) / eps)``. With ``eps = 1e-6`` and ``J, X`` of
order one both are about ``1e-10``, so a relative tolerance of ``1e-6`` (plus
an absolute ``1e-8`` for entries of the gradient that are close to zero) is
far above the noise and far below any real error (a wrong factor or a missing
weight changes entries by order one).
"""

import numpy as np
import pytest
from _finite_differences import central_difference  # tests/ is on pytest's pythonpath
from numpy.testing import assert_allclose

from gdestimators._losses import BinaryLogistic, Multinomial, SquaredError
from gdestimators._problem import ObjectiveSettings, build_problem
from gdestimators._reference import (
    elastic_net_penalty,
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
)
from gdestimators._samples import InMemorySamples

# See the module docstring: FD noise is ~1e-10, real errors are O(1).
FD_RTOL = 1e-6
FD_ATOL = 1e-8


# ---------------------------------------------------------------------------
# Independent references, written from scratch with plain numpy.
# ---------------------------------------------------------------------------


def reference_cost(X, Y, s, w, b, loss_name):
    """``(1/S) sum_i s_i l_i`` by :mod:`gdestimators._reference`, from the note's layout.

    ``X`` is the note's ``(n, m)``, ``Y`` is ``(k, m)`` (targets, the binary
    0/1 row, or one-hot classes), ``w`` is ``(n, k)``, ``b`` is ``(k,)``; the
    reference takes scikit-learn's layout, one row per sample.
    """
    if loss_name == "squared":
        return least_squares_objective(X.T, Y.T, w.T, b, sample_weight=s)
    if loss_name == "binary":
        labels, classes = Y[0], [0.0, 1.0]
    elif loss_name == "multinomial":
        labels, classes = np.argmax(Y, axis=0), np.arange(Y.shape[0])
    else:  # pragma: no cover
        raise ValueError(loss_name)
    return log_loss_objective(X.T, labels, w.T, b, C=np.inf, sample_weight=s, classes=classes)


def loss_and_gradient(X, Y, s, w, b, loss):
    """``J``, ``grad_w J`` and ``grad_b J`` as the fits compute them.

    ``X`` in the note's layout ``(n, m)``; the samples object reads
    scikit-learn's ``(m, n)`` through its transpose, as a fit does.
    """
    return InMemorySamples(X.T, Y, s).loss_and_gradient(w, b, loss)


def make_loss(loss_name, k):
    """The loss object for ``loss_name`` with ``k`` outputs or classes."""
    return Multinomial(k) if loss_name == "multinomial" else LOSSES[loss_name]()


def make_data(loss_name, n_features=5, m=30, k=1, seed=0):
    """Small random data in the note's layout, with non-uniform weights."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_features, m))
    if loss_name == "squared":
        Y = rng.standard_normal((k, m))
    elif loss_name == "binary":
        Y = (rng.random((1, m)) < 0.4).astype(np.float64)
        k = 1
    else:
        labels = rng.integers(0, k, size=m)
        labels[:k] = np.arange(k)  # every class present
        Y = np.zeros((k, m))
        Y[labels, np.arange(m)] = 1.0
    s = rng.uniform(0.1, 3.0, size=m)
    w = 0.5 * rng.standard_normal((n_features, k))
    b = 0.5 * rng.standard_normal(k)
    return X, Y, s, w, b


LOSSES = {
    "squared": SquaredError,
    "binary": BinaryLogistic,
    "multinomial": Multinomial,
}

# (loss name, k): single-output and 3-output least squares, binary logistic,
# softmax with K = 4 classes.
CASES = [("squared", 1), ("squared", 3), ("binary", 1), ("multinomial", 4)]
CASE_IDS = ["squared-k1", "squared-k3", "binary", "multinomial-K4"]

# Every change of variables: the note's plain coordinates ("none"), centering
# and scaling ("diagonal"), and decorrelation on top ("full").
PRECONDITIONERS = ["none", "diagonal", "full"]


# ---------------------------------------------------------------------------
# loss_and_gradient against finite differences and the definition of J.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
def test_cost_matches_independent_formula(loss_name, k):
    X, Y, s, w, b = make_data(loss_name, k=k)
    J, _, _ = loss_and_gradient(X, Y, s, w, b, make_loss(loss_name, k))
    # Same sum in a different order: agreement to a few ulps.
    assert_allclose(J, reference_cost(X, Y, s, w, b, loss_name), rtol=1e-12)


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(loss_name, k):
    X, Y, s, w, b = make_data(loss_name, k=k)
    _, grad_w, grad_b = loss_and_gradient(X, Y, s, w, b, make_loss(loss_name, k))
    assert grad_w.shape == w.shape
    assert grad_b.shape == b.shape

    fd_w = central_difference(lambda w_: reference_cost(X, Y, s, w_, b, loss_name), w)
    fd_b = central_difference(lambda b_: reference_cost(X, Y, s, w, b_, loss_name), b)
    assert_allclose(grad_w, fd_w, rtol=FD_RTOL, atol=FD_ATOL)
    assert_allclose(grad_b, fd_b, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences_of_own_cost(loss_name, k):
    """The returned gradient is the derivative of the returned ``J``."""
    X, Y, s, w, b = make_data(loss_name, k=k, seed=1)
    loss = make_loss(loss_name, k)
    _, grad_w, grad_b = loss_and_gradient(X, Y, s, w, b, loss)
    fd_w = central_difference(lambda w_: loss_and_gradient(X, Y, s, w_, b, loss)[0], w)
    fd_b = central_difference(lambda b_: loss_and_gradient(X, Y, s, w, b_, loss)[0], b)
    assert_allclose(grad_w, fd_w, rtol=FD_RTOL, atol=FD_ATOL)
    assert_allclose(grad_b, fd_b, rtol=FD_RTOL, atol=FD_ATOL)


def test_squared_error_with_no_targets_means_zero_targets():
    X, Y, s, w, b = make_data("squared", k=2)
    zeros = np.zeros_like(Y)
    with_none = loss_and_gradient(X, None, s, w, b, SquaredError())
    with_zeros = loss_and_gradient(X, zeros, s, w, b, SquaredError())
    for got, expected in zip(with_none, with_zeros, strict=True):
        assert_allclose(got, expected, rtol=1e-14)


def test_blocked_evaluation_matches_single_pass():
    """Enough samples to be split into cache blocks: same J and gradients."""
    rng = np.random.default_rng(3)
    n_features, m = 3, 200_000  # 3 * 8 bytes * 200k > 2 MiB -> several blocks
    X = rng.standard_normal((n_features, m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    s = rng.uniform(0.5, 2.0, size=m)
    w = rng.standard_normal((n_features, 1))
    b = np.array([0.3])
    J, grad_w, grad_b = loss_and_gradient(X, Y, s, w, b, BinaryLogistic())
    _, grad_coef, grad_intercept = log_loss_objective_and_gradient(
        X.T, Y[0], w.T, b, C=np.inf, sample_weight=s, classes=[0.0, 1.0])
    # Summation order differs between blocks and one pass: a few ulps times
    # sqrt(m) at most, far below 1e-10 relative.
    assert_allclose(J, reference_cost(X, Y, s, w, b, "binary"), rtol=1e-10)
    assert_allclose(grad_w, grad_coef.T, rtol=1e-10)
    assert_allclose(grad_b, grad_intercept, rtol=1e-10)


# ---------------------------------------------------------------------------
# The note's formulas letter for letter (unit weights).
# ---------------------------------------------------------------------------


def test_linear_regression_matches_the_note():
    rng = np.random.default_rng(10)
    n, m = 4, 25
    X = rng.standard_normal((n, m))  # the note's X: one column per sample
    y = rng.standard_normal((1, m))
    w = rng.standard_normal((n, 1))
    b = 0.7

    h = w.T @ X + b
    J_note = 1.0 / (2 * m) * np.sum((h - y) ** 2)
    grad_w_note = 1.0 / m * X @ (h - y).T
    grad_b_note = 1.0 / m * np.sum(h - y)

    J, grad_w, grad_b = loss_and_gradient(X, y, np.ones(m), w, np.array([b]), SquaredError())
    assert_allclose(J, J_note, rtol=1e-13)
    assert_allclose(grad_w, grad_w_note, rtol=1e-13, atol=1e-15)
    assert_allclose(grad_b, [grad_b_note], rtol=1e-13, atol=1e-15)


def test_logistic_regression_matches_the_note():
    rng = np.random.default_rng(11)
    n, m = 4, 25
    X = rng.standard_normal((n, m))
    y = (rng.random((1, m)) < 0.5).astype(np.float64)
    w = rng.standard_normal((n, 1))
    b = -0.3

    z = w.T @ X + b
    a = 1.0 / (1.0 + np.exp(-z))
    J_note = -1.0 / m * np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    grad_w_note = 1.0 / m * X @ (a - y).T
    grad_b_note = 1.0 / m * np.sum(a - y)

    J, grad_w, grad_b = loss_and_gradient(X, y, np.ones(m), w, np.array([b]), BinaryLogistic())
    # J is computed as softplus(z) - y z instead of the note's logs; the two
    # agree to rounding (~1e-15 relative for these moderate z).
    assert_allclose(J, J_note, rtol=1e-12)
    assert_allclose(grad_w, grad_w_note, rtol=1e-12, atol=1e-15)
    assert_allclose(grad_b, [grad_b_note], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# Integer sample weights are repeated columns.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
def test_integer_weights_equal_repeated_columns(loss_name, k):
    X, Y, _, w, b = make_data(loss_name, k=k, seed=5)
    m = X.shape[1]
    counts = np.random.default_rng(6).integers(0, 4, size=m)
    counts[0] = max(counts[0], 1)
    loss = make_loss(loss_name, k)

    weighted = loss_and_gradient(X, Y, counts.astype(np.float64), w, b, loss)
    repeat = np.repeat(np.arange(m), counts)
    repeated = loss_and_gradient(
        np.ascontiguousarray(X[:, repeat]), Y[:, repeat], np.ones(repeat.size), w, b, loss
    )
    for got, expected in zip(weighted, repeated, strict=True):
        # Same terms summed in a different order.
        assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# The full objective the solvers see, in preconditioned coordinates.
# ---------------------------------------------------------------------------


def _problem_data(loss_name, k, seed=20):
    """sklearn layout (m, n) with correlated features of very different scale
    and offset, so that the preconditioner's centering, scaling and
    decorrelation are all far from the identity."""
    X_note, Y, s, w, b = make_data(loss_name, n_features=4, m=40, k=k, seed=seed)
    mixing = np.array(
        [[1.0, 0.8, 0.0, 0.3], [0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 1.0, -0.7], [0.0, 0.0, 0.0, 1.0]]
    )
    X = (X_note.T @ mixing) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([0.0, 5.0, -2.0, 1.0])
    return np.ascontiguousarray(X), Y, s, w, b


def _independent_objective(X, Y, s, w, b, loss_name, l2_strength):
    """``(1/S) sum s_i l_i + l2/2 ||w||^2`` in the original coordinates."""
    return reference_cost(X.T, Y, s, w, b, loss_name) + l2_strength * elastic_net_penalty(w)


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("precondition", PRECONDITIONERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_problem_smooth_gradient_matches_finite_differences(
    loss_name, k, precondition, fit_intercept
):
    X, Y, s, _, _ = _problem_data(loss_name, k)
    l2_strength = 0.3
    problem, model = build_problem(
        X, ObjectiveSettings(make_loss(loss_name, k), Y, l2_strength, 0.0), s,
        fit_intercept=fit_intercept, precondition=precondition,
    )
    n_rows = X.shape[1] + int(fit_intercept)
    theta = 0.2 * np.random.default_rng(21).standard_normal((n_rows, k))

    value, gradient = problem.smooth(theta)
    assert gradient.shape == theta.shape
    # The test exercises a real change of variables except for "none".
    assert model.preconditioner.is_identity == (precondition == "none")

    # The value is the penalised objective at the original coefficients.
    w, b = model.coefficients(theta)
    if not fit_intercept:
        assert_allclose(b, 0.0)
    assert_allclose(
        value, _independent_objective(X, Y, s, w, b, loss_name, l2_strength), rtol=1e-12
    )

    fd = central_difference(lambda t: problem.smooth(t)[0], theta)
    # FD through the preconditioner: entries of theta are O(1) by
    # construction of the scaling, so the same tolerances apply.
    assert_allclose(gradient, fd, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("loss_name, k", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("precondition", PRECONDITIONERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_coefficients_round_trip(loss_name, k, precondition, fit_intercept):
    X, Y, s, w, b = _problem_data(loss_name, k)
    _, model = build_problem(
        X, ObjectiveSettings(make_loss(loss_name, k), Y, 0.3, 0.0), s,
        fit_intercept=fit_intercept, precondition=precondition,
    )
    if not fit_intercept:
        b = np.zeros_like(b)
    w_back, b_back = model.coefficients(model.initial_theta(w, b))
    # Multiplying and dividing by the scale, adding and subtracting mu.w:
    # a few ulps.
    assert_allclose(w_back, w, rtol=1e-12, atol=1e-14)
    assert_allclose(b_back, b, rtol=1e-12, atol=1e-13)


def test_zero_initial_theta_is_zero_coefficients():
    X, Y, s, _, _ = _problem_data("binary", 1)
    _, model = build_problem(
        X, ObjectiveSettings(BinaryLogistic(), Y, 0.1, 0.0), s,
        fit_intercept=True, precondition="full",
    )
    w, b = model.coefficients(model.initial_theta())
    assert_allclose(w, 0.0)
    assert_allclose(b, 0.0)


# ---------------------------------------------------------------------------
# Numerical stability at huge logits.
# ---------------------------------------------------------------------------


def test_binary_logistic_is_stable_at_large_logits():
    z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]])
    Y = np.array([[1.0, 0.0, 0.0, 1.0]])
    loss, residual = BinaryLogistic().loss_and_residual(z, Y)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(residual))
    # Right with confidence: loss log(1 + e^-1000) = 0 in float64; wrong with
    # confidence: loss |z| = 1000 exactly (softplus limit).
    assert_allclose(loss, [0.0, 0.0, 1000.0, 1000.0], atol=1e-300)
    # a - y: sigmoid(+-1000) is 1 or 0 to the last bit.
    assert_allclose(residual, [[0.0, 0.0, 1.0, -1.0]], atol=1e-300)


def test_multinomial_is_stable_at_large_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [0.0, 0.0, -1000.0]])
    Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    loss, residual = Multinomial(3).loss_and_residual(z, Y)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(residual))
    # l = logsumexp(z) - z_y. Sample 0: right class wins by 1000 -> 0.
    # Sample 1: logsumexp = 1000, z_y = -1000 -> 2000.
    # Sample 2: logsumexp = 1000, z_y = -1000 -> 2000.
    assert_allclose(loss, [0.0, 2000.0, 2000.0], atol=1e-300)
    # A = softmax(z) is one-hot on the winning class to the last bit.
    A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    assert_allclose(residual, A - Y, atol=1e-300)


@pytest.mark.parametrize("loss_name, k", [("binary", 1), ("multinomial", 4)])
def test_loss_and_gradient_finite_at_huge_coefficients(loss_name, k):
    X, Y, s, w, b = make_data(loss_name, k=k, seed=30)
    w = 1e4 * w  # logits of order 1e4: exp overflows in naive formulas
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        J, grad_w, grad_b = loss_and_gradient(X, Y, s, w, b, make_loss(loss_name, k))
    assert np.isfinite(J)
    assert np.all(np.isfinite(grad_w)) and np.all(np.isfinite(grad_b))
    # Residuals are bounded by 1 in absolute value, so is the gradient
    # scaled by max |x|.
    assert np.max(np.abs(grad_b)) <= 1.0
    assert np.max(np.abs(grad_w)) <= np.max(np.abs(X))
