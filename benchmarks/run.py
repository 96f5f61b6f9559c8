"""Benchmark gdestimators against scikit-learn on raw, unscaled data.

Usage::

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--budget SECONDS]
                             [--output PATH]

For every data set in ``datasets.py`` each estimator is fitted in this one
process (short fits a few times, keeping the fastest) and measured: fit time,
the objective it reached (computed here, by one function per problem type,
never by the estimators), the relative gap to the best objective any of them
reached, iterations, peak traced memory and whether a ``ConvergenceWarning``
was raised. The ``streaming`` section compares
the time of one ``GDLinearRegression`` iteration with one read of ``X``.
Rows are printed as they finish; ``results.md`` is rewritten after every
section so that a long run leaves partial results behind. See ``README.md``.
"""

import argparse
import contextlib
import datetime
import functools
import gc
import os
import platform
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
import threadpoolctl
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

import gdestimators
from gdestimators import GDLinearRegression, GDLogisticRegression

from datasets import LOADERS  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: Sections in run order: the data sets, plus the streaming comparison.
SECTIONS = [*LOADERS, "streaming"]

#: Fits shorter than this (seconds) are repeated and the fastest time kept,
#: because a single run of a few milliseconds is mostly noise.
REPEAT_BELOW_S = 0.5
#: Untraced repeats of a short fit, at most, and the time they may take.
MAX_REPEATS = 5
REPEAT_TOTAL_S = 2.0
#: Default seconds one fit may take, full run and quick run.
DEFAULT_BUDGET_S = 300.0
QUICK_BUDGET_S = 20.0
#: SGD rows, whose compiled epoch loop cannot be interrupted, are first
#: fitted on this share of the rows ("pilot"), and skipped when the pilot
#: time scaled up exceeds the budget.
PILOT_FRACTION = 0.1
#: Only data sets with at least this many stored values get pilot fits.
PILOT_MIN_VALUES = 10_000_000
#: Relative difference between an estimator's own final objective and ours
#: beyond which the row gets a note.
OWN_OBJECTIVE_RTOL = 1e-6
#: Rows per block when the objective is evaluated, bounding its memory.
OBJECTIVE_BLOCK_ROWS = 65_536
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


# --------------------------------------------------------------------------
# Objectives: one independent implementation per problem type.
# --------------------------------------------------------------------------


def _row_blocks(X):
    """Successive row blocks of ``X`` as float64 (dense or CSR)."""
    for start in range(0, X.shape[0], OBJECTIVE_BLOCK_ROWS):
        block = X[start : start + OBJECTIVE_BLOCK_ROWS]
        yield start, block.astype(np.float64, copy=False)


def squared_objective(X, y, coef, intercept, alpha=0.0):
    """Mean-form least squares ``1/(2S) sum (Xw + b - y)^2 + alpha/2 ||w||^2``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : array-like of shape (n_features,)
    intercept : float
    alpha : float, default=0.0
        Mean-form L2 strength (``Ridge(alpha=a)`` is ``alpha = a / S``).

    Returns
    -------
    objective : float
    """
    coef = np.asarray(coef, dtype=np.float64).ravel()
    intercept = float(np.asarray(intercept, dtype=np.float64).ravel()[0])
    total = 0.0
    for start, block in _row_blocks(X):
        residual = block @ coef + intercept - y[start : start + block.shape[0]]
        total += float(residual @ residual)
    return 0.5 * total / X.shape[0] + 0.5 * alpha * float(coef @ coef)


def logistic_objective(X, y, coef, intercept, C=1.0):
    """Mean-form penalised log-loss ``(C sum_i l_i + ||W||^2 / 2) / (C S)``.

    One coefficient row means the binary model (sigmoid, ``y`` in {0, 1});
    ``K`` rows mean the multinomial model (softmax, ``y`` in ``0 .. K-1``).
    The intercept is not penalised.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
    coef : array-like of shape (1, n_features) or (K, n_features)
    intercept : array-like of shape (1,) or (K,)
    C : float, default=1.0

    Returns
    -------
    objective : float
    """
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.asarray(intercept, dtype=np.float64).ravel()
    total = 0.0
    for start, block in _row_blocks(X):
        labels = y[start : start + block.shape[0]]
        if coef.shape[0] == 1:
            z = block @ coef[0] + intercept[0]
            # -log sigmoid(z) for y = 1 and -log(1 - sigmoid(z)) for y = 0.
            total += float(np.sum(np.logaddexp(0.0, z) - labels * z))
        else:
            Z = block @ coef.T + intercept
            total += float(np.sum(logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), labels]))
    penalty = 0.5 * float(np.sum(coef * coef))
    return total / X.shape[0] + penalty / (C * X.shape[0])


