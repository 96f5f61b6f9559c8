"""Newton's method: gradient descent in the metric of the Hessian.

Each iteration forms the exact Hessian of the smooth part in the same pass
over the data as its value and gradient (``problem.second_order``), solves
for the Newton direction on the host (the Hessian's size is that of the
coefficients squared), and takes the longest step of ``1, 1/2, 1/4, ...``
with sufficient decrease. With an L1 part the direction minimises the
quadratic model plus the L1 term (proximal Newton [1]_), solved by
coordinate descent on the model, which never touches the data: for least
squares the model is exact, so one pass forms it and the rest of the fit is
the Lasso on the Gram matrix.

Near the optimum Newton's method converges quadratically, so the gradient
reaches rounding level in a few iterations: that is what makes the stop
test's certificate tight on ill-conditioned problems (large ``C``, nearly
separable classes, raw features of very different scales).

References
----------
.. [1] Lee, J., Sun, Y. and Saunders, M. (2014). Proximal Newton-type methods
   for minimizing composite functions. SIAM J. Optimization 24(3).
.. [2] Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization paths
   for generalized linear models via coordinate descent. J. Statistical
   Software 33(1).
"""

import numpy as np

from .._array_api import from_numpy, namespace, read_scalars, to_numpy
from ._common import (
    MAX_BACKTRACKS,
    SUFFICIENT_DECREASE,
    Rounding,
    StopTest,
    check_finite,
)

#: Coordinate-descent sweeps on the quadratic model, at most, per iteration.
_MAX_SWEEPS = 1000
#: Iterations in a row without a decrease of the objective after which the
#: fit is at the rounding floor of its precision.
_MAX_STALLED_STEPS = 3


def newton_direction(hessian, gradient):
    """``-H^+ g`` (numpy, host) for the gradient ``g`` of shape ``(p, k)``."""
    return -hessian.solve(gradient)


def proximal_newton_direction(hessian, gradient, theta, l1_weights, tolerance):
    """The step ``d`` minimising ``g.d + d^T H d / 2 + sum_j l1_j |theta_j + d_j|``.

    Coordinate descent [2]_ on the model, in the variable ``x = theta + d``:
    each coordinate is a one-dimensional problem solved by soft
    thresholding, and the model's gradient is updated by one column of
    ``H``. Sweeps cycle over the coordinates that are non-zero or violate
    their optimality condition, until the largest change of a coordinate,
    weighted by its curvature, is below ``tolerance``. Coordinate descent
    converges slowly along correlated coordinates, so its support and signs
    are then used to solve the model exactly: on that support the model is
    a quadratic whose minimiser is one linear solve, kept if it keeps the
    signs and leaves every other coordinate optimal at zero.

    Parameters
    ----------
    hessian : HessianMatrix
        ``H`` (host).
    gradient, theta : ndarray of shape (p, k)
        The smooth part's gradient and the current point (host).
    l1_weights : ndarray of shape (p, 1) or (p, k)
        The L1 weight of each coordinate (zero for the intercept).
    tolerance : float
        Stop when no coordinate moves the model by more than this.

    Returns
    -------
    direction : ndarray of shape (p, k)
    """
    matrix = hessian.regularized()
    p, k = theta.shape
    start = theta.T.reshape(-1)
    weights = np.broadcast_to(l1_weights, (p, k)).T.reshape(-1)
    # The model's gradient in x is H (x - theta) + g.
    linear = gradient.T.reshape(-1) - matrix @ start
    x = start.copy()
    for _ in range(_MAX_ROUNDS):
        x = _coordinate_descent(matrix, linear, weights, x, tolerance)
        exact = _solve_on_support(matrix, linear, weights, x)
        if exact is not None:
            x = exact
            break
    return x.reshape(k, p).T - theta


#: Rounds of coordinate descent followed by an exact solve on its support.
_MAX_ROUNDS = 5


