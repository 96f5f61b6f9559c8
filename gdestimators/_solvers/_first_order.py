"""Gradient descent and its accelerated form, each a loop of named phases.

References
----------
.. [1] Beck, A. and Teboulle, M. (2009). A fast iterative shrinkage-thresholding
   algorithm for linear inverse problems. SIAM J. Imaging Sciences 2(1).
.. [2] O'Donoghue, B. and Candès, E. (2015). Adaptive restart for accelerated
   gradient schemes. Foundations of Computational Mathematics 15(3).
"""

import math
from typing import NamedTuple

from .._array_api import read_scalars
from ._common import (
    MAX_BACKTRACKS,
    Rounding,
    StopTest,
    check_finite,
    dot,
    evaluate_start,
    initial_step,
    raise_divergence,
    rose_beyond_rounding,
)


def gradient_descent(problem, theta, *, learning_rate, max_iter, tol, log):
    """The note's gradient descent, ``theta <- prox(theta - step * grad)``.

    With ``learning_rate="auto"`` the step is ``1/L``; with a float it is that
    float, and an increase of the objective (impossible for a step below
    ``2/L``) raises :class:`DivergenceError`.
    """
    step = initial_step(problem, learning_rate, "gd")
    slack = Rounding(theta).slack
    stop = StopTest(problem, tol, theta)
    _, gradient, objective, predicted = evaluate_start(problem, theta)
    done = stop(theta, objective, predicted)
    theta, objective = stop.final_point(theta, objective)
    iteration = 0
    while not done and iteration < max_iter:
        iteration += 1
        theta_next = problem.penalty.prox(theta - step * gradient, step)
        value, gradient = problem.smooth(theta_next)
        objective_next, predicted = read_scalars(
            problem.objective(theta_next, value), problem.predicted_gap(theta_next, gradient)
        )
        if learning_rate != "auto" and rose_beyond_rounding(objective, objective_next, slack):
            raise_divergence(problem, step, objective, objective_next, iteration)
        check_finite(objective_next, iteration)
        done = stop(theta_next, objective_next, predicted)
        theta, objective = stop.final_point(theta_next, objective_next)
        log.record(iteration, theta, objective, stop.gap, step)
    return stop.result(theta, done, log)


class _Trial(NamedTuple):
    """A point accepted by the line search, with what was computed there."""

    point: object
    value: object
    gradient: object
    objective: float
    predicted_gap: float
    lipschitz: float


def _backtracking_step(problem, y, value_y, gradient_y, lipschitz, *, fixed, slack):
    """The proximal step from ``y``, with ``L`` doubled until the model holds [1]_.

    The step ``1/L`` is accepted when ``f`` at the new point is below the
    quadratic upper model ``f(y) + <grad, move> + L/2 |move|^2`` (up to
    rounding); a fixed learning rate is accepted as it is. Returns a
    :class:`_Trial`, or None when no ``L`` up to ``2^60`` times the first
    satisfies the model (rounding has taken over).
    """
    for _ in range(MAX_BACKTRACKS):
        step = 1.0 / lipschitz
        point = problem.penalty.prox(y - step * gradient_y, step)
        value, gradient = problem.smooth(point)
        move = point - y
        at_y, at_point, objective, slope, squared_move, predicted = read_scalars(
            value_y, value, problem.objective(point, value),
            dot(gradient_y, move), dot(move, move), problem.predicted_gap(point, gradient),
        )
        model = at_y + slope + 0.5 * lipschitz * squared_move
        if fixed or at_point <= model + slack * abs(at_y):
            return _Trial(point, value, gradient, objective, predicted, lipschitz)
        lipschitz *= 2.0
    return None


def _next_momentum(momentum_t):
    """FISTA's sequence ``t' = (1 + sqrt(1 + 4 t^2)) / 2``."""
    return 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * momentum_t**2))


def accelerated(problem, theta, *, learning_rate, max_iter, tol, log):
    """Nesterov's accelerated (proximal) gradient with adaptive restart.

    FISTA [1]_ with backtracking on ``L`` (skipped for a fixed learning
    rate) and the function-value restart of [2]_: when the objective rises,
    the momentum is dropped. Two evaluations per iteration: at the new
    iterate (which also serves the line search and the stop test) and at the
    extrapolated point.
    """
    fixed = learning_rate != "auto"
    lipschitz = 1.0 / initial_step(problem, learning_rate, "nesterov")
    slack = Rounding(theta).slack
    stop = StopTest(problem, tol, theta)
    value, gradient, objective, predicted = evaluate_start(problem, theta)
    done = stop(theta, objective, predicted)
    x, objective = stop.final_point(theta, objective)
    y, value_y, gradient_y = x, value, gradient
    momentum_t = 1.0
    iteration = 0
    stalled = False
    while not done and iteration < max_iter:
        iteration += 1
        trial = _backtracking_step(
            problem, y, value_y, gradient_y, lipschitz, fixed=fixed, slack=slack
        )
        if trial is None:
            stalled = True
            break
        lipschitz = trial.lipschitz
        rose = rose_beyond_rounding(objective, trial.objective, slack)
        if fixed and momentum_t == 1.0 and rose:
            # From rest, a fixed step that raises F is too long.
            raise_divergence(problem, 1.0 / lipschitz, objective, trial.objective, iteration)
        check_finite(trial.objective, iteration)
        done = stop(trial.point, trial.objective, trial.predicted_gap)
        x_previous = x
        x, objective = stop.final_point(trial.point, trial.objective)
        log.record(iteration, x, objective, stop.gap, 1.0 / lipschitz)
        if done:
            break
        if rose:
            # Adaptive restart: the momentum overshot. Rises within rounding
            # do not count: near the optimum they would restart every other
            # iteration and reduce the method to plain gradient descent.
            momentum_t = 1.0
        momentum_t_next = _next_momentum(momentum_t)
        beta = (momentum_t - 1.0) / momentum_t_next
        momentum_t = momentum_t_next
        if beta > 0.0:
            y = x + beta * (x - x_previous)
            value_y, gradient_y = problem.smooth(y)
        else:
            y, value_y, gradient_y = x, trial.value, trial.gradient
    return stop.result(x, done, log, stalled)
