"""Assemble a solver's :class:`~._solvers.Problem` from data, loss and penalty.

This is where the note's objective (:mod:`._objectives`), the change of
variables (:mod:`._preconditioning`) and the penalty (:mod:`._penalties`) meet.
The parameters live in one array ``theta`` of shape ``(n_features [+ 1], k)``:
one row per feature, plus a last row for the intercept when it is fitted.
"""

from dataclasses import dataclass

import numpy as np

from ._objectives import SquaredError, loss_and_gradient
from ._penalties import ElasticNet
from ._preconditioning import Preconditioner, jacobi_preconditioner
from ._solvers import Problem, largest_eigenvalue


@dataclass
class LinearModelProblem:
    """The objective of a linear model in the solver's coordinates.

    ``F(theta) = (1/S) sum_i s_i l(w^T x_i + b, y_i) + P(w)`` with
    ``(w, b) = preconditioner.to_original(theta)``.
    """

    XT: object
    Y: object
    sample_weight: np.ndarray
    loss: object
    preconditioner: Preconditioner
    penalty: ElasticNet
    fit_intercept: bool
    n_outputs: int

    def coefficients(self, theta):
        """``(w, b)`` in the original coordinates."""
        return self.preconditioner.to_original(theta, self.fit_intercept)

    def initial_theta(self, coef=None, intercept=None):
        """Zeros, or the given ``(coef, intercept)`` (warm start)."""
        n_rows = self.XT.shape[0] + int(self.fit_intercept)
        dtype = self.preconditioner.scale.dtype
        if coef is None:
            return np.zeros((n_rows, self.n_outputs), dtype=dtype)
        return self.preconditioner.from_original(
            np.asarray(coef, dtype=dtype), np.asarray(intercept, dtype=dtype),
            self.fit_intercept,
        ).astype(dtype)

    def _value_and_gradient(self, theta, loss, Y):
        w, b = self.coefficients(theta)
        J, grad_w, grad_b = loss_and_gradient(self.XT, Y, self.sample_weight, w, b, loss)
        gradient = self.preconditioner.gradient_to_scaled(grad_w, grad_b, self.fit_intercept)
        return J, gradient

    def smooth(self, theta):
        """Data term plus the L2 part of the penalty, and its gradient."""
        J, gradient = self._value_and_gradient(theta, self.loss, self.Y)
        penalty_value, penalty_gradient = self.penalty.smooth_value_and_gradient(theta)
        return J + penalty_value, gradient + penalty_gradient

    def gram_matvec(self, theta):
        """Product with ``A^T diag(s/S) A``, ``A`` the (scaled) design matrix.

        The Hessian of the squared loss with zero targets, so it is the
        gradient of that objective: the note's formulas once more.
        """
        return self._value_and_gradient(theta, SquaredError(), None)[1]

    def lipschitz(self, n_iter=30):
        """Estimate of the Lipschitz constant of the smooth gradient."""
        n_rows = self.XT.shape[0] + int(self.fit_intercept)
        dtype = self.preconditioner.scale.dtype
        top = largest_eigenvalue(self.gram_matvec, (n_rows, 1), dtype, n_iter)
        # The power iteration approaches from below; a small margin keeps
        # the fixed 1/L step of plain gradient descent safely below 2/L.
        return 1.05 * self.loss.curvature * top + self.penalty.max_l2


def build_problem(
    X, Y, sample_weight, loss, *, l2_strength, l1_strength, fit_intercept,
    precondition, gradient_scale=1.0,
):
    """Make the :class:`~._solvers.Problem` a solver minimises.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, n_features)
        Validated data (scikit-learn's layout; used through ``X.T``).
    Y : ndarray of shape (k, m)
        Targets, one row per output (one-hot rows for the softmax loss).
    sample_weight : ndarray of shape (m,)
    loss : SquaredError, BinaryLogistic or Multinomial
    l2_strength, l1_strength : float
        Penalty ``l2/2 ||w||^2 + l1 ||w||_1`` of the mean-form objective.
    fit_intercept : bool
    precondition : bool
        Centre and scale the coordinates (same minimiser, faster path).
    gradient_scale : float
        See :class:`~._solvers.Problem`.

    Returns
    -------
    problem : Problem
        What the solvers see.
    model : LinearModelProblem
        Maps ``theta`` to coefficients and back.
    """
    n_features = X.shape[1]
    dtype = X.dtype
    if precondition:
        preconditioner = jacobi_preconditioner(
            X, sample_weight, fit_intercept, loss.curvature, l2_strength, dtype
        )
    else:
        preconditioner = Preconditioner.identity(n_features, dtype)
    feature_scale = preconditioner.scale.astype(np.float64)
    l2_weights = l2_strength * feature_scale**2
    l1_weights = l1_strength * feature_scale
    if fit_intercept:
        l2_weights = np.append(l2_weights, 0.0)
        l1_weights = np.append(l1_weights, 0.0)
    penalty = ElasticNet(l2_weights.astype(dtype), l1_weights.astype(dtype))
    model = LinearModelProblem(
        X.T, Y, sample_weight, loss, preconditioner, penalty, fit_intercept, Y.shape[0]
    )
    problem = Problem(
        model.smooth, penalty, model.lipschitz, gradient_scale, unit_diagonal=precondition
    )
    return problem, model