def _coordinate_descent(matrix, linear, weights, x, tolerance):
    """Sweeps of coordinate descent on ``x^T H x / 2 + linear.x + sum_j w_j |x_j|``."""
    x = x.copy()
    model_gradient = matrix @ x + linear
    curvature = np.diag(matrix).copy()
    active = np.arange(x.shape[0])
    for sweep in range(_MAX_SWEEPS):
        largest_change = 0.0
        for j in active:
            if curvature[j] <= 0:
                continue
            old = x[j]
            moved = old - model_gradient[j] / curvature[j]
            threshold = weights[j] / curvature[j]
            new = np.sign(moved) * max(abs(moved) - threshold, 0.0)
            if new != old:
                model_gradient += matrix[:, j] * (new - old)
                x[j] = new
                largest_change = max(largest_change, curvature[j] * (new - old) ** 2)
        if largest_change <= tolerance:
            if active.shape[0] == x.shape[0]:
                break
            # Converged on the active set: check every coordinate once more.
            active = np.arange(x.shape[0])
            continue
        if sweep == 0 or active.shape[0] == x.shape[0]:
            violates = np.abs(model_gradient) > weights
            active = np.flatnonzero((x != 0) | violates)
    return x


def _solve_on_support(matrix, linear, weights, x):
    """The model's exact minimiser with the support and signs of ``x``, or None.

    On the support ``S`` with signs ``sigma`` the optimality condition is
    ``H_SS x_S + linear_S + w_S sigma_S = 0``. The solution is kept if its
    signs are ``sigma`` and every coordinate outside ``S`` satisfies
    ``|(H x + linear)_j| <= w_j`` (zero is optimal there); unpenalised
    coordinates (the intercept) are always in the support.
    """
    support = (x != 0) | (weights == 0)
    signs = np.sign(x[support])
    block = matrix[np.ix_(support, support)]
    try:
        solved = np.linalg.solve(block, -(linear[support] + weights[support] * signs))
    except np.linalg.LinAlgError:
        return None
    candidate = np.zeros_like(x)
    candidate[support] = solved
    penalised = weights[support] > 0
    if np.any(np.sign(solved[penalised]) != signs[penalised]):
        return None
    model_gradient = matrix @ candidate + linear
    outside = ~support
    if np.any(np.abs(model_gradient[outside]) > weights[outside] * (1 + 1e-12)):
        return None
    return candidate


def _direction(problem, hessian, gradient, theta, objective, tol):
    """The (proximal) Newton direction, its slope and the gap the model predicts.

    Returns ``(direction, slope, predicted_gap)`` on the host: ``slope`` is
    ``g.d`` plus the change of the L1 term along ``d`` (the first-order
    decrease, negative for a descent direction), and the predicted gap is
    the decrease of the quadratic model, ``-(slope + d^T H d / 2)``: half the
    squared Newton decrement without an L1 part.
    """
    penalty = problem.penalty
    gradient = np.asarray(to_numpy(gradient), dtype=np.float64)
    if not penalty.has_l1:
        direction = -hessian.solve(gradient)
        slope = float(np.sum(gradient * direction))
        return direction, slope, max(-0.5 * slope, 0.0)
    l1_weights = np.asarray(to_numpy(penalty.l1_weights), dtype=np.float64)
    theta = np.asarray(to_numpy(theta), dtype=np.float64)
    direction = proximal_newton_direction(
        hessian, gradient, theta, l1_weights, tolerance=1e-3 * tol * abs(objective)
    )
    l1_change = float(np.sum(l1_weights * (np.abs(theta + direction) - np.abs(theta))))
    slope = float(np.sum(gradient * direction)) + l1_change
    flat = direction.T.reshape(-1)
    curvature = float(flat @ (hessian.full() @ flat))
    return direction, slope, max(-(slope + 0.5 * curvature), 0.0)


