"""Gradient-descent-family solvers: one function per solver, one stop test.

Every solver minimises ``F(theta) = f(theta) + g(theta)`` where ``f`` is smooth
(``problem.smooth`` returns its value and gradient in one pass over the data)
and ``g`` is the L1 part of the penalty, handled by its proximal map, so that
plain gradient descent is the special case ``g = 0``. Solvers never see labels,
estimators or scikit-learn; they see a :class:`Problem`.

The stop test is shared: the largest absolute entry of the minimal-norm
subgradient of ``F`` (the gradient itself when there is no L1 part), divided by
``problem.gradient_scale``, must fall below ``tol``.

The loops stay where the data live (a GPU, say): objective values, inner
products and the stop test are 0-d arrays there. ``gd`` and ``nesterov``
read all the scalars a trial point's decisions need in one host transfer
(:func:`._array_api.read_scalars`); ``bb`` decides on the device and reads
only every few iterations.

References
----------
.. [1] Beck, A. and Teboulle, M. (2009). A fast iterative shrinkage-thresholding
   algorithm for linear inverse problems. SIAM J. Imaging Sciences 2(1).
.. [2] O'Donoghue, B. and Candès, E. (2015). Adaptive restart for accelerated
   gradient schemes. Foundations of Computational Mathematics 15(3).
.. [3] Barzilai, J. and Borwein, J. (1988). Two-point step size gradient methods.
   IMA J. Numerical Analysis 8(1).
.. [4] Wright, S., Nowak, R. and Figueiredo, M. (2009). Sparse reconstruction by
   separable approximation. IEEE Trans. Signal Processing 57(7).
.. [5] Frassoldati, G., Zanni, L. and Zanghirati, G. (2008). New adaptive
   stepsize selections in gradient methods. J. Industrial and Management
   Optimization 4(2).
"""

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._array_api import array_device, from_numpy, namespace, numpy_float_dtype, read_scalars

# Fraction of the predicted decrease a line-search step must achieve.
_SUFFICIENT_DECREASE = 1e-4
# Objective values compared by the line searches carry rounding errors of a
# few ulps; differences below this relative size are treated as ties (in
# float64; see rounding_slack for lower precisions).
_ROUNDING_SLACK = 1e-12
# Objective values within this many ulps of the working precision of each
# other are rounding noise (float32 sums of per-sample losses).
_OBJECTIVE_NOISE_ULPS = 64
_MAX_BACKTRACKS = 60
# Adaptive Barzilai-Borwein (ABBmin): switch threshold on short/long step
# ratio and the window of short steps. On raw load_digits (C=1) this took
# 1202 iterations to tol=1e-6 against 3132 for the long step alone. In
# float32 the short steps are the harm: raw breast_cancer and digits did not
# reach the float32 tol floor in 5000 iterations with ABBmin, and did in 1079
# and 3432 with the long step alone (0 switches it off; see _abb_switch).
_ABB_SWITCH = 0.8
_ABB_WINDOW = 5


@dataclass
class Problem:
    """What a solver needs to know about the objective.

    Attributes
    ----------
    smooth : callable
        ``theta -> (f(theta), grad f(theta))``, the data term plus the L2 part.
    penalty : ElasticNet
        Gives the L1 part's value, prox and the optimality violation.
    lipschitz : callable
        ``(n_iter) -> L``, an estimate of the Lipschitz constant of
        ``grad f`` by ``n_iter`` power iterations (computed on demand: each
        costs a pass over the data).
    gradient_scale : float
        The stop test divides the violation by this (1 for log-losses, the
        spread of the targets for squared error), making ``tol`` unit-free.
    unit_diagonal : bool
        True when the coordinates are preconditioned so that the curvature
        bound has a unit diagonal: then a step of 1 is the natural first
        trial of a line search, and no power iteration is needed for it.
    """

    smooth: Callable
    penalty: object
    lipschitz: Callable
    gradient_scale: float = 1.0
    unit_diagonal: bool = False

    def objective(self, theta, smooth_value):
        """``F(theta)`` given the already computed ``f(theta)`` (a 0-d array)."""
        return smooth_value + self.penalty.nonsmooth_value(theta)

    def violation(self, theta, smooth_gradient):
        """The stop test's quantity (a 0-d array): scaled largest optimality violation."""
        residual = self.penalty.optimality_violation(theta, smooth_gradient)
        xp = namespace(residual)
        return xp.max(xp.abs(residual)) / self.gradient_scale


