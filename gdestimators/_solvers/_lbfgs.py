"""L-BFGS with a strong Wolfe line search, for smooth objectives.

The loop is Algorithm 7.5 of [1]_ with its phases as small pieces below:

1. the direction ``-H_k grad f``: the two-loop recursion (Algorithm 7.4) on
   the last few pairs ``(s, y)`` (:class:`CurvaturePairs`);
2. the line search: bracketing, then zoom by safeguarded cubic
   interpolation, until the strong Wolfe conditions hold (Algorithms 3.5 and
   3.6; :class:`StrongWolfeSearch`);
3. the memory update: the new pair, unless it lacks positive curvature;
4. the stop test (:class:`StopTest`), on the predicted gap read with the
   accepted trial.

It runs in the solver's coordinates ``theta``, where the change of variables
has already removed the scales and correlations of the features; the pairs
then only need to learn what is left (for logistic regression, the spread of
the sample curvatures). Each trial point costs one pass over the data (value
and gradient together) and one host read of the scalars its decision needs
(objective, slope, predicted gap, the curvature of the move), so the
vectors stay where the data live.

References
----------
.. [1] Nocedal, J. and Wright, S. (2006). Numerical Optimization, 2nd ed.
   Springer. Algorithm 7.4 (two-loop recursion), 7.5 (L-BFGS), 3.5 and 3.6
   (line search for the strong Wolfe conditions), (3.59) (cubic
   interpolation).
"""

import math
from collections import deque
from typing import NamedTuple

from .._array_api import namespace, read_scalars
from ._common import (
    L1_SOLVERS,
    SUFFICIENT_DECREASE,
    Rounding,
    StopTest,
    check_finite,
    dot,
    evaluate_start,
    initial_step,
    rose_beyond_rounding,
)

#: Pairs ``(s, y)`` kept, chosen by ``benchmarks/lbfgs_memory.py``
#: (``benchmarks/results_lbfgs_memory.md``): against 10 pairs, 20 took 24%
#: to 52% fewer passes over X to a certified ``tol=1e-8`` on raw
#: breast_cancer and wine, 6% fewer on digits at C=1 and 5% at C=100; on a
#: Fashion-MNIST subsample 10, 20 and 50 pairs ended within 0.15% of each
#: other. 50 pairs save more only where they hold about as many pairs as
#: there are coefficients (then it is full BFGS), and cost 4 vector
#: operations per pair and iteration: small kernel launches on a GPU,
#: interpreter overhead on small data.
MEMORY = 20
#: The curvature constant ``c2`` of the strong Wolfe conditions: 0.9, the
#: usual value for quasi-Newton methods ([1]_, section 3.1), lets step 1 pass
#: in most iterations. ``c1`` is the package's ``SUFFICIENT_DECREASE``.
CURVATURE = 0.9
# Growth of the trial step while the bracketing phase has not yet enclosed a
# step satisfying the conditions.
_EXPANSION = 4.0
# An interpolated step keeps this fraction of the bracket's width away from
# either end, so that every zoom trial shrinks the bracket by at least it.
_SAFEGUARD = 0.1
# Trials of one line search. Step 1 passes in most iterations; the budget
# only ends searches where rounding has taken over.
_MAX_TRIALS = 30


def require_smooth(problem):
    """Raise a :class:`ValueError` if the objective has an L1 part."""
    if problem.penalty.has_l1:
        names = ", ".join(repr(name) for name in L1_SOLVERS)
        raise ValueError(
            "solver='lbfgs' needs a smooth objective, and l1_ratio > 0 adds an "
            f"L1 penalty. Use l1_ratio=0, or one of the solvers that handle "
            f"L1: {names}."
        )


def first_trial_step(problem, learning_rate):
    """The first trial step when there are no pairs yet.

    A float ``learning_rate`` is that step. For ``"auto"``, 1 in
    preconditioned coordinates (the curvature bound has a unit diagonal
    there, as for ``bb``), else ``1/L``.
    """
    if learning_rate == "auto" and problem.unit_diagonal:
        return 1.0
    return initial_step(problem, learning_rate, "lbfgs")