def newton(problem, theta, *, learning_rate, max_iter, tol, log):
    """Newton's method with a backtracking line search; proximal with an L1 part.

    ``learning_rate`` is the first step tried along each Newton direction,
    at most 1 (``"auto"``: 1, the step that solves the quadratic model). The
    first trial is evaluated with its Hessian, in one pass: near the optimum
    it is accepted, and the next iteration needs no further pass.
    """
    xp = namespace(theta)
    # A longer first step overshoots the model's minimum, and the sufficient
    # decrease test still accepts steps up to nearly 2, along which Newton's
    # method only converges linearly (by |1 - step| per iteration): so a
    # float above 1 counts as 1, and one below 1 damps every step.
    first_step = 1.0 if learning_rate == "auto" else min(float(learning_rate), 1.0)
    slack = Rounding(theta).slack
    stop = StopTest(problem, tol, theta)
    value, gradient, hessian = problem.second_order(theta)
    (objective,) = read_scalars(problem.objective(theta, value))
    check_finite(objective, 0)
    iteration, step = 0, first_step
    stalled = False
    steps_without_decrease = 0
    while True:
        direction, slope, predicted = _direction(
            problem, hessian, gradient, theta, objective, tol
        )
        done = stop(theta, objective, predicted)
        before_certificate = theta
        theta, objective = stop.final_point(theta, objective)
        if iteration > 0:
            log.record(iteration, theta, objective, stop.gap, step)
        if done and slope < 0 and 0 < iteration < max_iter:
            polished = _polishing_step(
                problem, before_certificate, direction, objective, stop.allowance(objective)
            )
            if polished is not None:
                iteration += 1
                # The bound moves with the objective if rounding raised it.
                stop.gap += max(polished[1] - objective, 0.0)
                theta, objective = polished
                log.record(iteration, theta, objective, stop.gap, 1.0)
        if done or iteration >= max_iter:
            break
        if not slope < 0 or steps_without_decrease >= _MAX_STALLED_STEPS:
            # Rounding: the model sees no descent direction left.
            stalled = True
            break
        iteration += 1
        direction = xp.astype(from_numpy(direction, like=theta), theta.dtype)
        accepted = _line_search(problem, theta, direction, objective, slope, first_step, slack)
        if accepted is None:
            stalled = True
            break
        steps_without_decrease = 0 if accepted[1] < objective else steps_without_decrease + 1
        theta, objective, step, value_gradient_hessian = accepted
        check_finite(objective, iteration)
        if value_gradient_hessian is None:
            value_gradient_hessian = problem.second_order(theta)
        value, gradient, hessian = value_gradient_hessian
    return stop.result(theta, done, log, stalled)


def _polishing_step(problem, theta, direction, certified_objective, allowance):
    """The last Newton step, taken once the gap is certified: one more pass.

    (Not after a start that already passes: a warm start at the optimum
    takes no iteration.)

    Near the optimum the step squares the remaining gap, which brings the
    coefficients from about ``sqrt(tol)`` to rounding level. It is kept if
    it raises the objective above the certified point's by at most
    ``allowance``, what the certified gap leaves of ``tol``: the bound
    ``F - min F <= tol F`` still holds (a step that gains nothing beyond
    rounding may show an objective an ulp higher). Returns
    ``(theta, objective)`` or None.
    """
    xp = namespace(theta)
    trial = theta + xp.astype(from_numpy(direction, like=theta), theta.dtype)
    value, _ = problem.smooth(trial)
    (trial_objective,) = read_scalars(problem.objective(trial, value))
    if trial_objective <= certified_objective + allowance:
        return trial, trial_objective
    return None


def _line_search(problem, theta, direction, objective, slope, first_step, slack):
    """The longest step of ``first_step / 2^j`` with sufficient decrease.

    Returns ``(theta, objective, step, second_order)`` where
    ``second_order`` is the value, gradient and Hessian at the new point
    when the first trial was accepted (it is evaluated with them), else
    None; or None when no step decreases the objective.
    """
    step = first_step
    for trial_number in range(MAX_BACKTRACKS):
        trial = theta + step * direction
        if trial_number == 0:
            second_order = problem.second_order(trial)
            trial_value = second_order[0]
        else:
            second_order = None
            trial_value, _ = problem.smooth(trial)
        (trial_objective,) = read_scalars(problem.objective(trial, trial_value))
        allowed = objective + SUFFICIENT_DECREASE * step * slope + slack * abs(objective)
        if trial_objective <= allowed:
            return trial, trial_objective, step, second_order
        step *= 0.5
    return None