@dataclass
class SolverResult:
    """What a solver returns."""

    theta: np.ndarray
    n_iter: int
    converged: bool
    violation: float
    objective_curve: list = field(default_factory=list)
    #: The line search found no decrease: rounding errors of the working
    #: precision now exceed the remaining progress.
    stalled: bool = False


class IterationLog:
    """Records the objective per iteration, reports progress, notifies observers.

    Parameters
    ----------
    verbose : int
        0 is silent; ``v > 0`` prints one line at the first iteration, every
        ``max(1, 100 // v)`` iterations, and at the end.
    name : str
        Printed in front of each line.
    observer : callable, default=None
        Called as ``observer(theta)`` after every iteration (the estimators
        use it to feed scikit-learn's callbacks).
    """

    def __init__(self, verbose=0, name="gd", observer=None):
        self.verbose = verbose
        self.name = name
        self.observer = observer
        self.objective_curve = []
        self._every = max(1, 100 // verbose) if verbose else 0
        self._last = None

    def record(self, iteration, theta, objective, violation, step_size):
        """Store one iteration, maybe print it, and notify the observer."""
        self.objective_curve.append(objective)
        self._last = (iteration, objective, violation, step_size)
        if self._every and (iteration == 1 or iteration % self._every == 0):
            self._print_line(*self._last)
        if self.observer is not None:
            self.observer(theta)

    def finish(self, converged):
        """Print the last iteration and the outcome."""
        if not self.verbose:
            return
        if self._last is not None and self._last[0] % self._every != 0:
            self._print_line(*self._last)
        outcome = "converged" if converged else "stopped before convergence"
        print(f"[{self.name}] {outcome} after {len(self.objective_curve)} "
              "iterations", flush=True)

    def _print_line(self, iteration, objective, violation, step_size):
        print(
            f"[{self.name}] iter {iteration:6d}  objective {objective:.10e}  "
            f"max|grad| {violation:.3e}  step {step_size:.3e}",
            flush=True,
        )


class DivergenceError(ValueError):
    """Raised by ``fit`` and ``partial_fit`` when the optimisation diverges.

    A subclass of :class:`ValueError`, so that code catching scikit-learn's
    input errors (``except ValueError``) catches it too. ``fit`` raises it
    when:

    - a fixed ``learning_rate`` (a float, with ``solver="gd"`` or
      ``"nesterov"``) makes the objective grow; the message names the
      largest stable learning rate, about ``2/L``;
    - the objective or the curvature of the data becomes infinite or NaN:
      ``X`` or ``y`` are too large for floating-point arithmetic and need
      rescaling (for example with
      :class:`~sklearn.preprocessing.StandardScaler`).

    ``partial_fit`` raises it in the second case.

    See Also
    --------
    GDLinearRegression : Least squares by gradient descent.
    GDLogisticRegression : Logistic regression by gradient descent.

    Examples
    --------
    >>> import numpy as np
    >>> from gdestimators import DivergenceError, GDLinearRegression
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> y = X @ [1.0, 2.0, 3.0]
    >>> model = GDLinearRegression(solver="gd", precondition="none", learning_rate=10.0)
    >>> try:
    ...     model.fit(X, y)
    ... except DivergenceError as error:
    ...     print(str(error)[:43])
    learning_rate=10 is too large for this data
    """


def dot(a, b):
    """The Euclidean inner product of two arrays of the same shape (a 0-d array)."""
    return namespace(a).sum(a * b)


def largest_eigenvalue(matvec, like, n_iter=30):
    """Largest eigenvalue of a symmetric positive semi-definite operator.

    Power iteration from a fixed pseudo-random start vector (of the shape,
    namespace, device and dtype of ``like``), so that the result is
    deterministic and identical for weighted and repeated-row data. The
    Rayleigh quotient approaches the eigenvalue from below.
    """
    start = np.random.default_rng(0).standard_normal(like.shape)
    vector = from_numpy(start / np.linalg.norm(start), like)
    vector = namespace(like).astype(vector, like.dtype)
    eigenvalue = 0.0
    for _ in range(n_iter):
        image = matvec(vector)
        eigenvalue, squared_norm = read_scalars(dot(vector, image), dot(image, image))
        norm = math.sqrt(max(squared_norm, 0.0))
        if norm == 0.0 or not math.isfinite(norm):
            break
        vector = image / norm
    return eigenvalue


def check_finite(objective, iteration):
    if not math.isfinite(objective):
        raise DivergenceError(
            f"The objective became {objective} at iteration {iteration}: the "
            "data are too large for floating-point arithmetic. Rescale X or y "
            "(for example with sklearn.preprocessing.StandardScaler)."
        )


def _abb_switch(theta):
    """ABBmin's switch threshold in float64; 0 (the long step only) below it."""
    return _ABB_SWITCH if numpy_float_dtype(theta) == np.float64 else 0.0


def rounding_slack(theta):
    """Relative difference of objective values treated as a tie.

    ``_ROUNDING_SLACK`` in float64; in float32, whose objective values carry
    rounding errors near 1e-7 relative, ``_OBJECTIVE_NOISE_ULPS`` ulps: a
    rise within rounding is then neither a divergence nor a reason to
    restart or backtrack.
    """
    eps = float(np.finfo(numpy_float_dtype(theta)).eps)
    return max(_ROUNDING_SLACK, _OBJECTIVE_NOISE_ULPS * eps)


def _raise_divergence(problem, learning_rate, before, after, iteration):
    stable = 2.0 * inverse_lipschitz(problem)
    raise DivergenceError(
        f"learning_rate={learning_rate:g} is too large for this data: the "
        f"objective rose from {before:.6g} to {after:.6g} at iteration "
        f"{iteration}. The largest stable learning rate is about 2/L = "
        f"{stable:.6g} (L, the Lipschitz constant of the gradient, is "
        "estimated with a 5% safety margin, so the exact limit is slightly "
        "higher); use a smaller learning_rate or learning_rate='auto'."
    )


# Power iterations for the first step size. Plain gradient descent keeps
# 1/L for good, so it needs an accurate L; the line searches of the other
# solvers correct a rough one.
_POWER_ITERATIONS = {"gd": 30, "nesterov": 10, "bb": 5}


def inverse_lipschitz(problem, n_iter=_POWER_ITERATIONS["gd"]):
    """``1/L``, or 1 when ``L`` is 0 (data without variation: any step is exact)."""
    lipschitz = problem.lipschitz(n_iter)
    if not math.isfinite(lipschitz):
        raise DivergenceError(
            "The curvature of the objective is not finite: the data are too "
            "large for floating-point arithmetic. Rescale X."
        )
    return 1.0 / lipschitz if lipschitz > 0 else 1.0


def _initial_step(problem, learning_rate, solver):
    if learning_rate == "auto":
        return inverse_lipschitz(problem, _POWER_ITERATIONS[solver])
    return float(learning_rate)


def _start(problem, theta, tol):
    """Evaluate the starting point: ``(f, grad f, F, violation, converged)``.

    ``f`` and its gradient stay where the data live; ``F`` and the
    violation are read to the host together.
    """
    value, gradient = problem.smooth(theta)
    objective, violation = read_scalars(
        problem.objective(theta, value), problem.violation(theta, gradient)
    )
    check_finite(objective, 0)
    return value, gradient, objective, violation, violation <= tol


def gradient_descent(problem, theta, *, learning_rate, max_iter, tol, log):
    """The note's gradient descent, ``theta <- prox(theta - step * grad)``.

    With ``learning_rate="auto"`` the step is ``1/L``; with a float it is that
    float, and an increase of the objective (impossible for a step below
    ``2/L``) raises :class:`DivergenceError`.
    """
    step = _initial_step(problem, learning_rate, "gd")
    slack = rounding_slack(theta)
    _, gradient, objective, violation, done = _start(problem, theta, tol)
    iteration = 0
    while not done and iteration < max_iter:
        iteration += 1
        theta_next = problem.penalty.prox(theta - step * gradient, step)
        value, gradient = problem.smooth(theta_next)
        objective_next, violation = read_scalars(
            problem.objective(theta_next, value), problem.violation(theta_next, gradient)
        )
        if learning_rate != "auto" and not (
            objective_next <= objective + slack * abs(objective)
        ):
            _raise_divergence(problem, step, objective, objective_next, iteration)
        check_finite(objective_next, iteration)
        theta, objective = theta_next, objective_next
        log.record(iteration, theta, objective, violation, step)
        done = violation <= tol
    return SolverResult(theta, iteration, done, violation, log.objective_curve)


def accelerated(problem, theta, *, learning_rate, max_iter, tol, log):
    """Nesterov's accelerated (proximal) gradient with adaptive restart.

    FISTA [1]_ with backtracking on ``L`` (skipped for a fixed learning
    rate) and the function-value restart of [2]_: when the objective rises,
    the momentum is dropped. Two evaluations per iteration: at the new
    iterate (which also serves the line search and the stop test) and at the
    extrapolated point.
    """
    fixed = learning_rate != "auto"
    lipschitz = 1.0 / _initial_step(problem, learning_rate, "nesterov")
    slack = rounding_slack(theta)
    value, gradient, objective, violation, done = _start(problem, theta, tol)
    x = theta
    y, value_y, gradient_y = x, value, gradient
    momentum_t = 1.0
    iteration = 0
    stalled = False
    while not done and iteration < max_iter:
        iteration += 1
        for _ in range(_MAX_BACKTRACKS):
            step = 1.0 / lipschitz
            x_next = problem.penalty.prox(y - step * gradient_y, step)
            value_next, gradient_next = problem.smooth(x_next)
            move = x_next - y
            at_y, at_next, objective_next, slope, squared_move, violation_next = (
                read_scalars(
                    value_y, value_next, problem.objective(x_next, value_next),
                    dot(gradient_y, move), dot(move, move),
                    problem.violation(x_next, gradient_next),
                )
            )
            if fixed:
                break
            model = at_y + slope + 0.5 * lipschitz * squared_move
            if at_next <= model + slack * abs(at_y):
                break
            lipschitz *= 2.0
        else:
            stalled = True
            break
        restarted_from_rest = momentum_t == 1.0
        if fixed and restarted_from_rest and not (
            objective_next <= objective + slack * abs(objective)
        ):
            _raise_divergence(problem, step, objective, objective_next, iteration)
        check_finite(objective_next, iteration)
        if objective_next > objective + slack * abs(objective):
            # Adaptive restart: the momentum overshot. Rises within rounding
            # do not count: near the optimum they would restart every other
            # iteration and reduce the method to plain gradient descent.
            momentum_t = 1.0
        momentum_t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * momentum_t**2))
        beta = (momentum_t - 1.0) / momentum_t_next
        if beta > 0.0:
            y = x_next + beta * (x_next - x)
            value_y, gradient_y = problem.smooth(y)
        else:
            y, value_y, gradient_y = x_next, value_next, gradient_next
        x, objective, momentum_t = x_next, objective_next, momentum_t_next
        violation = violation_next
        log.record(iteration, x, objective, violation, step)
        done = violation <= tol
    return SolverResult(
        x, len(log.objective_curve), done, violation, log.objective_curve, stalled
    )


