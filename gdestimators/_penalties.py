"""The elastic-net penalty, seen by the solvers as a smooth part and a prox.

.. math::

    P(\\theta) = \\sum_j \\tfrac12 \\lambda_{2,j} \\theta_j^2 + \\lambda_{1,j} |\\theta_j|

with one weight per row of the parameter array ``theta`` (a row is a feature,
the last row may be the intercept, whose weights are zero: the intercept is
never penalised). Per-row weights let the same object serve in the scaled
coordinates of :mod:`._preconditioning`, where ``w_j = d_j v_j`` turns
``lambda_2 w_j^2`` into ``lambda_2 d_j^2 v_j^2`` and ``lambda_1 |w_j|`` into
``lambda_1 d_j |v_j|``. L2 (ridge) and L1 (lasso) are the two ends.
The penalty never sees data.
"""

import numpy as np


class ElasticNet:
    """Separable elastic-net penalty with per-row weights.

    Parameters
    ----------
    l2_weights : ndarray of shape (n_rows,)
        :math:`\\lambda_{2,j} \\ge 0`.
    l1_weights : ndarray of shape (n_rows,)
        :math:`\\lambda_{1,j} \\ge 0`.
    """

    def __init__(self, l2_weights, l1_weights):
        self.l2_weights = l2_weights[:, None]
        self.l1_weights = l1_weights[:, None]
        self.has_l1 = bool(np.any(l1_weights > 0))
        self.max_l2 = float(np.max(l2_weights, initial=0.0))

    def smooth_value_and_gradient(self, theta):
        """Value and gradient of the differentiable (L2) part."""
        weighted = self.l2_weights * theta
        return 0.5 * float(np.sum(weighted * theta)), weighted

    def nonsmooth_value(self, theta):
        """Value of the L1 part."""
        if not self.has_l1:
            return 0.0
        return float(np.sum(self.l1_weights * np.abs(theta)))

    def prox(self, theta, step):
        """Proximal map of ``step`` times the L1 part: soft thresholding.

        Exact zeros come out here, which is why the L1 part is never
        approximated by a smooth function.
        """
        if not self.has_l1:
            return theta
        threshold = step * self.l1_weights
        return np.sign(theta) * np.maximum(np.abs(theta) - threshold, 0.0)

    def optimality_violation(self, theta, smooth_gradient):
        """Minimal-norm subgradient of the full objective, entry by entry.

        It is zero exactly at the minimiser and does not depend on a step
        size: ``g + l1 sign(theta)`` where ``theta != 0``, and the part of
        ``|g|`` beyond ``l1`` where ``theta == 0``.
        """
        if not self.has_l1:
            return smooth_gradient
        at_zero = np.sign(smooth_gradient) * np.maximum(
            np.abs(smooth_gradient) - self.l1_weights, 0.0
        )
        away = smooth_gradient + self.l1_weights * np.sign(theta)
        return np.where(theta == 0, at_zero, away)
