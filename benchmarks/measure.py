"""Measuring fits: wall time, traced memory, the objective reached, a time budget.

:func:`measure` fits one :class:`cases.Case` on one :class:`datasets.Dataset`
and returns a :class:`Result`; :func:`measure_streaming` compares the time
of a ``GDLinearRegression`` iteration with one read of ``X``. Nothing here
prints or formats: a failure becomes a note on the result, so that one bad
row never ends a run.
"""

import contextlib
import gc
import signal
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from gdestimators import GDLinearRegression
from gdestimators._losses import classification_loss
from gdestimators._problem import ObjectiveSettings, build_problem
from gdestimators._reference import least_squares_objective

#: Fits shorter than this (seconds) are repeated and the fastest time kept,
#: because a single run of a few milliseconds is mostly noise.
REPEAT_BELOW_S = 0.5
#: Untraced repeats of a short fit, at most, and the time they may take.
MAX_REPEATS = 5
REPEAT_TOTAL_S = 2.0
#: SGD rows, whose compiled epoch loop cannot be interrupted, are first
#: fitted on this share of the rows ("pilot"), and skipped when the pilot
#: time scaled up exceeds the budget.
PILOT_FRACTION = 0.1
#: Only data sets with at least this many stored values get pilot fits.
PILOT_MIN_VALUES = 10_000_000
#: Relative difference between an estimator's own final objective and ours
#: beyond which the row gets a note.
OWN_OBJECTIVE_RTOL = 1e-6
#: Repetitions of ``X.sum()``; the fastest is kept.
READ_REPEATS = 5
#: ``max_iter`` of the two fits whose time difference gives the cost of one
#: iteration without the set-up, and how often each is timed.
MARGINAL_ITERATIONS = (5, 30)
MARGINAL_REPEATS = 3
#: Those fits are plain gradient descent with this fixed step (in the
#: preconditioned coordinates: far below the stable 2/L), so that they can
#: neither converge nor stop early before max_iter; the default solver may
#: well converge in one iteration.
MARGINAL_PARAMS = {"solver": "gd", "learning_rate": 0.01, "tol": 0.0}
#: Fitted attributes kept on a :class:`Result` when the estimator has them:
#: gdestimators' certificate and the solvers that ran.
KEPT_ATTRIBUTES = ("dual_gap_", "solver_")


class BudgetExceeded(Exception):
    """A fit ran past the time budget."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise :class:`BudgetExceeded` in this (main) thread after ``seconds``.

    The exception is raised at the next Python bytecode, so fits whose loop is
    in Python (the gradient-descent solvers, L-BFGS through scipy) stop within
    one iteration; a compiled loop (SGD's epochs) is only caught when it
    returns, which is why SGD rows get a pilot fit instead.

    Parameters
    ----------
    seconds : float or None
        The limit; None for none.
    """
    if seconds is None:
        yield
        return

    def interrupt(signum, frame):
        raise BudgetExceeded

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Result:
    """Measurements of one fit; ``None`` where not measured.

    ``convergence_message`` is the first line of the first
    ``ConvergenceWarning``, ``coef`` and ``intercept`` the fitted ``coef_``
    and ``intercept_`` as float64 arrays (for comparing zero patterns, or
    certifying them), ``attributes`` the fitted ``KEPT_ATTRIBUTES`` the estimator
    has, and ``timings`` the number of fits the time is the fastest of.
    """

    label: str
    time: float | None = None
    objective: float | None = None
    n_iter: int | None = None
    peak_bytes: int | None = None
    convergence_warning: bool | None = None
    notes: list = field(default_factory=list)
    convergence_message: str | None = None
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    attributes: dict = field(default_factory=dict)
    timings: int = 1