def barzilai_borwein(problem, theta, *, learning_rate, max_iter, tol, log, memory=10):
    """(Proximal) gradient descent with Barzilai–Borwein steps [3]_.

    The long step ``<s, s> / <s, r>`` and the short step ``<s, r> / <r, r>``
    (``s`` the last move, ``r`` the change of gradient) imitate a Newton step
    along the path; the adaptive rule of [5]_ picks between them in float64
    (float32 takes the long step). A non-monotone line search
    [4]_ (sufficient decrease against the largest of the last ``memory``
    objectives) keeps it globally convergent while letting the objective rise
    now and then, which is where BB's speed comes from. One evaluation per
    iteration: the new point's gradient is computed with its value.

    Every decision is taken where the data live, without reading a scalar:
    a trial point that fails the line search is not taken, and the next
    iteration retries from the same point with a quarter of the step. The
    host reads the iteration's objective, stop test and step every
    ``_read_interval`` iterations (every iteration for host arrays, where a
    read costs nothing), so a GPU is not made to wait once per iteration.
    """
    xp = namespace(theta)
    if learning_rate == "auto" and problem.unit_diagonal:
        first_step = 1.0
    else:
        first_step = _initial_step(problem, learning_rate, "bb")
    slack = rounding_slack(theta)
    switch = _abb_switch(theta)
    noise = _OBJECTIVE_NOISE_ULPS * float(np.finfo(numpy_float_dtype(theta)).eps)
    smooth_only = not problem.penalty.has_l1
    every = _read_interval(theta)
    _, gradient, start_objective, violation, done = _start(problem, theta, tol)

    def scalar(value):
        return xp.asarray(value, dtype=theta.dtype, device=array_device(theta))

    def filled(length, value):
        return xp.full((length,), value, dtype=theta.dtype, device=array_device(theta))

    step = scalar(first_step)
    objective = scalar(start_objective)
    # The last `memory` accepted objectives (-inf: none yet), the last
    # short steps (inf: none yet), consecutive refusals.
    recent = xp.concat([objective[None], filled(memory - 1, -math.inf)])
    short_steps = filled(_ABB_WINDOW, math.inf)
    refusals = scalar(0.0)
    unread = []
    iteration = 0
    stalled = False
    while not done and iteration < max_iter:
        iteration += 1
        theta_next = problem.penalty.prox(theta - step * gradient, step)
        move = theta_next - theta
        value_next, gradient_next = problem.smooth(theta_next)
        objective_next = problem.objective(theta_next, value_next)
        change = gradient_next - gradient
        squared_move, curvature = dot(move, move), dot(move, change)
        reference = xp.max(recent)
        allowed = (reference - 0.5 * _SUFFICIENT_DECREASE * squared_move / step
                   + slack * xp.abs(reference))
        accept = objective_next <= allowed
        if smooth_only:
            accept = accept | _certified_descent(
                objective, objective_next, dot(gradient_next, move), noise
            )
        # A move that rounds away is no progress: refused like a bad step.
        accept = accept & (squared_move > 0)
        # ABBmin [5]_: the short step, at its smallest over a few
        # iterations, when the two BB steps disagree (the gradient is
        # turning); the long one otherwise. Without positive curvature
        # along the move, the step is kept.
        turning = curvature > 0
        long_step = squared_move / xp.where(turning, curvature, scalar(1.0))
        short_step = curvature / xp.where(turning, dot(change, change), scalar(1.0))
        short_steps = xp.where(
            accept & turning, xp.concat([short_steps[1:], short_step[None]]), short_steps
        )
        next_step = xp.where(short_step < switch * long_step, xp.min(short_steps), long_step)
        next_step = xp.where(turning & xp.isfinite(next_step), next_step, step)
        step = xp.where(accept, next_step, 0.25 * step)
        theta = xp.where(accept, theta_next, theta)
        gradient = xp.where(accept, gradient_next, gradient)
        objective = xp.where(accept, objective_next, objective)
        recent = xp.where(accept, xp.concat([recent[1:], objective[None]]), recent)
        refusals = xp.where(accept, scalar(0.0), refusals + 1)
        unread.append((theta, objective, problem.violation(theta, gradient), step))
        # The first iteration is read at once: it is often the last (one
        # step solves least squares in the decorrelated coordinates).
        if iteration % every and 1 < iteration < max_iter:
            continue
        # The read: every pending iteration's objective, violation and step,
        # and the count of consecutive refusals, in one transfer.
        values = read_scalars(*(v for entry in unread for v in entry[1:]), refusals)
        for index, (theta_i, *_) in enumerate(unread):
            objective_i, violation, step_i = values[3 * index: 3 * index + 3]
            check_finite(objective_i, iteration - len(unread) + index + 1)
            log.record(iteration - len(unread) + index + 1, theta_i, objective_i,
                       violation, step_i)
        unread = []
        done = violation <= tol
        # No step size gives a decrease: rounding errors of the working
        # precision exceed the remaining progress.
        stalled = values[-1] >= _MAX_BACKTRACKS or not step_i > 0.0
        if stalled and not done:
            break
    return SolverResult(
        theta, len(log.objective_curve), done, violation, log.objective_curve,
        stalled and not done,
    )


#: Iterations between host reads of the barzilai_borwein loop for data on a
#: device (numpy data are read every iteration: reading costs nothing there).
_DEVICE_READ_INTERVAL = 8


def _read_interval(theta):
    return 1 if isinstance(theta, np.ndarray) else _DEVICE_READ_INTERVAL


def _certified_descent(objective, objective_next, slope_next, noise):
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


SOLVERS = {
    "gd": gradient_descent,
    "nesterov": accelerated,
    "bb": barzilai_borwein,
}
