"""Assemble a solver's :class:`~._solvers.Problem` from data, loss and penalty.

This is where the gradient formulas (:mod:`._objectives`), the per-sample
loss (:mod:`._losses`), the change of variables (:mod:`._preconditioning`)
and the penalty (:mod:`._penalties`) meet. The parameters live in one array
``theta`` of shape ``(n_features [+ 1], k)``: one row per feature, plus a
last row for the intercept when it is fitted.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import array_device as _device
from ._array_api import from_numpy, namespace, numpy_float_dtype, to_numpy
from ._losses import SquaredError
from ._penalties import ElasticNet
from ._preconditioning import Preconditioner, make_preconditioner, resolve_kind
from ._samples import make_samples
from ._solvers import Problem, largest_eigenvalue


@dataclass(frozen=True)
class ObjectiveSettings:
    """The objective an estimator asks to minimise, in the solvers' mean form.

    ``F(w, b) = (1/S) sum_i s_i l(w^T x_i + b, y_i) + l2/2 ||w||^2 + l1 ||w||_1``,
    where ``y_i`` are the columns of ``targets`` and ``l`` is ``loss``.

    Attributes
    ----------
    loss : Loss
        The per-sample loss (:mod:`._losses`).
    targets : array of shape (k, m)
        The rows ``Y`` the loss reads (encoded by the loss), in the data's
        namespace and dtype; divided by ``output_scale``.
    l2_strength, l1_strength : float
        The penalty's strengths in the mean form (``l1`` already divided by
        ``output_scale``).
    gradient_scale : float, default=1.0
        Divides the stop test's gradient (the spread of the targets for
        least squares), making ``tol`` unit-free.
    output_scale : float, default=1.0
        The targets were divided by it: the solution is multiplied by it,
        and objective values by its square, to come back to user units.
    """

    loss: object
    targets: object
    l2_strength: float
    l1_strength: float
    gradient_scale: float = 1.0
    output_scale: float = 1.0


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
    output_scale: float = 1.0

    @property
    def n_rows(self):
        """Rows of ``theta``: one per feature, plus one for the intercept."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_features(self):
        """Number of features."""
        return self.samples.n_features

    def coefficients(self, theta):
        """``(w, b)`` in the original coordinates and the user's units."""
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        return w * self.output_scale, b * self.output_scale

    def initial_theta(self, coef=None, intercept=None):
        """Zeros, or the given ``(coef, intercept)`` in the solver's units.

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

    def start(self, previous=None):
        """Where a fit starts: ``previous`` ``(w, b)`` (user units) if given.

        Otherwise the coefficients are zero and the intercept is the loss's
        best one for zero coefficients (exact for least squares with
        centering), which saves the iterations otherwise spent finding the
        mean.
        """
        if previous is not None:
            return self.initial_theta(*(array / self.output_scale for array in previous))
        theta = self.initial_theta()
        if not self.fit_intercept:
            return theta
        intercept = self.loss.intercept_only(self.samples.Y, self.samples.sample_weight)
        if intercept is None:
            return theta
        coef = namespace(theta).zeros_like(theta[: self.n_features, ...])
        return self.initial_theta(coef, intercept)

    def smooth(self, theta):
        """Data term plus the L2 part of the penalty, and its gradient."""
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
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
        squared loss with zero targets: the same formulas once more.
        """
        w, b = self.preconditioner.to_original(theta, self.fit_intercept)
        _, grad_w, grad_b = self.samples.loss_and_gradient(
            w, b, SquaredError(), with_targets=False
        )
        kappa = self.loss.curvature_bound
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


def build_problem(X, settings, sample_weight, *, fit_intercept, precondition,
                  preconditioner=None):
    """Make the :class:`~._solvers.Problem` a solver minimises.

    Parameters
    ----------
    X : ndarray, sparse matrix or dask array of shape (m, n_features)
        Validated data (scikit-learn's layout; used through ``X.T``, or
        chunk by chunk for a dask array).
    settings : ObjectiveSettings
        The loss, targets and penalty.
    sample_weight : ndarray of shape (m,)
        Non-negative weights with a positive sum.
    fit_intercept : bool
        Whether the last row of ``theta`` is the intercept.
    precondition : {"auto", "full", "diagonal", "none"}
        The change of variables (same minimiser, faster path).
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
    Y, loss = settings.targets, settings.loss
    samples = make_samples(X, Y, sample_weight)
    if preconditioner is None:
        preconditioner = make_preconditioner(
            samples, fit_intercept=fit_intercept, curvature=loss.curvature_bound,
            l2_strength=settings.l2_strength,
            kind=resolve_kind(precondition, X.shape[1], settings.l1_strength > 0),
        )
    l1_weights = settings.l1_strength * np.asarray(
        to_numpy(preconditioner.scale), dtype=np.float64
    )
    if fit_intercept:
        l1_weights = np.append(l1_weights, 0.0)
    like = samples.like
    penalty = ElasticNet(
        settings.l2_strength,
        from_numpy(l1_weights.astype(numpy_float_dtype(like)), like),
    )
    model = LinearModelProblem(
        samples, loss, preconditioner, penalty, fit_intercept, Y.shape[0],
        settings.output_scale,
    )
    problem = Problem(
        model.smooth, penalty, model.lipschitz, settings.gradient_scale,
        unit_diagonal=not preconditioner.is_identity,
        output_scale=settings.output_scale,
    )
    return problem, model