def model_objective(dataset, estimator):
    """The objective of ``dataset``'s problem at ``estimator``'s solution."""
    if dataset.task == "regression":
        return squared_objective(dataset.X, dataset.y, estimator.coef_, estimator.intercept_)
    return logistic_objective(dataset.X, dataset.y, estimator.coef_, estimator.intercept_)


# --------------------------------------------------------------------------
# What is measured.
# --------------------------------------------------------------------------


@dataclass
class Case:
    """One estimator configuration.

    Attributes
    ----------
    label : str
        How the estimator is constructed, as code.
    make : callable
        Returns a fresh, unfitted estimator.
    pilot : bool
        Fit a sample of the rows first, and skip the row when that time
        scaled up exceeds the budget (for fits that cannot be interrupted).
    unlimited : bool
        Exempt from the time budget: the references, whose work is bounded
        (a direct solve, or 100 L-BFGS iterations) and which every ratio
        needs.
    """

    label: str
    make: Callable
    pilot: bool = False
    unlimited: bool = False


def _call_arguments(params):
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def case(estimator_class, pilot=False, unlimited=False, **params):
    """A :class:`Case` whose label is the constructor call itself."""
    return Case(
        f"{estimator_class.__name__}({_call_arguments(params)})",
        functools.partial(estimator_class, **params),
        pilot,
        unlimited,
    )


REGRESSION_REFERENCE = "LinearRegression()"
LOGISTIC_REFERENCE = "LogisticRegression()"
LOGISTIC_STRICT = "LogisticRegression(tol=1e-10, max_iter=10000)"


def regression_cases():
    """Estimators for a least-squares problem; the reference comes first."""
    return [
        case(LinearRegression, unlimited=True),
        case(GDLinearRegression),
        *(case(GDLinearRegression, solver=name) for name in ("gd", "nesterov", "bb")),
        # A negligible penalty: Cholesky on X^T X, the fast exact route.
        case(Ridge, alpha=1e-6),
        case(SGDRegressor, pilot=True, random_state=0),
    ]


def classification_cases():
    """Estimators for a logistic problem (C=1); the references come first."""
    return [
        case(LogisticRegression, unlimited=True),
        case(LogisticRegression, tol=1e-10, max_iter=10000),
        case(GDLogisticRegression),
        *(case(GDLogisticRegression, solver=name) for name in ("gd", "nesterov", "bb")),
        case(SGDClassifier, pilot=True, loss="log_loss", random_state=0),
    ]


@dataclass
class Result:
    """Measurements of one fit; ``None`` where not measured."""

    label: str
    time: float | None = None
    objective: float | None = None
    n_iter: int | None = None
    peak_bytes: int | None = None
    convergence_warning: bool | None = None
    notes: list = field(default_factory=list)


