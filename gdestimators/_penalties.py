"""The elastic-net penalty, seen by the solvers as a smooth part and a prox.

.. math::

    P(w) = \\tfrac12 \\lambda_2 \\lVert w \\rVert^2 + \\lambda_1 \\lVert w \\rVert_1

on the coefficients ``w`` (never on the intercept). The smooth L2 part is
differentiated in the original coordinates and follows the data term through
the chain rule of :mod:`._preconditioning`. The L1 part is handled by its
proximal map in the solver's coordinates ``theta``, which must then be
diagonal: ``w_j = d_j v_j`` turns ``lambda_1 |w_j|`` into ``lambda_1 d_j |v_j|``,
so the L1 weight is given per row of ``theta`` (zero on the intercept row).
L2 (ridge) and L1 (lasso) are the two ends. The penalty never sees data.
"""

from typing import Protocol

from ._array_api import namespace


class Penalty(Protocol):
    """What solvers may ask of a penalty ``P = smooth part + nonsmooth part``.

    The smooth part is a function of the coefficients ``w`` in the original
    coordinates; the nonsmooth part (L1) is handled in the solver's
    coordinates ``theta`` by its proximal map.
    """

    #: Strength of the smooth quadratic part, ``lambda_2 / 2 ||w||^2``.
    l2_strength: float
    #: Whether there is a nonsmooth part (then only proximal steps apply).
    has_l1: bool

    def smooth_value_and_gradient(self, w):
        """Value and gradient (in ``w``) of the smooth part."""

    def nonsmooth_value(self, theta):
        """Value of the nonsmooth part at ``theta``."""

    def prox(self, theta, step):
        """Proximal map of ``step`` times the nonsmooth part."""

    def optimality_violation(self, theta, smooth_gradient):
        """Minimal-norm subgradient of the whole objective, entry by entry."""


class ElasticNet:
    """Elastic-net penalty: L2 strength on ``w``, per-row L1 weights on ``theta``.

    Parameters
    ----------
    l2_strength : float
        :math:`\\lambda_2 \\ge 0`.
    l1_weights : array of shape (n_rows,)
        :math:`\\lambda_1 d_j \\ge 0` for each row of ``theta``, in the
        namespace and on the device of ``theta``.
    """

    def __init__(self, l2_strength, l1_weights):
        self.l2_strength = float(l2_strength)
        self.l1_weights = l1_weights[:, None]
        self.has_l1 = bool(namespace(l1_weights).any(l1_weights > 0))

    def smooth_value_and_gradient(self, w):
        """Value (a 0-d array, or 0.0) and gradient (in ``w``) of the L2 part."""
        if self.l2_strength == 0.0:
            return 0.0, 0.0
        xp = namespace(w)
        return 0.5 * self.l2_strength * xp.sum(w * w), self.l2_strength * w

    def nonsmooth_value(self, theta):
        """Value of the L1 part (a 0-d array, or 0.0 without L1)."""
        if not self.has_l1:
            return 0.0
        xp = namespace(theta)
        return xp.sum(self.l1_weights * xp.abs(theta))

    def prox(self, theta, step):
        """Proximal map of ``step`` times the L1 part: soft thresholding.

        Exact zeros come out here, which is why the L1 part is never
        approximated by a smooth function.
        """
        if not self.has_l1:
            return theta
        xp = namespace(theta)
        threshold = step * self.l1_weights
        return xp.sign(theta) * xp.clip(xp.abs(theta) - threshold, min=0)

    def optimality_violation(self, theta, smooth_gradient):
        """Minimal-norm subgradient of the full objective, entry by entry.

        It is zero exactly at the minimiser and does not depend on a step
        size: ``g + l1 sign(theta)`` where ``theta != 0``, and the part of
        ``|g|`` beyond ``l1`` where ``theta == 0``.
        """
        if not self.has_l1:
            return smooth_gradient
        xp = namespace(theta)
        at_zero = xp.sign(smooth_gradient) * xp.clip(
            xp.abs(smooth_gradient) - self.l1_weights, min=0
        )
        away = smooth_gradient + self.l1_weights * xp.sign(theta)
        return xp.where(theta == 0, at_zero, away)
