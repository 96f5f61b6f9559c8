"""Newton's method for many models, their Hessians formed in one shared pass over X.

Each model takes the steps of the single-model solver (:mod:`._newton`):
the (proximal) Newton direction from its own Hessian, solved on the host,
and the longest step of ``1, 1/2, 1/4, ...`` with sufficient decrease. What
the models share is the passes: one pass forms every running model's value,
gradient and Hessian (:meth:`.._batched_problem.BatchedProblem.second_order`),
one pass values every model's trial point, and a model whose trial is refused
joins the next pass with half its step. The stop test is the models'
:class:`._batched.BatchedStopTest`, fed with the gap the Newton model
predicts (half the squared Newton decrement), which is close to the
certified one: certificates seldom fail.

A Hessian costs about ``p / 4`` shared passes per model (``p`` coordinates),
so the cross-validation hands a model over to Newton's method only when
Barzilai–Borwein steps have spent as many passes as Newton would need to
finish (:func:`.._cv.run_models`), as ``solver="auto"`` does for one fit.
"""

import numpy as np

from .._array_api import array_device, from_numpy, namespace, to_numpy
from ._common import MAX_BACKTRACKS, SUFFICIENT_DECREASE, Rounding, check_finite
from ._newton import proximal_newton_direction


def _directions(problem, models, theta, gradient, hessians, objective, tol):
    """Each model's direction ``(n_rows, A, k)`` (host), slope and predicted gap ``(A,)``.

    As :func:`._newton._direction`, model by model.
    """
    theta = np.asarray(to_numpy(theta), dtype=np.float64)
    gradient = np.asarray(to_numpy(gradient), dtype=np.float64)
    l1_weights = np.asarray(to_numpy(models.l1_weights), dtype=np.float64)
    direction = np.zeros_like(gradient)
    slope = np.zeros(models.size)
    predicted = np.zeros(models.size)
    for j in range(models.size):
        g = gradient[:, j, :]
        hessian = hessians[j]
        if not models.has_l1[j]:
            d = -hessian.solve(g)
            slope[j] = float(np.sum(g * d))
            predicted[j] = max(-0.5 * slope[j], 0.0)
        else:
            weights = l1_weights[:, j:j + 1]
            x = theta[:, j, :]
            d = proximal_newton_direction(hessian, g, x, weights,
                                          tolerance=1e-3 * tol * abs(objective[j]))
            l1_change = float(np.sum(weights * (np.abs(x + d) - np.abs(x))))
            slope[j] = float(np.sum(g * d)) + l1_change
            flat = d.T.reshape(-1)
            curvature = float(flat @ (hessian.full() @ flat))
            predicted[j] = max(-(slope[j] + 0.5 * curvature), 0.0)
        direction[:, j, :] = d
    return direction, slope, predicted


