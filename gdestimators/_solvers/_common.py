"""What every solver shares: the problem it sees, its result, its log, its tests.

A solver minimises ``F(theta) = f(theta) + g(theta)`` where ``f`` is smooth
(``problem.smooth`` returns its value and gradient in one pass over the data)
and ``g`` is the L1 part of the penalty, handled by its proximal map. The
pieces here are the phases common to all loops:

* the start (:func:`evaluate_start`) and the first step size
  (:func:`initial_step`, from the curvature bound ``L``);
* the comparison of objective values up to rounding
  (:class:`Rounding`, :func:`rose_beyond_rounding`);
* the stop test (:meth:`Problem.violation` against ``tol``);
* the record of each iteration (:class:`IterationLog`), in the user's units.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._array_api import from_numpy, namespace, numpy_float_dtype, read_scalars

#: Fraction of the predicted decrease a line-search step must achieve.
SUFFICIENT_DECREASE = 1e-4
#: Halvings (or quarterings) of a step before a line search gives up.
MAX_BACKTRACKS = 60
#: The solvers that handle an L1 part (by proximal steps), named by the
#: error of those that need a smooth objective.
L1_SOLVERS = ("bb", "gd", "nesterov")
# Objective values compared by the line searches carry rounding errors of a
# few ulps; differences below this relative size are treated as ties (in
# float64; lower precisions use _OBJECTIVE_NOISE_ULPS).
_ROUNDING_SLACK = 1e-12
# Objective values within this many ulps of the working precision of each
# other are rounding noise (float32 sums of per-sample losses).
_OBJECTIVE_NOISE_ULPS = 64


@dataclass
class Problem:
    """What a solver needs to know about the objective.

    Attributes
    ----------
    smooth : callable
        ``theta -> (f(theta), grad f(theta))``, the data term plus the L2 part.
    penalty : Penalty
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
    output_scale : float
        The targets were divided by this: objective values times its square
        are the documented objective that users see (``loss_curve_``,
        verbose lines, messages).
    """

    smooth: Callable
    penalty: object
    lipschitz: Callable
    gradient_scale: float = 1.0
    unit_diagonal: bool = False
    output_scale: float = 1.0

    def objective(self, theta, smooth_value):
        """``F(theta)`` given the already computed ``f(theta)`` (a 0-d array)."""
        return smooth_value + self.penalty.nonsmooth_value(theta)

    def violation(self, theta, smooth_gradient):
        """The stop test's quantity (a 0-d array): scaled largest optimality violation."""
        residual = self.penalty.optimality_violation(theta, smooth_gradient)
        xp = namespace(residual)
        return xp.max(xp.abs(residual)) / self.gradient_scale

    def user_objective(self, value):
        """A solver objective value (a float) in the documented units."""
        return in_user_units(value, self.output_scale)