def data_nbytes(X):
    """Bytes held by ``X``'s values (and indices, for a sparse matrix)."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _n_iter(estimator):
    n_iter = getattr(estimator, "n_iter_", None)
    if n_iter is None:
        return None
    return int(np.max(n_iter))  # LogisticRegression stores an array


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


class BudgetExceeded(Exception):
    """A fit ran past the time budget."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise :class:`BudgetExceeded` in this (main) thread after ``seconds``.

    ``None`` means no limit.
    The exception is raised at the next Python bytecode, so fits whose loop is
    in Python (the gradient-descent solvers, L-BFGS through scipy) stop within
    one iteration; a compiled loop (SGD's epochs) is only caught when it
    returns, which is why SGD rows get a pilot fit instead.
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


def _fit_seconds(case_, X, y):
    gc.collect()
    estimator = case_.make()
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def traced_fit(case_, X, y):
    """Fit once while tracing memory and recording warnings.

    Returns
    -------
    estimator, seconds, peak_bytes, caught_warnings
    """
    gc.collect()
    estimator = case_.make()
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


def best_time(case_, X, y, first_seconds):
    """The fastest of a few untraced repeats for a short fit, else the first time.

    Repeats run without tracemalloc, whose bookkeeping weighs on short fits.
    """
    if first_seconds >= REPEAT_BELOW_S:
        return first_seconds
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(times) < MAX_REPEATS and sum(times) < REPEAT_TOTAL_S:
            times.append(_fit_seconds(case_, X, y))
    return min(times)


def projected_seconds(case_, X, y):
    """Fit time on all rows projected from a fit on ``PILOT_FRACTION`` of them."""
    n_pilot = max(1, int(X.shape[0] * PILOT_FRACTION))
    rows = np.random.default_rng(0).choice(X.shape[0], size=n_pilot, replace=False)
    rows.sort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fit_seconds(case_, X[rows], y[rows]) / PILOT_FRACTION


def _stored_values(X):
    return X.nnz if sp.issparse(X) else X.size


def measure(case_, dataset, budget):
    """Fit one case on one data set and measure it; failures become notes."""
    result = Result(case_.label)
    X, y = dataset.X, dataset.y
    try:
        if case_.pilot and _stored_values(X) >= PILOT_MIN_VALUES:
            projected = projected_seconds(case_, X, y)
            if projected > budget:
                result.notes.append(
                    f"skipped: a pilot on {PILOT_FRACTION:.0%} of the rows projects "
                    f"{projected:.0f} s > budget {budget:.0f} s"
                )
                return result
        with time_limit(None if case_.unlimited else budget):
            estimator, seconds, peak, caught = traced_fit(case_, X, y)
        result.peak_bytes = peak
        result.convergence_warning = any(
            issubclass(item.category, ConvergenceWarning) for item in caught
        )
        result.notes.extend(_warning_notes(caught))
        result.n_iter = _n_iter(estimator)
        result.objective = model_objective(dataset, estimator)
        result.notes.extend(_self_report_notes(estimator, result.objective))
        result.time = best_time(case_, X, y, seconds)
    except BudgetExceeded:
        result.notes.append(f"stopped: still running after the {budget:.0f} s budget")
    except Exception as error:  # one failing row must not end the run
        result.notes.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
    finally:
        # The budget's interrupt can land before traced_fit stops tracing,
        # which would slow and skew every later row.
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    return result


def run_dataset(dataset, budget):
    """Measure every applicable case on ``dataset``, printing rows as they finish."""
    cases = regression_cases() if dataset.task == "regression" else classification_cases()
    results = []
    for case_ in cases:
        result = measure(case_, dataset, budget)
        results.append(result)
        print_result(dataset.name, result)
    return results


def time_read(X, repeats=READ_REPEATS):
    """Fastest of ``repeats`` timings of ``X.sum()``: one streaming read of X."""
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
    the end), divided by the difference of iterations. None if a fit stopped
    early.
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


def run_streaming(dataset, budget):
    """GDLinearRegression seconds per iteration as a multiple of one read of X.

    ``fit time / n_iter`` includes the set-up (statistics for preconditioning,
    the Lipschitz estimate), so with few iterations it overstates the cost of
    one; the marginal cost from :func:`marginal_iteration_seconds` does not.
    """
    rows = []
    for dtype in (np.float64, np.float32):
        row = {"dtype": np.dtype(dtype).name, "notes": []}
        try:
            X = dataset.X.astype(dtype, copy=False)
            row["read"] = time_read(X)
            gc.collect()
            with time_limit(budget), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                estimator = GDLinearRegression().fit(X, dataset.y)
                row["time"] = time.perf_counter() - start
            row["convergence_warning"] = any(
                issubclass(item.category, ConvergenceWarning) for item in caught
            )
            row["n_iter"] = estimator.n_iter_
            row["coef_dtype"] = estimator.coef_.dtype.name
            if estimator.coef_.dtype != dtype:
                row["notes"].append(f"coef_ is {estimator.coef_.dtype}, expected {row['dtype']}")
            row["objective"] = squared_objective(X, dataset.y, estimator.coef_,
                                                 estimator.intercept_)
            with time_limit(budget):
                row["marginal"] = marginal_iteration_seconds(X, dataset.y)
            if row["marginal"] is not None and row["marginal"] <= 0:
                row["notes"].append("marginal cost <= 0: timings too noisy (machine busy?)")
            del X
        except BudgetExceeded:
            row["notes"].append(f"stopped: still running after the {budget:.0f} s budget")
        except Exception as error:
            row["notes"].append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
        rows.append(row)
        print(f"[streaming] {_streaming_line(row)}", flush=True)
    return rows


# --------------------------------------------------------------------------
# Reporting.
# --------------------------------------------------------------------------


def _fmt(value, spec, missing="—"):
    return missing if value is None else format(value, spec)


def _yes_no(flag):
    return "—" if flag is None else ("yes" if flag else "no")


