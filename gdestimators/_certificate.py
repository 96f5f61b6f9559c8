"""How far from the optimum a fit is: a bound on ``F(w, b) - min F`` it can prove.

With a penalty, the bound is a duality gap. Write the mean-form objective as

.. math::

    F(w, b) = \\frac{1}{S} \\sum_i s_i \\, l(z_i) + h(w), \\qquad
    h(w) = \\tfrac{\\lambda_2}{2} \\lVert w \\rVert^2 + \\lambda_1 \\lVert w \\rVert_1,

with ``z_i = w^T x_i + b``. For any dual variables ``alpha_i`` with
``sum_i s_i alpha_i = 0`` (the intercept is free), the Fenchel–Young
inequality applied to ``l`` and to ``h`` gives

.. math::

    F(w, b) - \\min F \\le \\frac{1}{S} \\sum_i s_i \\big[l(z_i) + l^*(u_i) - u_i^T z_i\\big]
        + \\sum_j \\big[h_j(w_j) + h_j^*(V_j) - w_j^T V_j\\big],

with ``u_i = -alpha_i`` and ``V = (1/S) sum_i s_i x_i alpha_i^T``; both sums
are of non-negative terms, so the bound is computed without cancellation.
The dual point is taken from the fit itself: ``u_i = t r_i``, the residuals
``r_i = dl/dz_i`` scaled by ``t <= 1`` (``t < 1`` only for a pure L1 penalty,
to keep ``V`` feasible: ``|V_j| <= lambda_1``). The constraint
``sum_i s_i r_i = 0`` is the intercept's optimality, so the intercept is first
moved to its best value for the current ``w`` (a few Newton steps on the
logits, no pass over ``X``): the bound is certified for that point, whose
objective is no larger. With ``lambda_2 > 0`` and ``t = 1`` the loss terms
vanish (Fenchel's equality) and the bound is ``|grad_w F|^2 / (2 lambda_2)``
at the shifted intercept, the strong-convexity bound.

Without any penalty no dual point is feasible, and no bound exists for the
logistic loss (the optimum may be at infinity). The gap of the quadratic
model, half the squared Newton decrement ``g^T H^+ g / 2``, is then what the
stop test uses: exact for least squares, an estimate near the optimum for
the logistic loss.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import from_numpy, namespace, numpy_float_dtype, read_scalars, to_numpy


@dataclass
class Certificate:
    """What a certificate proves about a point.

    Attributes
    ----------
    gap : float
        Upper bound on ``F - min F`` at ``theta`` (solver units); for an
        unpenalised objective, the quadratic model's gap.
    objective : float
        ``F`` at ``theta``.
    theta : array
        The certified point: the fit's, with the intercept moved to its best
        value for the coefficients.
    kind : str
        ``"duality gap"`` or ``"Newton decrement"``.
    rounding : float
        How far floating-point rounding may have moved ``gap`` in its own
        evaluation: a gap below it is at the precision limit of the working
        dtype.
    gradient_rounding : callable or None
        ``() -> float``: how far the rounding of the gradient the gap is
        computed from may move it (an estimate that may cost a pass over the
        data, so it is evaluated only when asked).
    """

    gap: float
    objective: float
    theta: object
    kind: str
    rounding: float = 0.0
    gradient_rounding: object = None

    def at_precision_limit(self):
        """Whether ``gap`` is within what rounding can account for."""
        if self.gap <= self.rounding:
            return True
        extra = 0.0 if self.gradient_rounding is None else self.gradient_rounding()
        return self.gap <= self.rounding + extra


#: Rounding of a sum of non-negative terms, in ulps of their total size.
SUM_ROUNDING_ULPS = 16
#: A predicted decrease below this many ulps of the loss is lost in the
#: rounding of its value.
_UNRESOLVED_ULPS = 4
_FLOAT64_EPS = float(np.finfo(np.float64).eps)
#: Newton steps on the intercept shift, at most.
_MAX_SHIFT_STEPS = 50


def optimal_intercept_shift(shift_sums, n_outputs, shift_invariant=False, eps=_FLOAT64_EPS):
    """The shift ``delta`` of all logits that minimises the weighted loss.

    Parameters
    ----------
    shift_sums : callable
        ``delta (numpy, (k,)) -> (sum_i s_i l(z_i + delta), sum_i s_i r_i,
        sum_i s_i d^2 l/dz^2)`` as numpy float64 (scalar, ``(k,)``,
        ``(k, k)``).
    n_outputs : int
        ``k``.
    shift_invariant : bool, default=False
        Whether the loss ignores a shift common to all outputs (softmax):
        steps are then kept free of such shifts, which the curvature, singular
        along them, would otherwise take from rounding errors.
    eps : float, default=float64's machine epsilon
        The working precision's, in which the sums are computed.

    Returns
    -------
    delta : ndarray of shape (k,)
        Where the weighted residuals sum to zero (to rounding): Newton steps,
        least-norm where the curvature is singular (softmax logits are free
        to shift together), halved while they raise the objective. Near the
        solution, objective values no longer resolve the progress, and a
        step is taken while it shrinks the residual sum.
    """
    delta = np.zeros(n_outputs)
    value, gradient, curvature = shift_sums(delta)
    for _ in range(_MAX_SHIFT_STEPS):
        step = -np.linalg.lstsq(curvature, gradient, rcond=None)[0]
        if shift_invariant:
            step = step - np.mean(step)
        slope = float(gradient @ step)
        if not slope < 0:
            break
        if -slope <= _UNRESOLVED_ULPS * eps * abs(value):
            # Objective values no longer resolve the decrease: the model is
            # exact to rounding here, so one full step, kept if the residual
            # sum shrinks, ends the search.
            trial = delta + step
            trial_value, trial_gradient, _ = shift_sums(trial)
            if np.abs(trial_gradient).max() < np.abs(gradient).max():
                delta = trial
            break
        size = 1.0
        while size >= 1e-10:
            trial = delta + size * step
            trial_value, trial_gradient, trial_curvature = shift_sums(trial)
            decreases = trial_value <= value + 1e-4 * size * slope
            ties = trial_value <= value + 1e-13 * abs(value)
            if decreases or (ties and np.abs(trial_gradient).max() < np.abs(gradient).max()):
                break
            size *= 0.5
        else:
            break
        delta, value, gradient, curvature = trial, trial_value, trial_gradient, trial_curvature
    return delta


def shift_sums(samples, z, delta, loss):
    """The intercept shift's objective, gradient and Hessian at ``delta``.

    Sums over samples, from the kept logits ``z`` (no pass over ``X``):
    ``sum_i s_i l(z_i + delta)``, ``sum_i s_i r_i`` and
    ``sum_i s_i d^2 l/dz^2``, as numpy float64 (scalar, ``(k,)``, ``(k, k)``).
    """

    def sums(z, Y, s):
        xp = namespace(z)
        z = z + xp.astype(from_numpy(delta, like=z), z.dtype)[:, None]
        per_sample, residual = loss.loss_and_residual(z, Y)
        diagonal, low_rank = loss.curvature(z)
        if low_rank is None:
            coupling = xp.zeros((z.shape[0], z.shape[0]), dtype=z.dtype)
        else:
            coupling = (low_rank * s) @ low_rank.T
        return xp.sum(per_sample * s), residual @ s, diagonal @ s, coupling

    value, residual_sum, diagonal, coupling = (
        np.asarray(to_numpy(total), dtype=np.float64)
        for total in samples.reduce_logits(z, sums)
    )
    k = residual_sum.shape[0]
    curvature = np.diag(np.broadcast_to(diagonal, (k,))) - coupling
    return float(value), residual_sum, curvature


def _elastic_net_fenchel_young(w, V, l1, l2):
    """``sum_j h(w_j) + h^*(V_j) - w_j V_j`` for ``h(x) = l2/2 x^2 + l1 |x|``.

    Each term is written as a sum of non-negative parts, so that near the
    optimum (``V_j`` a subgradient of ``h`` at ``w_j``) it is computed
    without cancelling large products:

    * ``w_j = 0``: ``h^*(V_j) = (|V_j| - l1)_+^2 / (2 l2)`` (0 if ``l2 = 0``);
    * ``V_j`` of the sign of ``w_j`` beyond ``l1``: ``(|V_j| - l1 - l2 |w_j|)^2 / (2 l2)``;
    * otherwise: ``l2/2 w_j^2 + |w_j| (l1 - sign(w_j) V_j) + h^*(V_j)``.

    Returns the sum and the sum of the magnitudes of the parts, whose
    rounding error bounds that of the sum (both 0-d arrays).
    """
    xp = namespace(w)
    magnitude = xp.abs(V)
    aligned = xp.sign(V) * xp.sign(w)
    beyond = magnitude - l1
    if l2 > 0:
        conjugate = xp.clip(beyond, min=0) ** 2 / (2.0 * l2)
        square = (beyond - l2 * xp.abs(w)) ** 2 / (2.0 * l2)
        at_subgradient = (w != 0) & (aligned > 0) & (beyond >= 0)
    else:
        conjugate = xp.zeros_like(V)
        square = xp.zeros_like(V)
        at_subgradient = xp.zeros_like(V) != 0
    general = 0.5 * l2 * w * w + xp.abs(w) * (l1 - xp.sign(w) * V) + conjugate
    terms = xp.where(w == 0, conjugate, xp.where(at_subgradient, square, general))
    size = 0.5 * l2 * w * w + xp.abs(w) * (l1 + magnitude) + conjugate
    return xp.sum(terms), xp.sum(size)


def duality_gap(gradient_w, w, *, l1, l2, loss_gap_at, intercept_residual=0.0):
    """The duality gap at coefficients ``w`` whose intercept is optimal.

    Parameters
    ----------
    gradient_w : array of shape (n_features, k)
        ``(1/S) X diag(s) R^T``: the data term's gradient in ``w``.
    w : array of shape (n_features, k)
        Coefficients.
    l1, l2 : float
        The penalty ``l2/2 ||w||^2 + l1 ||w||_1``; not both zero.
    loss_gap_at : callable
        ``t -> (1/S) sum_i s_i [l(z_i) + l^*(t r_i) - t r_i^T z_i]`` (a
        float); only called with ``t < 1``.
    intercept_residual : float, default=0.0
        ``|b^T (1/S) sum_i s_i r_i|``: what is left, after rounding, of the
        intercept's optimality, which the dual point needs; added so that
        the bound holds at the precision the shift was found to.

    Returns
    -------
    gap : float
    rounding : float
        A bound on the rounding error of ``gap`` itself: the gap is
        certified to within it.
    """
    xp = namespace(gradient_w)
    if l2 > 0:
        t = 1.0
    else:
        (largest,) = read_scalars(xp.max(xp.abs(gradient_w)))
        t = min(1.0, l1 / largest) if largest > 0 else 1.0
    penalty_gap, size = read_scalars(*_elastic_net_fenchel_young(w, -t * gradient_w, l1, l2))
    loss_gap = 0.0 if t == 1.0 else loss_gap_at(t)
    eps = float(np.finfo(numpy_float_dtype(w)).eps)
    gap = max(penalty_gap, 0.0) + max(loss_gap, 0.0) + t * abs(intercept_residual)
    return gap, SUM_ROUNDING_ULPS * eps * size


def quadratic_model_gap(gradient, hessian_solve):
    """``g^T H^+ g / 2``: the gap of the quadratic model (exact for least squares)."""
    direction = hessian_solve(gradient)
    return 0.5 * float(np.sum(to_numpy(gradient) * to_numpy(direction)))
