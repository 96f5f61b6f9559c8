"""What every solver shares: the problem it sees, its result, its log, its tests.

A solver minimises ``F(theta) = f(theta) + g(theta)`` where ``f`` is smooth
(``problem.smooth`` returns its value and gradient in one pass over the data)
and ``g`` is the L1 part of the penalty, handled by its proximal map. The
pieces here are the phases common to all loops:

* the start (:func:`evaluate_start`) and the first step size
  (:func:`initial_step`, from the curvature bound ``L``);
* the comparison of objective values up to rounding
  (:class:`Rounding`, :func:`rose_beyond_rounding`);
* the stop test (:class:`StopTest`: ``tol`` bounds the relative objective
  gap, certified by ``problem.certify`` once the solver's own prediction of
  the gap says it may be);
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
#: The solvers that handle an L1 part (by proximal steps, or proximal Newton
#: for ``"newton"`` and the ``"auto"`` choices), named by the error of those
#: that need a smooth objective.
L1_SOLVERS = ("gd", "nesterov", "bb", "newton", "auto")
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
    unit_diagonal : bool
        True when the coordinates are preconditioned so that the curvature
        bound has a unit diagonal: then a step of 1 is the natural first
        trial of a line search, and no power iteration is needed for it.
    n_coordinates : int
        The size of ``theta``.
    hessian_cost : float
        What one ``second_order`` evaluation costs, in passes over the data
        (an estimate from the shapes; inf without ``second_order``).
    output_scale : float
        The targets were divided by this: objective values times its square
        are the documented objective that users see (``loss_curve_``,
        verbose lines, messages).
    hessian_flops : float
        Multiply-adds of one Hessian (samples times coordinates squared per
        coupled output pair): what it costs in absolute terms.
    identity_hessian : bool
        True when the Hessian of ``f`` in these coordinates is the identity
        (least squares with the full change of variables): a gradient step of
        1 is then a Newton step.
    second_order : callable or None
        ``theta -> (f, grad f, HessianMatrix)`` in one pass, for Newton's
        method; None where no Hessian is available.
    certify : callable or None
        ``theta -> Certificate or None``: a bound on ``F(theta) - min F``
        (see :mod:`.._certificate`); None where no bound is available.
    """

    smooth: Callable
    penalty: object
    lipschitz: Callable
    unit_diagonal: bool = False
    n_coordinates: int = 0
    hessian_cost: float = math.inf
    output_scale: float = 1.0
    hessian_flops: float = math.inf
    identity_hessian: bool = False
    second_order: Callable = None
    certify: Callable = None

    def objective(self, theta, smooth_value):
        """``F(theta)`` given the already computed ``f(theta)`` (a 0-d array)."""
        return smooth_value + self.penalty.nonsmooth_value(theta)

    def predicted_gap(self, theta, smooth_gradient):
        """``|v|^2 / 2`` for the minimal-norm subgradient ``v``: a 0-d array.

        The gap ``F - min F`` that a quadratic model with unit curvature
        predicts. The coordinates are preconditioned so that the curvature
        is at most about 1, so this tends to underestimate the gap; the stop
        test uses it only to decide when a certificate is worth computing.
        """
        residual = self.penalty.optimality_violation(theta, smooth_gradient)
        return 0.5 * dot(residual, residual)

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
    gap : float
        The bound on ``F - min F`` at ``theta`` (solver units): the
        certificate's when there is one, else the solver's prediction.
    relative_gap : float
        ``gap / |F|`` at ``theta``.
    solvers : list of str
        The solvers that ran, in order (several for ``solver="auto"``).
    reason : str
        Why ``solver="auto"`` chose them (empty otherwise).
    certificate : Certificate or None
        The last certificate computed, if any.
    objective_curve : list of float
        The objective after each iteration, in the documented units.
    stalled : bool
        The line search found no decrease: rounding errors of the working
        precision now exceed the remaining progress.
    """

    theta: object
    n_iter: int
    converged: bool
    gap: float
    objective_curve: list = field(default_factory=list)
    stalled: bool = False
    certificate: object = None
    relative_gap: float = math.inf
    solvers: list = field(default_factory=list)
    reason: str = ""


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
        #: Iterations run by earlier solvers of the same fit (``solver="auto"``
        #: may hand over from one solver to another).
        self.offset = 0

    def record(self, iteration, theta, objective, gap, step_size):
        """Store one iteration, maybe print it, and notify the observer.

        ``objective`` and ``gap`` are the solver's values; they are stored
        and printed in user units.
        """
        iteration += self.offset
        objective = in_user_units(objective, self.output_scale)
        self.objective_curve.append(objective)
        self._last = (iteration, objective, in_user_units(gap, self.output_scale), step_size)
        if self._every and (iteration == 1 or iteration % self._every == 0):
            self._print_line(*self._last)
        if self.observer is not None:
            self.observer(theta)

    def note(self, message):
        """Print a line about the fit (which solver runs and why) when verbose."""
        if self.verbose:
            print(f"[{self.name}] {message}", flush=True)

    def finish(self, converged):
        """Print the last iteration (unless just printed) and the outcome."""
        if not self.verbose:
            return
        if self._last is not None and self._last[0] != self._last_printed:
            self._print_line(*self._last)
        outcome = "converged" if converged else "stopped before convergence"
        print(f"[{self.name}] {outcome} after {len(self.objective_curve)} "
              "iterations", flush=True)

    def _print_line(self, iteration, objective, gap, step_size):
        self._last_printed = iteration
        print(
            f"[{self.name}] iter {iteration:6d}  objective {objective:.10e}  "
            f"gap~ {gap:.3e}  step {step_size:.3e}",
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


def evaluate_start(problem, theta):
    """Evaluate the starting point: ``(f, grad f, F, predicted gap)``.

    ``f`` and its gradient stay where the data live; ``F`` and the
    predicted gap are read to the host together.
    """
    value, gradient = problem.smooth(theta)
    objective, predicted = read_scalars(
        problem.objective(theta, value), problem.predicted_gap(theta, gradient)
    )
    check_finite(objective, 0)
    return value, gradient, objective, predicted


class StopTest:
    """``tol`` as a bound on the relative objective gap ``(F - min F) / F``.

    A solver calls it after each iteration with its own prediction of the
    gap (cheap: no pass over the data). Once the prediction is below
    ``tol F``, the problem's certificate is computed (see
    :mod:`.._certificate`; about two passes over the data); the fit stops
    when the certified gap is below ``tol F`` (or below the rounding error
    of its own computation: the limit of the working precision), at the
    certificate's point
    (the intercept moved to its best value, which lowers ``F``). After a
    certificate that does not pass, the next one waits until the prediction
    has fallen tenfold, or for ``RETRY_AFTER`` iterations (a prediction at
    its rounding floor falls no further, while the certificate's gradient
    may still shrink). Where the problem has no certificate, the
    prediction decides.

    Where the minimum is zero (an exact fit, such as least squares with more
    features than samples), a relative gap cannot be certified; the gap is
    then compared with ``n noise^2 |F_0|`` instead when that is larger: the
    square of the relative rounding of the objective (``noise`` from
    :class:`Rounding`) times its value at the first point tested, the size
    of a gap whose residuals are rounding errors, times the number ``n`` of
    coordinates (a residual sums that many rounded products, and their
    errors add up).

    Parameters
    ----------
    problem : Problem
        Its ``certify`` gives the certificates.
    tol : float
        The relative gap to certify.
    theta : array, optional
        An array of the working precision (float64 if not given).
    """

    #: After a certificate fails, the prediction must fall by this factor
    #: before the next one is computed.
    PROGRESS_BEFORE_RETRY = 0.1
    #: ... or after this many iterations.
    RETRY_AFTER = 5

    def __init__(self, problem, tol, theta=None):
        self._problem = problem
        self._tol = tol
        self._noise = Rounding(np.zeros(0) if theta is None else theta).noise
        self._floor = None
        self._retry_below = math.inf
        self._waited = 0
        #: The last certificate computed (None before the first).
        self.certificate = None
        #: The gap at the last point tested: certified, else predicted.
        self.gap = math.inf
        #: ``gap`` relative to the objective there.
        self.relative_gap = math.inf
        #: Whether ``gap`` is a certificate's (else a prediction).
        self.certified = False
        self._passed = None

    def __call__(self, theta, objective, predicted_gap):
        """Whether to stop at ``theta`` (``objective`` and prediction are floats)."""
        self.gap, self._passed, self.certified = predicted_gap, None, False
        self.relative_gap = _relative(predicted_gap, objective)
        if self._floor is None:
            terms = max(getattr(self._problem, "n_coordinates", 1), 1)
            self._floor = terms * self._noise**2 * abs(objective)
        target = self._target(objective)
        self._waited += 1
        if not predicted_gap <= target:
            return False
        if predicted_gap > self._retry_below and self._waited < self.RETRY_AFTER:
            return False
        self._waited = 0
        certificate = None if self._problem.certify is None else self._problem.certify(theta)
        if certificate is None:
            return True
        self.certificate, self.gap, self.certified = certificate, certificate.gap, True
        self.relative_gap = _relative(certificate.gap, certificate.objective)
        if (certificate.gap <= self._target(certificate.objective)
                or certificate.at_precision_limit()):
            self._passed = certificate
            return True
        self._retry_below = self.PROGRESS_BEFORE_RETRY * predicted_gap
        return False

    def _target(self, objective):
        return max(self._tol * abs(objective), self._floor)

    def allowance(self, objective):
        """How much the objective may still rise above ``objective`` within ``tol``.

        What the last gap leaves of the target ``tol |F|``: a point whose
        objective exceeds the tested one by at most this is within ``tol``
        of the minimum too.
        """
        return max(self._target(objective) - self.gap, 0.0)

    def final_point(self, theta, objective):
        """``(theta, objective)`` to keep: the certified point if the test just passed."""
        if self._passed is None:
            return theta, objective
        return self._passed.theta, self._passed.objective

    def result(self, theta, converged, log, stalled=False):
        """The :class:`SolverResult` of a loop that ends at ``theta``.

        A loop that stalls (no decrease left in the working precision) after
        a certificate failed reports that certificate: the prediction made
        since, without a pass, may be far below what was proved, and a
        warning quoting it would contradict itself.
        """
        gap, relative_gap, certified = self.gap, self.relative_gap, self.certified
        if stalled and not converged and not certified and self.certificate is not None:
            last = self.certificate
            gap, relative_gap, certified = last.gap, _relative(last.gap, last.objective), True
        return SolverResult(
            theta, len(log.objective_curve), converged, gap, log.objective_curve,
            stalled and not converged, self.certificate if certified else None,
            relative_gap,
        )


def _relative(gap, objective):
    return gap / abs(objective) if objective != 0 else (0.0 if gap == 0 else math.inf)