def print_result(section, result):
    """One progress line per finished row."""
    peak_mb = None if result.peak_bytes is None else result.peak_bytes / 2**20
    print(
        f"[{section}] {result.label:50s} time {_fmt(result.time, '.3f')} s  "
        f"objective {_fmt(result.objective, '.12g')}  n_iter {_fmt(result.n_iter, 'd')}  "
        f"peak {_fmt(peak_mb, '.1f')} MB  ConvergenceWarning {_yes_no(result.convergence_warning)}"
        + (f"  [{'; '.join(result.notes)}]" if result.notes else ""),
        flush=True,
    )


def _streaming_line(row):
    per_iter = _per_iteration(row)
    return (
        f"{row['dtype']}: X.sum() {_fmt(row.get('read'), '.4f')} s  "
        f"fit {_fmt(row.get('time'), '.3f')} s  n_iter {_fmt(row.get('n_iter'), 'd')}  "
        f"per iteration {_fmt(per_iter, '.4f')} s  "
        f"marginal per iteration {_fmt(row.get('marginal'), '.4f')} s"
        + (f"  [{'; '.join(row['notes'])}]" if row["notes"] else "")
    )


def _per_iteration(row):
    if row.get("time") is None or not row.get("n_iter"):
        return None
    return row["time"] / row["n_iter"]


def _ratio(time_, reference):
    if time_ is None or reference is None or reference.time is None:
        return None
    return time_ / reference.time


def _relative_gaps(results):
    """``(f - f_best) / |f_best|`` per row, ``f_best`` over finite objectives."""
    finite = [r.objective for r in results if r.objective is not None and np.isfinite(r.objective)]
    if not finite:
        return [None] * len(results)
    best = min(finite)
    scale = abs(best) if best != 0 else 1.0
    return [
        (r.objective - best) / scale
        if r.objective is not None and np.isfinite(r.objective) else None
        for r in results
    ]


def _cell(text):
    return str(text).replace("|", "\\|")


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(dataset_task, results, x_bytes):
    """The markdown table of one data set's results."""
    by_label = {r.label: r for r in results}
    if dataset_task == "regression":
        references = [("× LinearRegression", by_label.get(REGRESSION_REFERENCE))]
    else:
        references = [
            ("× LogReg()", by_label.get(LOGISTIC_REFERENCE)),
            ("× LogReg(tol=1e-10)", by_label.get(LOGISTIC_STRICT)),
        ]
    header = [
        "estimator", "fit (s)", *(name for name, _ in references), "objective",
        "rel. gap", "n_iter", "peak (MB)", "peak / X", "ConvergenceWarning", "notes",
    ]
    rows = []
    for result, gap in zip(results, _relative_gaps(results), strict=True):
        peak = result.peak_bytes
        rows.append([
            f"`{result.label}`",
            _fmt(result.time, ".3f"),
            *(_fmt(_ratio(result.time, ref), ".2f") for _, ref in references),
            _fmt(result.objective, ".10g"),
            _fmt(gap, ".1e"),
            _fmt(result.n_iter, "d"),
            _fmt(None if peak is None else peak / 2**20, ".1f"),
            _fmt(None if peak is None else peak / x_bytes, ".2f"),
            _yes_no(result.convergence_warning),
            "; ".join(result.notes),
        ])
    return _markdown_table(header, rows)


def _over_read(seconds, row):
    if seconds is None or not row.get("read"):
        return None
    return seconds / row["read"]


def streaming_table(rows):
    """The markdown table of the streaming comparison."""
    header = [
        "X dtype", "X.sum() (s)", "GDLinearRegression() fit (s)", "n_iter",
        "fit / n_iter (s)", "÷ read", "marginal s / iteration", "÷ read",
        "coef_ dtype", "objective", "ConvergenceWarning", "notes",
    ]
    lines = []
    for row in rows:
        per_iter = _per_iteration(row)
        marginal = row.get("marginal")
        lines.append([
            row["dtype"], _fmt(row.get("read"), ".4f"), _fmt(row.get("time"), ".3f"),
            _fmt(row.get("n_iter"), "d"),
            _fmt(per_iter, ".4f"), _fmt(_over_read(per_iter, row), ".1f"),
            _fmt(marginal, ".4f"), _fmt(_over_read(marginal, row), ".1f"),
            row.get("coef_dtype", "—"), _fmt(row.get("objective"), ".10g"),
            _yes_no(row.get("convergence_warning")), "; ".join(row["notes"]),
        ])
    return _markdown_table(header, lines)


