"""(Proximal) gradient descent with Barzilai–Borwein steps, decided on the device.

The loop has four phases, each a small object or function below:

1. the step choice: the adaptive Barzilai–Borwein rule (:class:`AdaptiveStep`);
2. the acceptance: a non-monotone sufficient-decrease test
   (:class:`NonmonotoneAcceptance`);
3. the deferred read: scalars stay where the data live and reach the host
   every few iterations, in one transfer (:class:`DeferredReads`);
4. the stop test, on the values that the read brings back.

Every decision is a where-selection on 0-d arrays, so a GPU is never made to
wait for the host inside an iteration: a trial point that fails the line
search is simply not taken, and the next iteration retries from the same
point with a quarter of the step.

References
----------
.. [3] Barzilai, J. and Borwein, J. (1988). Two-point step size gradient methods.
   IMA J. Numerical Analysis 8(1).
.. [4] Wright, S., Nowak, R. and Figueiredo, M. (2009). Sparse reconstruction by
   separable approximation. IEEE Trans. Signal Processing 57(7).
.. [5] Frassoldati, G., Zanni, L. and Zanghirati, G. (2008). New adaptive
   stepsize selections in gradient methods. J. Industrial and Management
   Optimization 4(2).
"""

import math

import numpy as np

from .._array_api import array_device, namespace, numpy_float_dtype, read_scalars
from ._common import (
    MAX_BACKTRACKS,
    SUFFICIENT_DECREASE,
    Rounding,
    StopTest,
    check_finite,
    dot,
    evaluate_start,
    initial_step,
)

# Adaptive Barzilai-Borwein (ABBmin): switch threshold on short/long step
# ratio and the window of short steps. On raw load_digits (C=1) this took
# 1202 iterations to tol=1e-6 against 3132 for the long step alone. In
# float32 the short steps are the harm: raw breast_cancer and digits did not
# reach the float32 tol floor in 5000 iterations with ABBmin, and did in 1079
# and 3432 with the long step alone (0 switches it off).
_ABB_SWITCH = 0.8
_ABB_WINDOW = 5
#: Iterations between host reads for data on a device (numpy data are read
#: every iteration: reading costs nothing there).
DEVICE_READ_INTERVAL = 8


def _device_scalars(like):
    """Constructors of 0-d and 1-d arrays in the namespace, dtype and device of ``like``."""
    xp = namespace(like)

    def scalar(value):
        return xp.asarray(value, dtype=like.dtype, device=array_device(like))

    def filled(length, value):
        return xp.full((length,), value, dtype=like.dtype, device=array_device(like))

    return scalar, filled


class AdaptiveStep:
    """ABBmin [5]_: the next Barzilai–Borwein step from the last move.

    The long step ``<s, s> / <s, r>`` and the short step ``<s, r> / <r, r>``
    (``s`` the move, ``r`` the change of gradient) imitate a Newton step
    along the path. The smallest short step of the last few accepted moves
    is taken when the two disagree (the gradient is turning), the long one
    otherwise. In float32 only the long step is used (its short steps
    stalled on rounding). Without positive curvature along the move, the
    step is kept.
    """

    def __init__(self, like):
        self._switch = _ABB_SWITCH if numpy_float_dtype(like) == np.float64 else 0.0
        self._scalar, filled = _device_scalars(like)
        self._short_steps = filled(_ABB_WINDOW, math.inf)

    def next_step(self, step, accept, move, change):
        """The step after an accepted ``move`` (0-d arrays in, a 0-d array out)."""
        xp = namespace(step)
        squared_move, curvature = dot(move, move), dot(move, change)
        turning = curvature > 0
        long_step = squared_move / xp.where(turning, curvature, self._scalar(1.0))
        short_step = curvature / xp.where(turning, dot(change, change), self._scalar(1.0))
        self._short_steps = xp.where(
            accept & turning,
            xp.concat([self._short_steps[1:], short_step[None]]),
            self._short_steps,
        )
        next_step = xp.where(
            short_step < self._switch * long_step, xp.min(self._short_steps), long_step
        )
        return xp.where(turning & xp.isfinite(next_step), next_step, step)


class NonmonotoneAcceptance:
    """The line search of [4]_: sufficient decrease against a recent maximum.

    A trial is accepted when its objective is below the largest of the last
    ``memory`` accepted objectives minus ``SUFFICIENT_DECREASE/2 |s|^2 /
    step`` (up to rounding): the objective may rise now and then, which is
    where BB's speed comes from, while global convergence is kept. Without
    an L1 part, a step whose descent is certified by the slope is accepted
    too, where objective values are rounding noise (see
    :func:`certified_descent`). A move that rounds away is refused.
    """

    def __init__(self, objective, memory, rounding, smooth_only):
        _, filled = _device_scalars(objective)
        xp = namespace(objective)
        # The last `memory` accepted objectives (-inf: none yet).
        self._recent = xp.concat([objective[None], filled(memory - 1, -math.inf)])
        self._rounding = rounding
        self._smooth_only = smooth_only

    def accepts(self, objective, objective_next, move, gradient_next, step):
        """Whether to take the trial (a 0-d boolean array)."""
        xp = namespace(objective_next)
        squared_move = dot(move, move)
        reference = xp.max(self._recent)
        allowed = (reference - 0.5 * SUFFICIENT_DECREASE * squared_move / step
                   + self._rounding.slack * xp.abs(reference))
        accept = objective_next <= allowed
        if self._smooth_only:
            accept = accept | certified_descent(
                objective, objective_next, dot(gradient_next, move), self._rounding.noise
            )
        return accept & (squared_move > 0)

    def remember(self, accept, objective):
        """Add the current objective to the memory if the trial was taken."""
        xp = namespace(objective)
        self._recent = xp.where(
            accept, xp.concat([self._recent[1:], objective[None]]), self._recent
        )


