"""Assemble a solver's :class:`~._solvers.Problem` from data, loss and penalty.

This is where the note's objective (:mod:`._objectives`), the change of
variables (:mod:`._preconditioning`) and the penalty (:mod:`._penalties`) meet.
The parameters live in one array ``theta`` of shape ``(n_features [+ 1], k)``:
one row per feature, plus a last row for the intercept when it is fitted.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import array_device as _device
from ._array_api import from_numpy, namespace, numpy_float_dtype, to_numpy
from ._objectives import SquaredError
from ._penalties import ElasticNet
from ._preconditioning import Preconditioner, make_preconditioner, resolve_kind
from ._samples import make_samples
from ._solvers import Problem, largest_eigenvalue


@dataclass
class LinearModelProblem:
    """The objective of a linear model in the solver's coordinates.

    ``F(theta) = (1/S) sum_i s_i l(w^T x_i + b, y_i) + P(w)`` with
    ``(w, b) = preconditioner.to_original(theta)``.
    """

    samples: object
    loss: object
    preconditioner: Preconditioner
    penalty: ElasticNet
    fit_intercept: bool
    n_outputs: int

    @property
    def n_rows(self):
        """Rows of ``theta``: one per feature, plus one for the intercept."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_features(self):
        """Number of features."""
        return self.samples.n_features

    def coefficients(self, theta):
        """``(w, b)`` in the original coordinates."""
        return self.preconditioner.to_original(theta, self.fit_intercept)

    def initial_theta(self, coef=None, intercept=None):
        """Zeros, or the given ``(coef, intercept)`` (warm start).

        ``coef`` of shape ``(n_features, k)`` and ``intercept`` of shape
        ``(k,)`` may be numpy arrays or arrays of the data's namespace.
        """
        like = self.preconditioner.scale
        xp = namespace(like)
        if coef is None:
            return xp.zeros((self.n_rows, self.n_outputs), dtype=like.dtype,
                            device=_device(like))
        coef, intercept = (
            xp.astype(xp.asarray(array, device=_device(like)), like.dtype)
            for array in (coef, intercept)
        )
        return self.preconditioner.from_original(coef, intercept, self.fit_intercept)

    def smooth(self, theta):
        """Data term plus the L2 part of the penalty, and its gradient."""
        w, b = self.coefficients(theta)
        J, grad_w, grad_b = self.samples.loss_and_gradient(w, b, self.loss)
        penalty_value, penalty_gradient = self.penalty.smooth_value_and_gradient(w)
        gradient = self.preconditioner.gradient_to_scaled(
            grad_w + penalty_gradient, grad_b, self.fit_intercept
        )
        return J + penalty_value, gradient

    def curvature_bound_matvec(self, theta):
        """Product with the bound ``kappa A^T diag(s/S) A + lambda_2 E`` on the Hessian.

        ``A`` is the design matrix in the solver's coordinates and ``E``
        selects the coefficients. The first term is the gradient of the
        squared loss with zero targets: the note's formulas once more.
        """
        w, b = self.coefficients(theta)
        _, grad_w, grad_b = self.samples.loss_and_gradient(
            w, b, SquaredError(), with_targets=False
        )
        kappa = self.loss.curvature
        return self.preconditioner.gradient_to_scaled(
            kappa * grad_w + self.penalty.l2_strength * w, kappa * grad_b,
            self.fit_intercept,
        )

    def lipschitz(self, n_iter=30):
        """Estimate of the Lipschitz constant of the smooth gradient."""
        top = largest_eigenvalue(
            self.curvature_bound_matvec, self.initial_theta()[:, :1], n_iter
        )
        # The power iteration approaches from below; a small margin keeps
        # the fixed 1/L step of plain gradient descent safely below 2/L.
        return 1.05 * top


def build_problem(
    X, Y, sample_weight, loss, *, l2_strength, l1_strength, fit_intercept,
    precondition, gradient_scale=1.0, preconditioner=None,
):
    """Make the :class:`~._solvers.Problem` a solver minimises.

    Parameters
    ----------
    X : ndarray, sparse matrix or dask array of shape (m, n_features)
        Validated data (scikit-learn's layout; used through ``X.T``, or
        chunk by chunk for a dask array).
    Y : ndarray of shape (k, m)
        Targets, one row per output (one-hot rows for the softmax loss).
    sample_weight : ndarray of shape (m,)
        Non-negative weights with a positive sum.
    loss : SquaredError, BinaryLogistic or Multinomial
        The per-sample loss.
    l2_strength, l1_strength : float
        Penalty ``l2/2 ||w||^2 + l1 ||w||_1`` of the mean-form objective.
    fit_intercept : bool
        Whether the last row of ``theta`` is the intercept.
    precondition : {"auto", "full", "diagonal", "none"}
        The change of variables (same minimiser, faster path).
    gradient_scale : float
        See :class:`~._solvers.Problem`.
    preconditioner : Preconditioner, default=None
        Reuse this change of variables (``partial_fit`` keeps the first
        batch's) instead of computing one from ``X``.

    Returns
    -------
    problem : Problem
        What the solvers see.
    model : LinearModelProblem
        Maps ``theta`` to coefficients and back.
    """
    samples = make_samples(X, Y, sample_weight)
    if preconditioner is None:
        preconditioner = make_preconditioner(
            samples, fit_intercept=fit_intercept, curvature=loss.curvature,
            l2_strength=l2_strength,
            kind=resolve_kind(precondition, X.shape[1], l1_strength > 0),
        )
    l1_weights = l1_strength * np.asarray(to_numpy(preconditioner.scale), dtype=np.float64)
    if fit_intercept:
        l1_weights = np.append(l1_weights, 0.0)
    like = samples.like
    penalty = ElasticNet(
        l2_strength, from_numpy(l1_weights.astype(numpy_float_dtype(like)), like)
    )
    model = LinearModelProblem(
        samples, loss, preconditioner, penalty, fit_intercept, Y.shape[0]
    )
    problem = Problem(
        model.smooth, penalty, model.lipschitz, gradient_scale,
        unit_diagonal=not preconditioner.is_identity,
    )
    return problem, model