@dataclass
class StreamingResult:
    """One ``GDLinearRegression`` fit against reads of ``X`` of one dtype.

    ``read``, ``time`` and ``marginal`` are seconds: the fastest
    ``X.sum()``, the default fit, and one iteration without the set-up.
    """

    dtype: str
    read: float | None = None
    time: float | None = None
    n_iter: int | None = None
    marginal: float | None = None
    coef_dtype: str | None = None
    objective: float | None = None
    convergence_warning: bool | None = None
    notes: list = field(default_factory=list)


def data_nbytes(X):
    """Bytes held by ``X``'s values (and indices, for a sparse matrix).

    Parameters
    ----------
    X : ndarray or sparse matrix

    Returns
    -------
    nbytes : int
    """
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _stored_values(X):
    return X.nnz if sp.issparse(X) else X.size


def _n_iter(estimator):
    n_iter = getattr(estimator, "n_iter_", None)
    if n_iter is None:
        return None
    return int(np.max(n_iter))  # LogisticRegression stores an array


def _has_convergence_warning(caught):
    return any(issubclass(item.category, ConvergenceWarning) for item in caught)


def _convergence_message(caught):
    for item in caught:
        if issubclass(item.category, ConvergenceWarning):
            return str(item.message).splitlines()[0]
    return None


def _warning_notes(caught):
    """Distinct non-convergence warnings, shortened, for the notes column."""
    notes = []
    for item in caught:
        if issubclass(item.category, ConvergenceWarning):
            continue
        text = f"{item.category.__name__}: {str(item.message).splitlines()[0][:80]}"
        if text not in notes:
            notes.append(text)
    return notes


def _error_note(error):
    return f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"


def _budget_note(budget):
    return f"stopped: still running after the {budget:.0f} s budget"


def _self_report_notes(estimator, objective):
    """A note when the estimator's own last objective disagrees with ours.

    gdestimators record their objective in ``loss_curve_``; a disagreement
    beyond rounding points at a bug in one of the two implementations.
    """
    curve = getattr(estimator, "loss_curve_", None)
    if curve is None or len(curve) == 0:
        return []
    own = float(curve[-1])
    if np.isclose(own, objective, rtol=OWN_OBJECTIVE_RTOL, atol=0.0):
        return []
    return [f"loss_curve_[-1] = {own:.10g} disagrees with the objective"]


def _fit_seconds(case, X, y):
    gc.collect()
    estimator = case.make()
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def _traced_fit(case, X, y):
    """Fit once while tracing memory and recording warnings.

    Returns the fitted estimator, the seconds of ``fit``, the peak of the
    memory ``tracemalloc`` traced during it and the warnings it raised.
    """
    gc.collect()
    estimator = case.make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracemalloc.start()
        try:
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return estimator, seconds, peak, caught


def _best_time(case, X, y, first_seconds, repeats=None, budget=None):
    """The fastest of a few untraced timings, and how many fits that is.

    Repeats run without tracemalloc, whose bookkeeping weighs on short fits.
    By default a fit shorter than ``REPEAT_BELOW_S`` is repeated (at most
    ``MAX_REPEATS`` times, ``REPEAT_TOTAL_S`` in all) and a longer one is
    timed once. With ``repeats``, the fit is timed ``repeats`` more times
    untraced, each under ``budget``, but no more once a timing has exceeded a
    tenth of ``budget``, and not at all when the traced fit took more than a
    quarter of it (a budget of None: always ``repeats``); ``first_seconds``
    is one more candidate.
    """
    if repeats is None:
        if first_seconds >= REPEAT_BELOW_S:
            return first_seconds, 1
        times = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while len(times) < MAX_REPEATS and sum(times) < REPEAT_TOTAL_S:
                times.append(_fit_seconds(case, X, y))
        return min(times), len(times)
    times = []
    if budget is not None and first_seconds > budget / 4:
        return first_seconds, 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(times) < repeats:
            if times and budget is not None and max(times) > budget / 10:
                break
            try:
                with time_limit(budget):
                    times.append(_fit_seconds(case, X, y))
            except BudgetExceeded:
                break
    return min([first_seconds, *times]), 1 + len(times)