class CurvaturePairs:
    """The last ``memory`` pairs ``(s, y)`` and the product ``-H_k g`` they define.

    ``s`` is a move of the iterate and ``y`` the change of the gradient along
    it. ``H_k`` is the BFGS inverse-Hessian approximation built from the
    stored pairs, oldest first, starting from ``gamma I`` with
    ``gamma = <s, y> / <y, y>`` of the newest pair ([1]_, (7.20)): the
    curvature along the last move, which sets the scale so that step 1 is
    the natural first trial.

    Parameters
    ----------
    memory : int
        The number of pairs kept.
    """

    def __init__(self, memory):
        self._pairs = deque(maxlen=memory)
        self._gamma = 1.0

    def __len__(self):
        return len(self._pairs)

    def update(self, move, change, curvature, change_norm2):
        """Store ``(s, y) = (move, change)``; skip it without positive curvature.

        ``curvature = <s, y>`` and ``change_norm2 = <y, y>`` are host floats.
        BFGS keeps ``H_k`` positive definite only if ``<s, y> > 0``; the Wolfe
        conditions guarantee it for accepted steps, but a step accepted within
        rounding may not have it, and such a pair would spoil the memory
        (as would one whose ``1 / <s, y>`` overflows). Returns whether the
        pair was stored.
        """
        if not (0.0 < curvature < math.inf and 0.0 < change_norm2 < math.inf
                and 1.0 / curvature < math.inf):
            return False
        # Kept as vectors: the recursion's inner products are then single
        # BLAS dots.
        self._pairs.append((_flat(move), _flat(change), 1.0 / curvature))
        self._gamma = curvature / change_norm2
        return True

    def clear(self):
        """Drop every pair: the next direction is the steepest descent."""
        self._pairs.clear()
        self._gamma = 1.0

    def direction(self, gradient):
        """``-H_k gradient`` by the two-loop recursion ([1]_, Algorithm 7.4).

        Inner products stay where the arrays live (0-d arrays): no host read.
        """
        q = _flat(gradient)
        alphas = []
        for move, change, rho in reversed(self._pairs):
            alpha = rho * (move @ q)
            q = q - alpha * change
            alphas.append(alpha)
        r = self._gamma * q
        for (move, change, rho), alpha in zip(self._pairs, reversed(alphas), strict=True):
            beta = rho * (change @ r)
            r = r + (alpha - beta) * move
        return namespace(gradient).reshape(-r, gradient.shape)


def _flat(array):
    """``array`` as a vector (a view of the contiguous arrays the solver makes)."""
    return namespace(array).reshape(array, (-1,))


class Trial(NamedTuple):
    """A trial point ``theta + step * direction`` and what was computed there.

    The floats were read to the host together; the arrays stay where the
    data live.

    Attributes
    ----------
    step : float
        The step along the direction.
    objective : float
        ``F`` at the point.
    slope : float
        ``<grad f(point), direction>``, the derivative along the line.
    predicted_gap : float
        The gap ``F - min F`` predicted at the point
        (:meth:`Problem.predicted_gap`), for the stop test.
    curvature, change_norm2 : float
        ``<s, y>`` and ``<y, y>`` for the move ``s`` from ``theta`` and the
        change ``y`` of the gradient.
    point, gradient, move, change : array
        The point, its gradient, ``s`` and ``y``.
    """

    step: float
    objective: float
    slope: float
    predicted_gap: float
    curvature: float
    change_norm2: float
    point: object = None
    gradient: object = None
    move: object = None
    change: object = None