def in_user_units(value, output_scale):
    """``value * output_scale**2`` as a float; inf where that overflows.

    Targets beyond 1e154 make user-unit values overflow; the solution,
    solved in rescaled units, does not.
    """
    with np.errstate(over="ignore"):
        return float(np.float64(value) * output_scale * output_scale)


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    theta : array
        The last iterate.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the stop test passed.
    violation : float
        The stop test's quantity at ``theta``.
    objective_curve : list of float
        The objective after each iteration, in the documented units.
    stalled : bool
        The line search found no decrease: rounding errors of the working
        precision now exceed the remaining progress.
    """

    theta: object
    n_iter: int
    converged: bool
    violation: float
    objective_curve: list = field(default_factory=list)
    stalled: bool = False


class IterationLog:
    """Records the objective per iteration, reports progress, notifies observers.

    Every value it stores or prints is in the documented units
    (:meth:`Problem.user_objective`), so ``loss_curve_``, verbose lines and
    callbacks agree.

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
    output_scale : float, default=1.0
        See :attr:`Problem.output_scale`.
    """

    def __init__(self, verbose=0, name="gd", observer=None, output_scale=1.0):
        self.verbose = verbose
        self.name = name
        self.observer = observer
        self.output_scale = output_scale
        self.objective_curve = []
        self._every = max(1, 100 // verbose) if verbose else 0
        self._last_printed = None
        self._last = None

    def record(self, iteration, theta, objective, violation, step_size):
        """Store one iteration, maybe print it, and notify the observer.

        ``objective`` is the solver's value; it is stored in user units.
        """
        objective = in_user_units(objective, self.output_scale)
        self.objective_curve.append(objective)
        self._last = (iteration, objective, violation, step_size)
        if self._every and (iteration == 1 or iteration % self._every == 0):
            self._print_line(*self._last)
        if self.observer is not None:
            self.observer(theta)

    def finish(self, converged):
        """Print the last iteration (unless just printed) and the outcome."""
        if not self.verbose:
            return
        if self._last is not None and self._last[0] != self._last_printed:
            self._print_line(*self._last)
        outcome = "converged" if converged else "stopped before convergence"
        print(f"[{self.name}] {outcome} after {len(self.objective_curve)} "
              "iterations", flush=True)

    def _print_line(self, iteration, objective, violation, step_size):
        self._last_printed = iteration
        print(
            f"[{self.name}] iter {iteration:6d}  objective {objective:.10e}  "
            f"max|grad| {violation:.3e}  step {step_size:.3e}",
            flush=True,
        )


class DivergenceError(ValueError):
    """The objective grew under a fixed learning rate, or overflowed.

    A :class:`ValueError`, so that callers catching scikit-learn's input
    errors catch it too.
    """


def dot(a, b):
    """The Euclidean inner product of two arrays of the same shape (a 0-d array)."""
    return namespace(a).sum(a * b)


class Rounding:
    """How far apart objective values must be to differ beyond rounding.

    Parameters
    ----------
    theta : array
        An array of the working precision (float32 or float64).

    Attributes
    ----------
    noise : float
        Relative difference within which objective values are rounding
        noise: ``_OBJECTIVE_NOISE_ULPS`` ulps of the working precision.
    slack : float
        Relative difference treated as a tie by line searches and rise
        tests: ``_ROUNDING_SLACK`` in float64, ``noise`` in lower precision.
    """

    def __init__(self, theta):
        eps = float(np.finfo(numpy_float_dtype(theta)).eps)
        self.noise = _OBJECTIVE_NOISE_ULPS * eps
        self.slack = max(_ROUNDING_SLACK, self.noise)


def rose_beyond_rounding(before, after, slack):
    """Whether the objective rose from ``before`` to ``after`` by more than rounding.

    A NaN ``after`` counts as a rise.
    """
    return not after <= before + slack * abs(before)


def check_finite(objective, iteration):
    """Raise :class:`DivergenceError` if the objective overflowed."""
    if not math.isfinite(objective):
        raise DivergenceError(
            f"The objective became {objective} at iteration {iteration}: the "
            "data are too large for floating-point arithmetic. Rescale X or y "
            "(for example with sklearn.preprocessing.StandardScaler)."
        )


def raise_divergence(problem, learning_rate, before, after, iteration):
    """Raise :class:`DivergenceError` for a fixed step under which ``F`` rose."""
    stable = 2.0 * inverse_lipschitz(problem)
    raise DivergenceError(
        f"learning_rate={learning_rate:g} is too large for this data: the "
        f"objective rose from {problem.user_objective(before):.6g} to "
        f"{problem.user_objective(after):.6g} at iteration {iteration}. The "
        f"largest stable learning rate is about 2/L = {stable:.6g} (L, the "
        "Lipschitz constant of the gradient, is estimated with a 5% safety "
        "margin, so the exact limit is slightly higher); use a smaller "
        "learning_rate or learning_rate='auto'."
    )


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


#: Power iterations for the first step size. Plain gradient descent keeps
#: 1/L for good, so it needs an accurate L; the line searches of the other
#: solvers correct a rough one.
POWER_ITERATIONS = {"gd": 30, "nesterov": 10, "bb": 5, "lbfgs": 5}


def inverse_lipschitz(problem, n_iter=POWER_ITERATIONS["gd"]):
    """``1/L``, or 1 when ``L`` is 0 (data without variation: any step is exact)."""
    lipschitz = problem.lipschitz(n_iter)
    if not math.isfinite(lipschitz):
        raise DivergenceError(
            "The curvature of the objective is not finite: the data are too "
            "large for floating-point arithmetic. Rescale X."
        )
    return 1.0 / lipschitz if lipschitz > 0 else 1.0


def initial_step(problem, learning_rate, solver):
    """The first step: ``learning_rate``, or ``1/L`` for ``"auto"``."""
    if learning_rate == "auto":
        return inverse_lipschitz(problem, POWER_ITERATIONS[solver])
    return float(learning_rate)


def evaluate_start(problem, theta, tol):
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