def _projected_seconds(case, X, y):
    """Fit time on all rows projected from a fit on ``PILOT_FRACTION`` of them."""
    n_pilot = max(1, int(X.shape[0] * PILOT_FRACTION))
    rows = np.random.default_rng(0).choice(X.shape[0], size=n_pilot, replace=False)
    rows.sort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fit_seconds(case, X[rows], y[rows]) / PILOT_FRACTION


def measure(case, dataset, budget, repeats=None):
    """Fit one case on one data set and measure it; failures become notes.

    Parameters
    ----------
    case : cases.Case
        What to fit.
    dataset : datasets.Dataset
        The data, and the objective every row is scored on.
    budget : float
        Seconds the fit may take, unless ``case.unlimited``.
    repeats : int, default=None
        Time the fit this many more times without tracing memory, fewer for
        fits longer than a tenth of the budget, none for fits longer than a
        quarter, and keep the fastest (for a machine shared with other
        work); by default only fits shorter than ``REPEAT_BELOW_S`` are
        repeated.

    Returns
    -------
    result : Result
    """
    result = Result(case.label)
    X, y = dataset.X, dataset.y
    try:
        if case.pilot and _stored_values(X) >= PILOT_MIN_VALUES:
            projected = _projected_seconds(case, X, y)
            if projected > budget:
                result.notes.append(
                    f"skipped: a pilot on {PILOT_FRACTION:.0%} of the rows projects "
                    f"{projected:.0f} s > budget {budget:.0f} s"
                )
                return result
        with time_limit(None if case.unlimited else budget):
            estimator, seconds, peak, caught = _traced_fit(case, X, y)
        result.peak_bytes = peak
        result.convergence_warning = _has_convergence_warning(caught)
        result.convergence_message = _convergence_message(caught)
        result.notes.extend(_warning_notes(caught))
        result.n_iter = _n_iter(estimator)
        result.coef = np.array(estimator.coef_, dtype=np.float64)
        result.intercept = np.array(estimator.intercept_, dtype=np.float64)
        result.attributes = {
            name: getattr(estimator, name)
            for name in KEPT_ATTRIBUTES if hasattr(estimator, name)
        }
        result.objective = dataset.objective(estimator.coef_, estimator.intercept_)
        result.notes.extend(_self_report_notes(estimator, result.objective))
        result.time, result.timings = _best_time(
            case, X, y, seconds, repeats, None if case.unlimited else budget
        )
    except BudgetExceeded:
        result.notes.append(_budget_note(budget))
    except Exception as error:  # one failing row must not end the run
        result.notes.append(_error_note(error))
    finally:
        # The budget's interrupt can land before _traced_fit stops tracing,
        # which would slow and skew every later row.
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    return result