class StrongWolfeSearch:
    """Line searches from ``theta`` for the strong Wolfe conditions.

    A step ``a`` along a descent direction ``d`` is accepted when

    * ``F(theta + a d) <= F(theta) + c1 a <grad, d>`` (sufficient decrease,
      ``c1 = SUFFICIENT_DECREASE``), up to rounding: objective values within
      the relative ``slack`` of :class:`Rounding` of each other are ties;
    * ``|<grad f(theta + a d), d>| <= c2 |<grad, d>|`` (curvature,
      ``c2 = CURVATURE``), which makes ``<s, y>`` positive.

    Near the optimum the objective values are rounding noise while the
    slopes remain accurate: the ties let the curvature condition, on the
    slopes, decide there. Non-finite values at a trial mark the step as too
    long.

    Parameters
    ----------
    problem : Problem
        The objective.
    rounding : Rounding
        The slack of objective comparisons.
    stop_quantity : callable
        ``(point, gradient) -> 0-d array``, the stop test's prediction of the
        gap (:meth:`Problem.predicted_gap`), read with each trial's scalars
        so that the accepted one brings it along.
    """

    def __init__(self, problem, rounding, stop_quantity):
        self._problem = problem
        self._slack = rounding.slack
        self._noise = rounding.noise
        self._stop_quantity = stop_quantity

    def along(self, theta, objective, gradient, direction, first_step):
        """A step from ``theta`` meeting the strong Wolfe conditions along ``direction``.

        ``objective`` is ``F(theta)`` (a float) and ``gradient`` is
        ``grad f(theta)``. Bracketing ([1]_, Algorithm 3.5), starting at
        ``first_step`` and growing it while the objective still descends
        steeply, then :meth:`_zoom`. Returns the accepted :class:`Trial`, or
        None when ``direction`` is not a descent direction (known after the
        first trial, whose read brings the slope at the start along) or when
        no step decreases the objective beyond rounding.
        """
        self._theta, self._objective, self._gradient = theta, objective, gradient
        self._direction = direction
        self._start = None
        self._trials_left = _MAX_TRIALS
        trial = self._evaluate(first_step)  # also reads the slope at the start
        if not self._start.slope < 0.0:
            return None
        previous = self._start
        while True:
            if not self._sufficient_decrease(trial) or (
                previous is not self._start and self._rose(previous, trial)
            ):
                return self._zoom(previous, trial)
            if self._curvature_holds(trial):
                return trial
            if trial.slope >= 0.0:
                return self._zoom(trial, previous)
            if not self._trials_left:
                return self._best_effort(trial)
            previous, trial = trial, self._evaluate(_EXPANSION * trial.step)

    def _zoom(self, low, high):
        """Shrink the bracket until a step meets the conditions ([1]_, Algorithm 3.6).

        ``low`` is the lowest point so far that has sufficient decrease;
        the bracket between ``low`` and ``high`` contains such steps.
        """
        while self._trials_left and not self._indistinguishable(low, high):
            trial = self._evaluate(safeguarded_interpolation(low, high))
            if not self._sufficient_decrease(trial) or self._rose(low, trial):
                high = trial
                continue
            if self._curvature_holds(trial):
                return trial
            if trial.slope * (high.step - low.step) >= 0.0:
                high = low
            low = trial
        return self._best_effort(low)

    def _evaluate(self, step):
        """The trial at ``step``: one pass over the data, one host read.

        The first trial of a search also reads the slope at the start.
        """
        self._trials_left -= 1
        point = self._theta + step * self._direction
        value, gradient = self._problem.smooth(point)
        move, change = point - self._theta, gradient - self._gradient
        at_start = () if self._start is not None else (dot(self._gradient, self._direction),)
        objective, slope, predicted, curvature, change_norm2, *start_slope = read_scalars(
            self._problem.objective(point, value), dot(gradient, self._direction),
            self._stop_quantity(point, gradient), dot(move, change),
            dot(change, change), *at_start,
        )
        if start_slope:
            self._start = Trial(0.0, self._objective, start_slope[0], math.nan,
                                math.nan, math.nan)
        return Trial(step, objective, slope, predicted, curvature, change_norm2,
                     point, gradient, move, change)

    def _sufficient_decrease(self, trial):
        """The first Wolfe condition, up to rounding; false for non-finite values."""
        start = self._start
        allowed = (start.objective + SUFFICIENT_DECREASE * trial.step * start.slope
                   + self._slack * abs(start.objective))
        return math.isfinite(trial.slope) and trial.objective <= allowed

    def _curvature_holds(self, trial):
        """The second (strong) Wolfe condition."""
        return abs(trial.slope) <= -CURVATURE * self._start.slope

    def _rose(self, before, after):
        return rose_beyond_rounding(before.objective, after.objective, self._slack)

    def _indistinguishable(self, low, high):
        """Whether the bracket is narrower than the rounding of its steps."""
        return abs(high.step - low.step) <= self._noise * max(abs(high.step), abs(low.step))

    def _best_effort(self, best):
        """After the budget: ``best`` if it decreased ``F`` beyond rounding, else None."""
        start = self._start
        if best.step > 0.0 and best.objective < start.objective - self._slack * abs(
            start.objective
        ):
            return best
        return None


def safeguarded_interpolation(low, high):
    """A trial step inside the bracket ``(low, high)``, away from its ends.

    The minimiser of the cubic that matches value and slope at both ends
    ([1]_, (3.59)); where that cubic has no minimiser or ``high`` is not
    finite, that of the quadratic matching value and slope at ``low`` and the
    value at ``high``; else the midpoint. The result is kept ``_SAFEGUARD``
    of the bracket's width away from either end.
    """
    left, right = sorted((low.step, high.step))
    margin = _SAFEGUARD * (right - left)
    step = _cubic_minimiser(low, high)
    if step is None:
        step = _quadratic_minimiser(low, high)
    if step is None:
        step = 0.5 * (left + right)
    return min(max(step, left + margin), right - margin)