def _git_state():
    """Commit of the repository and whether gdestimators/ has local changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "gdestimators"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes in gdestimators/" if dirty else "")


def _proc_field(path, key):
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _blas_summary():
    return "; ".join(
        f"{info['internal_api']} {info.get('version') or ''} ({info['num_threads']} threads)"
        for info in threadpoolctl.threadpool_info()
    )


def _load_average():
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def environment_lines(command, budget):
    """Machine, versions, date and command, as markdown list items."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    ram = f"{int(memory_kb) / 2**20:.1f} GiB" if memory_kb.isdigit() else "unknown"
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: nproc {len(os.sched_getaffinity(0))}, "
        f"{_proc_field('/proc/cpuinfo', 'model name')}, {ram} RAM, {platform.platform()}",
        f"- load average at start (1, 5, 15 min): {_load_average()}; timings are "
        "only comparable within a run on an otherwise idle machine",
        f"- BLAS / OpenMP: {_blas_summary()}",
        f"- time budget per fit: {budget:.0f} s",
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"gdestimators {gdestimators.__version__} (git {_git_state()})",
    ]


SCORING_NOTE = (
    "Columns are explained in `benchmarks/README.md`. Objectives are mean-form "
    "and computed by the benchmark, not by the estimators: regression rows are "
    "all scored on the unpenalised least-squares objective, classification rows "
    "on the C=1 penalised log-loss (sigmoid for two classes, softmax for more), "
    "SGD rows included although they minimise other objectives."
)


def write_report(path, environment, sections, elapsed, finished):
    """Rewrite the whole markdown report from the sections done so far."""
    status = "complete" if finished else "in progress"
    progress = "so far" if not finished else "in total"
    parts = [
        "# gdestimators benchmark results", "", *environment,
        f"- run {status}: {elapsed / 60:.1f} min {progress}; load average now "
        f"{_load_average()}",
        "", SCORING_NOTE,
    ]
    for title, description, table in sections:
        parts += ["", f"## {title}", "", description, "", table]
    path.write_text("\n".join(parts) + "\n")


# --------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small subsamples: a smoke test of a minute or two")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated sections to run, from {', '.join(SECTIONS)}")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds one fit may take before it is stopped (SGD: "
                             f"projected from a pilot fit); default {DEFAULT_BUDGET_S:.0f}, "
                             f"{QUICK_BUDGET_S:.0f} with --quick")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown report (default benchmarks/results.md, or "
                             "benchmarks/results_quick.md with --quick)")
    args = parser.parse_args(argv)
    args.sections = SECTIONS if args.only is None else args.only.split(",")
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if args.budget is None:
        args.budget = QUICK_BUDGET_S if args.quick else DEFAULT_BUDGET_S
    if args.output is None:
        args.output = HERE / ("results_quick.md" if args.quick else "results.md")
    return args


def run_section(name, quick, budget):
    """Load and run one section; returns ``(title, description, table)``."""
    if name == "streaming":
        dataset = LOADERS["tall"](quick)
        rows = run_streaming(dataset, budget)
        description = (
            f"One `X.sum()` (fastest of {READ_REPEATS}) against the time of one "
            f"`GDLinearRegression()` iteration on the tall set "
            f"({dataset.X.shape[0]:,} x {dataset.X.shape[1]}), X as float64 and as "
            "float32: fit time / n_iter (set-up included), and the marginal cost "
            f"of an iteration (fit time difference between max_iter="
            f"{MARGINAL_ITERATIONS[1]} and {MARGINAL_ITERATIONS[0]} of "
            f"`GDLinearRegression({_call_arguments(MARGINAL_PARAMS)})`, fastest of "
            f"{MARGINAL_REPEATS}, per iteration)."
        )
        return "streaming", description, streaming_table(rows)
    dataset = LOADERS[name](quick)
    results = run_dataset(dataset, budget)
    table = results_table(dataset.task, results, data_nbytes(dataset.X))
    return dataset.name, dataset.description + ".", table


def main(argv=None):
    """Run the selected sections and write the report."""
    args = parse_args(argv)
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
    environment = environment_lines(command, args.budget)
    print("\n".join(environment), flush=True)
    sections = []
    start = time.perf_counter()
    for name in (s for s in SECTIONS if s in args.sections):
        print(f"\n== {name} ==", flush=True)
        try:
            sections.append(run_section(name, args.quick, args.budget))
        except Exception as error:  # e.g. a data set that cannot be loaded
            message = f"{type(error).__name__}: {error}"
            print(f"[{name}] failed: {message}", flush=True)
            sections.append((name, "Section failed.", f"`{message}`"))
        gc.collect()
        write_report(args.output, environment, sections, time.perf_counter() - start, False)
    write_report(args.output, environment, sections, time.perf_counter() - start, True)
    print(f"\nwrote {args.output}", flush=True)


if __name__ == "__main__":
    main()