def time_read(X, repeats=READ_REPEATS):
    """Fastest of ``repeats`` timings of ``X.sum()``: one streaming read of X.

    Parameters
    ----------
    X : ndarray
    repeats : int, default=READ_REPEATS

    Returns
    -------
    seconds : float
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        X.sum()
        times.append(time.perf_counter() - start)
    return min(times)


def marginal_iteration_seconds(X, y):
    """Seconds of one ``GDLinearRegression`` iteration, set-up excluded.

    The difference of the fastest fit times at the two ``max_iter`` of
    ``MARGINAL_ITERATIONS`` (with ``MARGINAL_PARAMS``, so that both run to
    the end), divided by the difference of iterations.

    Parameters
    ----------
    X, y : ndarray
        The data.

    Returns
    -------
    seconds : float or None
        None if a fit stopped before ``max_iter``.
    """
    fastest = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converging is the point
        for n_iter in MARGINAL_ITERATIONS:
            times = []
            for _ in range(MARGINAL_REPEATS):
                estimator = GDLinearRegression(max_iter=n_iter, **MARGINAL_PARAMS)
                gc.collect()
                start = time.perf_counter()
                estimator.fit(X, y)
                times.append(time.perf_counter() - start)
                if estimator.n_iter_ != n_iter:
                    return None
            fastest.append(min(times))
    low, high = MARGINAL_ITERATIONS
    return (fastest[1] - fastest[0]) / (high - low)


def measure_streaming(X, y, budget):
    """GDLinearRegression seconds per iteration against one read of ``X``.

    ``fit time / n_iter`` includes the set-up (statistics for preconditioning,
    the Lipschitz estimate), so with few iterations it overstates the cost of
    one; the marginal cost from :func:`marginal_iteration_seconds` does not.

    Parameters
    ----------
    X : ndarray
        Features, of the dtype to measure; the coefficients should keep it.
    y : ndarray
        Regression targets.
    budget : float
        Seconds the default fit, and then the marginal fits, may take.

    Returns
    -------
    result : StreamingResult
    """
    result = StreamingResult(X.dtype.name)
    try:
        result.read = time_read(X)
        gc.collect()
        with time_limit(budget), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            estimator = GDLinearRegression().fit(X, y)
            result.time = time.perf_counter() - start
        result.convergence_warning = _has_convergence_warning(caught)
        result.n_iter = estimator.n_iter_
        result.coef_dtype = estimator.coef_.dtype.name
        if estimator.coef_.dtype != X.dtype:
            result.notes.append(f"coef_ is {estimator.coef_.dtype}, expected {X.dtype}")
        result.objective = least_squares_objective(X, y, estimator.coef_, estimator.intercept_)
        with time_limit(budget):
            result.marginal = marginal_iteration_seconds(X, y)
        if result.marginal is not None and result.marginal <= 0:
            result.notes.append("marginal cost <= 0: timings too noisy (machine busy?)")
    except BudgetExceeded:
        result.notes.append(_budget_note(budget))
    except Exception as error:  # the other dtype's row is still worth having
        result.notes.append(_error_note(error))
    return result


def logistic_problem(X, y, C, l1_ratio=0.0):
    """The problem ``GDLogisticRegression(C, l1_ratio=l1_ratio)`` solves, as its solvers see it.

    Uses the library's private problem builder: the objective, its gradient,
    the change of variables and the certificate are exactly the solvers'.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class labels.
    C : float
        Inverse penalty strength.
    l1_ratio : float, default=0.0
        L1 share of the penalty.

    Returns
    -------
    problem, model
        As ``gdestimators._problem.build_problem`` returns them.
    """
    classes, y_index = np.unique(y, return_inverse=True)
    n_samples = X.shape[0]
    loss = classification_loss(classes.shape[0])
    strength = 1.0 / (C * n_samples)
    settings = ObjectiveSettings(
        loss, loss.encode_targets(y_index, np.float64),
        l2_strength=strength * (1.0 - l1_ratio), l1_strength=strength * l1_ratio,
    )
    precondition = "auto" if l1_ratio == 0 else "diagonal"
    return build_problem(
        X, settings, np.ones(n_samples), fit_intercept=True, precondition=precondition,
    )


def logistic_certificate(dataset, coef, intercept):
    """The package's certificate at ``(coef, intercept)``, computed afresh.

    Computed by ``problem.certify`` (the stop test's certificate, with the
    intercept moved to its best value) at any coefficients, a fit's or
    another library's, independently of what the fit stored in ``dual_gap_``.

    Parameters
    ----------
    dataset : datasets.Dataset
        A classification problem; its ``C`` and ``l1_ratio`` apply.
    coef : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept : ndarray of shape (1,) or (n_classes,)

    Returns
    -------
    certificate : gdestimators._certificate.Certificate or None
        Its ``gap`` bounds ``F - min F`` at its ``theta``, whose objective
        is ``objective`` (no larger than at ``(coef, intercept)``); None
        where the problem has no certificate.
    """
    problem, model = logistic_problem(dataset.X, dataset.y, dataset.C, dataset.l1_ratio)
    theta = model.initial_theta(np.atleast_2d(coef).T, np.asarray(intercept).ravel())
    return problem.certify(theta)