def _cubic_minimiser(a, b):
    """Minimiser of the cubic through ``a`` and ``b`` (values and slopes), or None.

    [1]_ (3.59) in the bracket's own coordinate ``u = (step - a.step) /
    width``, where ``a`` is at 0 and ``b`` at 1: slopes become
    ``slope * width``, and no intermediate result depends on the scale of the
    steps (1e-300 in raw coordinates whose curvatures reach 1e300, where
    products of slopes overflow and squared widths underflow).
    """
    width = b.step - a.step
    values = (a.objective, b.objective, a.slope * width, b.slope * width)
    if width == 0.0 or not all(map(math.isfinite, values)):
        return None
    value_a, value_b, slope_a, slope_b = values
    d1 = slope_a + slope_b + 3.0 * (value_a - value_b)
    radicand = d1 * d1 - slope_a * slope_b
    if not 0.0 <= radicand < math.inf:
        return None
    d2 = math.sqrt(radicand)
    denominator = slope_b - slope_a + 2.0 * d2
    if denominator == 0.0:
        return None
    step = a.step + (1.0 - (slope_b + d2 - d1) / denominator) * width
    return step if math.isfinite(step) else None


def _quadratic_minimiser(low, high):
    """Minimiser of the quadratic with ``low``'s value and slope and ``high``'s value.

    In the bracket's coordinate ``u`` as :func:`_cubic_minimiser`:
    ``q(u) = f_low + g u + c u^2`` with ``g = slope_low * width`` and
    ``c = f_high - f_low - g``.
    """
    width = high.step - low.step
    values = (low.objective, high.objective, low.slope * width)
    if width == 0.0 or not all(map(math.isfinite, values)):
        return None
    value_low, value_high, slope = values
    curvature = value_high - value_low - slope
    if not 0.0 < curvature < math.inf:
        return None
    step = low.step - slope / (2.0 * curvature) * width
    return step if math.isfinite(step) else None


def lbfgs(problem, theta, *, learning_rate, max_iter, tol, log, memory=MEMORY):
    """Limited-memory BFGS ([1]_, Algorithm 7.5) with a strong Wolfe line search.

    Each iteration takes the direction of the two-loop recursion
    (:class:`CurvaturePairs`), searches along it with first trial step 1
    (:class:`StrongWolfeSearch`), and stores the new pair. When the
    direction is not a descent direction, or no step along it decreases the
    objective, the pairs are dropped and the iteration restarts from the
    steepest descent. When that fails too, rounding errors of the working
    precision exceed the remaining progress: the result is ``stalled``.

    Parameters
    ----------
    problem : Problem
        A smooth objective (no L1 part).
    theta : array
        The starting point.
    learning_rate : "auto" or float
        The first trial step whenever there are no pairs (the first
        iteration, and after a restart); see :func:`first_trial_step`.
    max_iter : int
        Iteration limit.
    tol : float
        The relative objective gap to certify (:class:`StopTest`).
    log : IterationLog
        Records every iteration.
    memory : int, default=MEMORY
        The number of pairs kept.

    Returns
    -------
    result : SolverResult
        The last iterate and how the solver ended.

    Raises
    ------
    ValueError
        If the objective has an L1 part.
    """
    require_smooth(problem)
    first_step = first_trial_step(problem, learning_rate)
    stop = StopTest(problem, tol, theta)
    _, gradient, objective, predicted = evaluate_start(problem, theta)
    done = stop(theta, objective, predicted)
    theta, objective = stop.final_point(theta, objective)
    pairs = CurvaturePairs(memory)
    # The stop test's prediction is computed at every trial point and read
    # with its other scalars: one host read per trial.
    search = StrongWolfeSearch(problem, Rounding(theta), stop_quantity=problem.predicted_gap)
    iteration = 0
    stalled = False
    while not done and iteration < max_iter:
        iteration += 1
        # Direction and line search; step 1 is the quasi-Newton step.
        direction = pairs.direction(gradient)
        trial = search.along(theta, objective, gradient, direction,
                             1.0 if pairs else first_step)
        if trial is None and pairs:
            # Restart: rounding has spoiled the pairs, whose direction does
            # not descend or along which no step decreases F; the steepest
            # descent direction always descends.
            pairs.clear()
            trial = search.along(theta, objective, gradient, -gradient, first_step)
        if trial is None:
            stalled = True
            break
        check_finite(trial.objective, iteration)
        # Memory update, then the move.
        pairs.update(trial.move, trial.change, trial.curvature, trial.change_norm2)
        theta, gradient = trial.point, trial.gradient
        # Stop test: a certificate once the prediction says it may pass; the
        # certified point (the intercept at its best value) ends the fit.
        done = stop(theta, trial.objective, trial.predicted_gap)
        theta, objective = stop.final_point(theta, trial.objective)
        log.record(iteration, theta, objective, stop.gap, trial.step)
    return stop.result(theta, done, log, stalled)
