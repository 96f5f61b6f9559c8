"""``ElasticNet`` of :mod:`gdestimators._penalties`, piece by piece, against values by hand.

The penalty is seen by the solvers in their coordinates ``theta``: one row per
coefficient plus, with an intercept, a last row whose L1 weight is zero. The
values below are small enough to check on paper; each comment gives the
arithmetic. Exact zeros of the prox are compared with ``==``: the solvers'
sparsity comes from them.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gdestimators._penalties import ElasticNet

# Two coefficient rows with L1 weights 0.5 and 2, and the intercept row (0).
L1_WEIGHTS = np.array([0.5, 2.0, 0.0])
THETA = np.array([
    [1.5, -0.2],
    [-3.0, 1.0],
    [0.7, -0.1],
])


def test_prox_is_soft_thresholding_per_row():
    penalty = ElasticNet(0.0, L1_WEIGHTS)
    assert penalty.has_l1
    # Step 1: thresholds 0.5, 2 and 0 by row. 1.5 -> 1.0; |-0.2| < 0.5 -> 0;
    # -3 -> -1; |1| < 2 -> 0; the intercept row is left as it is.
    assert_array_equal(penalty.prox(THETA, 1.0), [[1.0, 0.0], [-1.0, 0.0], [0.7, -0.1]])
    # Step 0.5: thresholds 0.25, 1 and 0. 1.5 -> 1.25; -3 -> -2; |1| = 1 -> 0.
    assert_array_equal(penalty.prox(THETA, 0.5), [[1.25, 0.0], [-2.0, 0.0], [0.7, -0.1]])
    # Step 0 changes nothing.
    assert_array_equal(penalty.prox(THETA, 0.0), THETA)


def test_prox_zeros_are_exact_and_input_is_kept():
    penalty = ElasticNet(0.0, L1_WEIGHTS)
    theta = THETA.copy()
    out = penalty.prox(theta, 1.0)
    assert out[0, 1] == 0.0 and out[1, 1] == 0.0
    assert np.count_nonzero(out) == 4
    assert_array_equal(theta, THETA)  # not modified in place


def test_prox_without_l1_is_the_identity():
    penalty = ElasticNet(0.3, np.zeros(3))
    assert not penalty.has_l1
    assert_array_equal(penalty.prox(THETA, 1.0), THETA)


def test_nonsmooth_value():
    # 0.5 (1.5 + 0.2) + 2 (3 + 1) + 0 (0.7 + 0.1) = 0.85 + 8 = 8.85.
    assert ElasticNet(0.0, L1_WEIGHTS).nonsmooth_value(THETA) == pytest.approx(8.85, rel=1e-15)
    assert ElasticNet(0.0, np.zeros(3)).nonsmooth_value(THETA) == 0.0


def test_smooth_value_and_gradient():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    value, gradient = ElasticNet(0.5, L1_WEIGHTS).smooth_value_and_gradient(w)
    # 0.5 / 2 (1 + 4 + 0 + 9) = 3.5, gradient 0.5 w.
    assert float(value) == pytest.approx(3.5, rel=1e-15)
    assert_allclose(gradient, [[0.5, -1.0], [0.0, 1.5]], rtol=1e-15)
    # No L2 part: value and gradient are 0 (the L1 weights do not enter).
    value, gradient = ElasticNet(0.0, L1_WEIGHTS).smooth_value_and_gradient(w)
    assert value == 0.0 and np.all(gradient == 0.0)


def test_optimality_violation_is_zero_at_a_hand_made_optimum():
    """Each kind of entry at its optimality condition:

    * theta != 0: g = -l1 sign(theta) (1 with l1 = 0.5: g = -0.5; -1 with
      l1 = 2: g = 2; intercept row, l1 = 0: g = 0);
    * theta == 0: |g| <= l1, strictly inside (0.3 < 0.5), at the threshold
      (|-2| = 2) and with l1 = 0 (g = 0).
    """
    penalty = ElasticNet(0.0, L1_WEIGHTS)
    theta = np.array([[1.0, 0.0], [0.0, -1.0], [0.3, 0.0]])
    gradient = np.array([[-0.5, 0.3], [-2.0, 2.0], [0.0, 0.0]])
    assert_array_equal(penalty.optimality_violation(theta, gradient), np.zeros((3, 2)))


def test_optimality_violation_away_from_the_optimum():
    penalty = ElasticNet(0.0, L1_WEIGHTS)
    theta = np.array([[1.0, 0.0], [0.0, -1.0], [0.3, 0.0]])
    gradient = np.array([[0.25, -0.8], [2.5, -1.0], [0.4, -0.2]])
    expected = [
        # theta = 1: 0.25 + 0.5 = 0.75; theta = 0, |-0.8| > 0.5: -(0.8 - 0.5).
        [0.75, -0.3],
        # theta = 0, 2.5 > 2: 2.5 - 2; theta = -1: -1 + 2 (-1) = -3.
        [0.5, -3.0],
        # The intercept row (no L1): the gradient itself, at 0 or not.
        [0.4, -0.2],
    ]
    assert_allclose(penalty.optimality_violation(theta, gradient), expected, rtol=1e-15)
    # Without L1 the violation is the smooth gradient.
    assert_array_equal(ElasticNet(0.3, np.zeros(3)).optimality_violation(theta, gradient),
                       gradient)


def test_optimality_violation_vanishes_at_the_prox_minimiser():
    """``0.5 ||theta - c||^2 + sum l1 |theta|`` is minimised by ``prox(c, 1)``;
    its smooth gradient there is ``theta - c``, and the violation is 0."""
    penalty = ElasticNet(0.0, L1_WEIGHTS)
    minimiser = penalty.prox(THETA, 1.0)
    assert_allclose(penalty.optimality_violation(minimiser, minimiser - THETA), 0.0,
                    atol=1e-15)
    # Anywhere else it is not: here the unthresholded point.
    assert np.max(np.abs(penalty.optimality_violation(THETA, np.zeros_like(THETA)))) == 2.0