def batched_newton(problem, models, theta, *, max_iter, tol, log, stop, n_iter):
    """Newton's method for every model of ``models`` from ``theta``.

    Parameters
    ----------
    problem : BatchedProblem
        Must give Hessians (``problem.has_hessian``).
    models : ActiveModels
        The models to run.
    theta : array of shape (n_rows, A, k)
        Their starting points.
    max_iter : int
        Iteration limit of every model (counting ``n_iter``).
    tol : float
        The relative gap each model certifies.
    log : BatchedLog
        Progress reporting.
    stop : BatchedStopTest
        The stop test (shared with an earlier stage).
    n_iter : ndarray of int of shape (A,)
        Iterations the models have already run.

    Returns
    -------
    theta : array of shape (n_rows, A, k)
    n_iter, converged, stalled, objective : ndarray of shape (A,)
    n_passes : int
    """
    xp = namespace(theta)
    device = array_device(theta)
    slack = Rounding(theta).slack
    n_models = models.size
    n_iter = np.array(n_iter, dtype=int)
    converged = np.zeros(n_models, dtype=bool)
    stalled = np.zeros(n_models, dtype=bool)
    objective = np.full(n_models, np.inf)
    without_decrease = np.zeros(n_models, dtype=int)
    running = np.ones(n_models, dtype=bool)
    n_passes = 0

    def positions(array):
        return xp.asarray(np.asarray(array), dtype=xp.int64, device=device)

    def columns(array, local):
        return xp.take(array, positions(local), axis=1)

    def evaluate(points, local):
        """Objectives ``(len(local),)`` (host) of the models at block positions ``local``."""
        sub = problem.active(models.indices[local])
        value, _ = problem.smooth(points, sub)
        values = np.asarray(to_numpy(problem.objective(points, value, sub)), dtype=np.float64)
        return values

    while running.any():
        local = np.flatnonzero(running)
        sub = problem.active(models.indices[local])
        current = columns(theta, local)
        value, gradient, hessians = problem.second_order(current, sub)
        n_passes += 1
        current_objective = np.asarray(
            to_numpy(problem.objective(current, value, sub)), dtype=np.float64
        )
        objective[local] = current_objective
        for j in local:
            check_finite(float(objective[j]), int(n_iter[j]))
        direction, slope, predicted = _directions(
            problem, sub, current, gradient, hessians, current_objective, tol
        )
        passed, replaced = stop(current, sub, current_objective, predicted,
                                np.ones(local.size, dtype=bool))
        if replaced is not None:
            moved, points, values = replaced
            theta = _put(theta, local[moved], points, xp, positions)
            objective[local[moved]] = values
        converged[local[passed]] = True
        # Rounding: the model sees no descent direction left, or its steps
        # have stopped decreasing the objective.
        no_descent = ~passed & (~(slope < 0) | (without_decrease[local] >= 3))
        stalled[local[no_descent]] = True
        out_of_budget = ~passed & (n_iter[local] >= max_iter)
        active = ~passed & ~no_descent & ~out_of_budget
        running[local[~active]] = False
        if not active.any():
            break
        log.iteration()
        moving = local[active]
        n_iter[moving] += 1
        d = xp.astype(from_numpy(direction[:, active, :], like=theta), theta.dtype)
        start = columns(theta, moving)
        before = objective[moving]
        slopes = slope[active]
        step = np.ones(moving.size)
        searching = np.ones(moving.size, dtype=bool)
        accepted_points = start
        new_objective = before.copy()
        for _ in range(MAX_BACKTRACKS):
            trying = np.flatnonzero(searching)
            step_device = xp.astype(from_numpy(step[trying], like=theta), theta.dtype)
            trial = columns(start, trying) + step_device[None, :, None] * columns(d, trying)
            values = evaluate(trial, moving[trying])
            n_passes += 1
            ok = values <= (before[trying] + SUFFICIENT_DECREASE * step[trying] * slopes[trying]
                            + slack * np.abs(before[trying]))
            if ok.any():
                accepted_points = _put(accepted_points, trying[ok],
                                       columns(trial, np.flatnonzero(ok)), xp, positions)
                new_objective[trying[ok]] = values[ok]
            searching[trying[ok]] = False
            if not searching.any():
                break
            step[searching] *= 0.5
        failed = searching
        theta = _put(theta, moving, accepted_points, xp, positions)
        stalled[moving[failed]] = True
        running[moving[failed]] = False
        decreased = new_objective < before
        without_decrease[moving] = np.where(decreased, 0, without_decrease[moving] + 1)
        objective[moving] = new_objective
        log.read(int(n_iter.max()), int(running.sum()), n_models,
                 stop.relative_gap[models.indices[running]])
    return theta, n_iter, converged, stalled & ~converged, objective, n_passes


def _put(array, local, values, xp, positions):
    """``array`` with its columns ``local`` (axis 1) replaced by ``values``."""
    local = np.asarray(local)
    if local.size == 0:
        return array
    n = array.shape[1]
    mask = np.zeros(n, dtype=bool)
    mask[local] = True
    source = np.zeros(n, dtype=int)
    source[local] = np.arange(local.size)
    gathered = xp.take(values, positions(source), axis=1)
    return xp.where(xp.asarray(mask, device=array_device(array))[None, :, None], gathered, array)