def certified_descent(objective, objective_next, slope_next, noise):
    """Whether a step is proven to descend although objective values cannot tell.

    Near the optimum in float32 the decrease of a good step (about
    ``|grad|^2 / L``) is far below the rounding noise of the objective
    (about ``eps |F|``), so the sufficient-decrease test accepts or refuses
    at random and the iteration stalls. The gradient stays accurate, and for
    a convex smooth objective a slope ``<grad f(theta_next), move> <= 0`` at
    the new point proves that ``f`` decreased all along the move. This
    certificate applies only where the objectives differ by rounding noise
    (``noise``, relative), and not with an L1 part (whose prox step the slope
    does not describe). Arguments and result are 0-d arrays.
    """
    return (objective_next <= objective + noise * abs(objective)) & (slope_next <= 0.0)


class DeferredReads:
    """Iterations whose scalars are still on the device, read in one transfer.

    Parameters
    ----------
    log : IterationLog
        Receives each iteration once read.
    every : int
        Iterations between reads; the first iteration is always read at
        once (it is often the last: one step solves least squares in the
        decorrelated coordinates), and so is the last allowed.
    """

    def __init__(self, log, every):
        self._log = log
        self._every = every
        self._pending = []

    def add(self, theta, objective, predicted_gap, step):
        """Queue one iteration's state (0-d arrays where the data live)."""
        self._pending.append((theta, objective, predicted_gap, step))

    def due(self, iteration, max_iter):
        """Whether to read after ``iteration``."""
        return iteration % self._every == 0 or not 1 < iteration < max_iter

    def flush(self, iteration, refusals):
        """Read the queued iterations, record all but the last; return its scalars.

        Returns ``(objective, predicted_gap, step, refusals)`` of the last
        iteration as floats, for the stop test and the stall test. The last
        iteration is recorded by the caller once the stop test has run, so
        that its record (``loss_curve_``, the verbose line, the callbacks'
        model) is the point kept and the gap the stop test established.
        """
        values = read_scalars(
            *(value for entry in self._pending for value in entry[1:]), refusals
        )
        first = iteration - len(self._pending) + 1
        for index, (theta, *_) in enumerate(self._pending):
            objective, predicted, step = values[3 * index: 3 * index + 3]
            check_finite(objective, first + index)
            if first + index < iteration:
                self._log.record(first + index, theta, objective, predicted, step)
        self._pending = []
        return objective, predicted, step, values[-1]


def read_interval(theta):
    """Iterations between host reads: 1 for numpy, where a read costs nothing."""
    return 1 if isinstance(theta, np.ndarray) else DEVICE_READ_INTERVAL


def barzilai_borwein(problem, theta, *, learning_rate, max_iter, tol, log, memory=10):
    """(Proximal) gradient descent with Barzilai–Borwein steps [3]_.

    One evaluation per iteration (the new point's gradient is computed with
    its value); step choice by :class:`AdaptiveStep`, acceptance by
    :class:`NonmonotoneAcceptance`, reads by :class:`DeferredReads`.
    """
    xp = namespace(theta)
    scalar, _ = _device_scalars(theta)
    if learning_rate == "auto" and problem.unit_diagonal:
        first_step = 1.0
    else:
        first_step = initial_step(problem, learning_rate, "bb")
    stop = StopTest(problem, tol, theta)
    _, gradient, start_objective, predicted = evaluate_start(problem, theta)
    done = stop(theta, start_objective, predicted)
    theta, start_objective = stop.final_point(theta, start_objective)
    step, objective, refusals = scalar(first_step), scalar(start_objective), scalar(0.0)
    adaptive_step = AdaptiveStep(theta)
    acceptance = NonmonotoneAcceptance(
        objective, memory, Rounding(theta), smooth_only=not problem.penalty.has_l1
    )
    reads = DeferredReads(log, read_interval(theta))
    iteration = 0
    stalled = False
    while not done and iteration < max_iter:
        iteration += 1
        # Trial: one proximal gradient step, valued with its gradient.
        theta_next = problem.penalty.prox(theta - step * gradient, step)
        value_next, gradient_next = problem.smooth(theta_next)
        objective_next = problem.objective(theta_next, value_next)
        move = theta_next - theta
        # Acceptance and step choice, decided on the device.
        accept = acceptance.accepts(objective, objective_next, move, gradient_next, step)
        next_step = adaptive_step.next_step(step, accept, move, gradient_next - gradient)
        step = xp.where(accept, next_step, 0.25 * step)
        theta = xp.where(accept, theta_next, theta)
        gradient = xp.where(accept, gradient_next, gradient)
        objective = xp.where(accept, objective_next, objective)
        acceptance.remember(accept, objective)
        refusals = xp.where(accept, scalar(0.0), refusals + 1)
        reads.add(theta, objective, problem.predicted_gap(theta, gradient), step)
        if not reads.due(iteration, max_iter):
            continue
        # Deferred read, then the stop test.
        last_objective, predicted, last_step, consecutive_refusals = reads.flush(
            iteration, refusals
        )
        done = stop(theta, last_objective, predicted)
        theta, last_objective = stop.final_point(theta, last_objective)
        log.record(iteration, theta, last_objective, stop.gap, last_step)
        # No step size gives a decrease: rounding errors of the working
        # precision exceed the remaining progress.
        stalled = consecutive_refusals >= MAX_BACKTRACKS or not last_step > 0.0
        if stalled and not done:
            break
    return stop.result(theta, done, log, stalled)
