"""Objective gap against wall time on one classification data set.

Usage::

    python benchmarks/convergence_profile.py [--dataset NAME] [--budget SECONDS]
                                             [--cases NAME[,NAME...]] [--quick]
                                             [--output PATH]

``run.py`` reports where each fit ends. On a hard problem (Fashion-MNIST on
raw pixels, C=1) no fit reaches the optimum within a useful budget, and the
question becomes how far each one gets in a given time. This script fits, in
one process, the cases of ``--cases`` (by default all but ``nesterov``):

* ``default``: ``LogisticRegression()``, scikit-learn's default, always
  fitted first: its fit time ``T`` is the unit of the time axis;
* ``sklearn_lbfgs``: ``LogisticRegression(tol=1e-10, max_iter=10**6)``;
* ``sklearn_newton``: ``LogisticRegression(solver="newton-cholesky",
  tol=1e-10)``, which has no callbacks: it is fitted one iteration at a time
  (``warm_start=True, max_iter=1``), a Newton iteration depending only on
  the coefficients it starts from;
* ``auto``, ``bb``, ``newton``, ``lbfgs``, ``nesterov``:
  ``GDLogisticRegression()`` and with each ``solver`` (``lbfgs`` only where
  the package has that solver);
* ``scipy_lbfgs``: a reference that is not an estimator: scipy's L-BFGS on
  the very objective ``GDLogisticRegression()`` minimises, in its
  preconditioned coordinates. It separates what the coordinates give (shared
  with our solvers) from what a quasi-Newton method adds on top,

and follows every fit through scikit-learn's callback API (both libraries
open one callback task per iteration): at geometrically spaced iterations it
keeps the wall time and a copy of the coefficients, and stops the fit by an
exception once the time budget is spent (at the end of the iteration that
crosses it: a Newton iteration on Fashion-MNIST takes minutes). The
objectives of those snapshots are computed afterwards, by the data set's
``objective`` (the C=1 mean-form log-loss of ``gdestimators._reference``),
outside the timed fits. No fit reaches the optimum, so gaps are bracketed:
against the best objective reached (a lower bound of the true gap) and
against the lowest objective the duality gap at that best point allows (an
upper bound). The report gives both at multiples of ``T``, the time at
which each gap was first reached, and the goals: a gap of at most 1e-2 at
``T``, 1e-4 within ``10 T`` and 1e-6 within ``30 T``.

Takes about ``len(cases) x budget`` plus a minute per case for the
snapshots' objectives: 40 minutes with the defaults (300 s per fit) on
Fashion-MNIST on two cores, a few minutes with ``--quick``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.optimize
from sklearn.linear_model import LogisticRegression

from gdestimators import GDLogisticRegression
from gdestimators._reference import relative_gap
from gdestimators._solvers import SOLVERS

# benchmarks/ is on sys.path when run as a script.
from datasets import LOADERS, C
from environment import environment_lines
from measure import BudgetExceeded, logistic_certificate, logistic_problem, time_limit
from report import fmt, markdown_table

HERE = Path(__file__).resolve().parent
#: Snapshots are kept at iterations k with k >= next_snapshot, which then grows
#: by this factor: about 50 per decade of iterations.
SNAPSHOT_GROWTH = 1.05
#: Multiples of the default LogisticRegression() time at which gaps are read.
TIME_MULTIPLES = (1, 2, 5, 10, 30)
#: Relative gaps whose first time is reported.
GAP_LEVELS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
#: The goals: (gap, multiple of T by which it should be reached).
GOALS = ((1e-2, 1), (1e-4, 10), (1e-6, 30))
#: A fit is interrupted (by a signal, between two Python bytecodes) at this
#: multiple of the budget when no iteration has ended to let the trace stop
#: it: a Newton iteration on Fashion-MNIST forms a Hessian of 7,850
#: coordinates, which takes far longer than the budget on two cores.
HARD_LIMIT_FACTOR = 1.2
#: Cases fitted unless ``--cases`` says otherwise.
DEFAULT_CASES = ("sklearn_lbfgs", "sklearn_newton", "auto", "bb", "newton", "lbfgs",
                 "scipy_lbfgs")


class BudgetSpent(Exception):
    """Raised by the trace to end a fit that has used up its budget."""


class IterationTrace:
    """A scikit-learn fit callback that keeps snapshots of the iterations.

    Parameters
    ----------
    budget : float or None
        Seconds after which the fit is stopped (:class:`BudgetSpent`).

    Attributes
    ----------
    snapshots : list of tuple
        ``(seconds since the fit started, iteration, coef_, intercept_)``.
    iterations : int
        Iterations seen so far.
    """

    def __init__(self, budget):
        self.budget = budget
        self.snapshots = []
        self._start = None
        self.iterations = 0
        self._next_snapshot = 1.0

    def start_clock(self):
        """Count time from now: called just before ``fit``, so that the
        estimators' set-up (validation, preconditioner) is part of the time."""
        self._start = time.perf_counter()

    def setup(self, estimator, context):
        """Nothing to prepare: the clock is started by :meth:`start_clock`."""

    def teardown(self, estimator, context):
        """Nothing to release."""

    def on_fit_task_begin(self, estimator, context, **kwargs):
        """Nothing to do when an iteration starts."""

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        """Record an iteration (tasks without coefficients are not iterations)."""
        if fitted_estimator is None or not hasattr(fitted_estimator, "coef_"):
            return False  # the root task, or an iteration that never ran
        self.record(lambda: (fitted_estimator.coef_, fitted_estimator.intercept_))
        return False

    def record(self, coefficients):
        """Count an iteration; keep a snapshot when due; stop past the budget.

        ``coefficients`` returns ``(coef_, intercept_)``; it is called only
        for a snapshot. Raises :class:`BudgetSpent` once the budget is spent.
        """
        elapsed = time.perf_counter() - self._start
        self.iterations += 1
        over_budget = self.budget is not None and elapsed > self.budget
        if self.iterations >= self._next_snapshot or over_budget:
            self._next_snapshot = max(self.iterations + 1,
                                      self._next_snapshot * SNAPSHOT_GROWTH)
            self.add_snapshot(elapsed, *coefficients())
        if over_budget:
            raise BudgetSpent

    def add_snapshot(self, elapsed, coef, intercept):
        """Keep a float64 copy of ``(coef_, intercept_)`` at ``elapsed`` seconds."""
        self.snapshots.append((elapsed, self.iterations,
                               np.array(coef, dtype=np.float64),
                               np.array(intercept, dtype=np.float64)))


def _hard_limit(budget):
    return None if budget is None else HARD_LIMIT_FACTOR * budget


def _interrupted(budget):
    return (f"stopped at the {HARD_LIMIT_FACTOR * budget:.0f} s hard limit, in the "
            "middle of an iteration")


def traced_fit(estimator, X, y, budget):
    """Fit with an :class:`IterationTrace`; return it, the fit time and its status."""
    trace = IterationTrace(budget)
    estimator.set_callbacks(trace)
    trace.start_clock()
    start = time.perf_counter()
    status = "converged"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with time_limit(_hard_limit(budget)):
                estimator.fit(X, y)
        except BudgetSpent:
            status = f"stopped at the {budget:.0f} s budget"
        except BudgetExceeded:
            status = _interrupted(budget)
    seconds = time.perf_counter() - start
    if status == "converged" and any("converge" in str(w.message) for w in caught):
        status = "stopped with a ConvergenceWarning"
    if not status.startswith("stopped at"):
        # The solution itself, in case the last iteration fell between
        # snapshots.
        trace.add_snapshot(seconds, estimator.coef_, estimator.intercept_)
    return trace, seconds, status


def stepped_fit(estimator, X, y, budget):
    """Fit one iteration per call, for estimators that have no callbacks.

    ``estimator`` must support ``warm_start`` and ``max_iter`` and depend on
    nothing but its coefficients from one iteration to the next (Newton's
    method does). Every call's validation is part of the time. Returns the
    :class:`IterationTrace`, the fit time and the status.
    """
    estimator.set_params(warm_start=True, max_iter=1)
    trace = IterationTrace(budget)
    trace.start_clock()
    start = time.perf_counter()
    status = "converged"
    try:
        with time_limit(_hard_limit(budget)):
            while True:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    estimator.fit(X, y)
                trace.record(lambda: (estimator.coef_, estimator.intercept_))
                if not any("converge" in str(w.message) for w in caught):
                    break  # the iteration's own stop test passed
    except BudgetSpent:
        status = f"stopped at the {budget:.0f} s budget"
    except BudgetExceeded:
        status = _interrupted(budget)
    seconds = time.perf_counter() - start
    if status == "converged":
        trace.add_snapshot(seconds, estimator.coef_, estimator.intercept_)
    return trace, seconds, status


def lbfgs_in_preconditioned_coordinates(X, y, budget):
    """scipy's L-BFGS on the objective and coordinates of ``GDLogisticRegression(C=C)``.

    Returns its :class:`IterationTrace`, the fit time and its status.
    """
    trace = IterationTrace(budget)
    trace.start_clock()  # the set-up below is part of the fit time
    start = time.perf_counter()
    problem, model = logistic_problem(X, y, C)
    theta = model.initial_theta()

    def value_and_gradient(flat):
        value, gradient = problem.smooth(flat.reshape(theta.shape))
        return float(value), gradient.ravel()

    def snapshot(flat):
        def coefficients():
            w, b = model.coefficients(flat.reshape(theta.shape))
            return w.T, b
        try:
            trace.record(coefficients)
        except BudgetSpent:
            raise StopIteration from None  # scipy ends the minimisation cleanly

    try:
        with time_limit(_hard_limit(budget)):
            result = scipy.optimize.minimize(
                value_and_gradient, theta.ravel(), jac=True, method="L-BFGS-B",
                callback=snapshot,
                options=dict(maxiter=10**6, maxfun=10**6, ftol=0.0, gtol=1e-8),
            )
    except BudgetExceeded:
        return trace, time.perf_counter() - start, _interrupted(budget)
    seconds = time.perf_counter() - start
    status = (f"stopped at the {budget:.0f} s budget" if seconds > budget
              else f"ended: {result.message}")
    w, b = model.coefficients(result.x.reshape(theta.shape))
    trace.add_snapshot(seconds, w.T, b)
    return trace, seconds, status


def certified_lower_bound(dataset, coef, intercept):
    """A lower bound on the optimum: the objective at a point less its duality gap.

    Returns ``(bound, certificate kind)``, or ``(None, reason)`` when there
    is no certificate or it bounds nothing (a gap above the objective).
    """
    certificate = logistic_certificate(dataset, coef, intercept)
    if certificate is None:
        return None, "there is no certificate"
    if certificate.gap >= certificate.objective:
        # The penalised log-loss is never negative: no information.
        return None, (f"its {certificate.kind} ({certificate.gap:.3g}) exceeds the "
                      "objective, so it bounds nothing")
    return certificate.objective - certificate.gap, certificate.kind


#: Cases by name: (label, estimator factory, how it is followed).
CASES = {
    "default": ("LogisticRegression()", LogisticRegression, "unlimited"),
    "sklearn_lbfgs": ("LogisticRegression(tol=1e-10, max_iter=10**6)",
                      lambda: LogisticRegression(tol=1e-10, max_iter=10**6), "callbacks"),
    "sklearn_newton": ("LogisticRegression(solver='newton-cholesky', tol=1e-10)",
                       lambda: LogisticRegression(solver="newton-cholesky", tol=1e-10),
                       "stepped"),
    "auto": ("GDLogisticRegression()", GDLogisticRegression, "callbacks"),
    **{
        solver: (f"GDLogisticRegression(solver={solver!r})",
                 lambda solver=solver: GDLogisticRegression(solver=solver), "callbacks")
        for solver in ("bb", "newton", "lbfgs", "nesterov")
    },
    "scipy_lbfgs": ("reference: scipy L-BFGS in GDLogisticRegression's coordinates",
                    None, "scipy"),
}


def profile(dataset, budget, names):
    """Fit ``LogisticRegression()`` and then each case of ``names``.

    Returns ``(reference seconds, rows)``: a row per case with its name,
    fit time, status and objective curve ``[(seconds, iteration, F)]``.
    Cases the package does not have (a solver not in ``SOLVERS``) get a
    row with that status and no curve.
    """
    rows = []
    for name in ["default", *names]:
        label, make, follow = CASES[name]
        if name in ("bb", "newton", "lbfgs", "nesterov") and name not in SOLVERS:
            rows.append(dict(name=label, seconds=0.0, curve=[],
                             status=f"not run: this version has no solver={name!r}"))
            print(f"{label}: {rows[-1]['status']}", flush=True)
            continue
        if follow == "scipy":
            trace, seconds, status = lbfgs_in_preconditioned_coordinates(
                dataset.X, dataset.y, budget)
        elif follow == "stepped":
            trace, seconds, status = stepped_fit(make(), dataset.X, dataset.y, budget)
        else:
            trace, seconds, status = traced_fit(
                make(), dataset.X, dataset.y, None if follow == "unlimited" else budget)
        curve = [
            (elapsed, iteration, dataset.objective(coef, intercept), coef, intercept)
            for elapsed, iteration, coef, intercept in trace.snapshots
        ]
        rows.append(dict(name=label, seconds=seconds, status=status, curve=curve))
        last = (f"last objective {curve[-1][2]:.10f} at iteration {curve[-1][1]}" if curve
                else "no iteration finished")
        print(f"{label}: {seconds:.1f} s, {status}, {last}", flush=True)
    return rows[0]["seconds"], rows


def gap_at(curve, seconds, best):
    """Relative gap of the best snapshot taken by ``seconds`` (None: none yet)."""
    reached = [point[2] for point in curve if point[0] <= seconds]
    return relative_gap(min(reached), best) if reached else None


def time_to_gap(curve, gap, best):
    """Seconds and iterations of the first snapshot within ``gap`` (None: never)."""
    for elapsed, iteration, objective, *_ in curve:
        if relative_gap(objective, best) <= gap:
            return elapsed, iteration
    return None


def _gap_cell(row, seconds, best, bound):
    # A fit stopped by the budget says nothing about later times; one that
    # ended by itself keeps its final gap.
    if row["status"].startswith("stopped at") and seconds > row["seconds"]:
        return "—"
    low = gap_at(row["curve"], seconds, best)
    if low is None:
        return "—"
    if bound is None:
        return f"{low:.1e}"
    return f"{low:.1e} – {gap_at(row['curve'], seconds, bound):.1e}"


def goal_lines(rows, reference_seconds, best, bound):
    """Markdown lines: for each goal, which fits met it and how close the others got."""
    lines = []
    for gap, multiple in GOALS:
        seconds = multiple * reference_seconds
        parts = []
        for row in rows[1:]:
            if not row["curve"]:
                if not row["status"].startswith("not run"):
                    parts.append(f"`{row['name']}` not reached: no iteration finished in "
                                 f"{row['seconds'] / reference_seconds:.1f} T")
                continue
            hit = time_to_gap(row["curve"], gap, best)
            certain = bound is not None and time_to_gap(row["curve"], gap, bound)
            if hit is not None and hit[0] <= seconds:
                verdict = (f"reached at {hit[0] / reference_seconds:.1f} T"
                           + ("" if certain and certain[0] <= seconds else
                              " (against the best reached only)"))
            else:
                budget_end = min(seconds, row["seconds"])
                closest = gap_at(row["curve"], budget_end, best)
                stopped = seconds > row["seconds"] and row["status"].startswith("stopped at")
                verdict = (f"not reached: {fmt(closest, '.1e')} at "
                           f"{budget_end / reference_seconds:.1f} T"
                           + (" (budget spent)" if stopped else ""))
            parts.append(f"`{row['name']}` {verdict}")
        lines.append(f"- gap <= {gap:.0e} within {multiple} T ({seconds:.0f} s): "
                     + "; ".join(parts) + ".")
    return lines


def report(dataset, reference_seconds, rows, environment):
    """The markdown report."""
    best, best_row, best_coef, best_intercept = min(
        ((point[2], f"`{row['name']}`", point[3], point[4])
         for row in rows for point in row["curve"]), key=lambda item: item[0]
    )
    bound, kind = certified_lower_bound(dataset, best_coef, best_intercept)
    bracket = (
        f"The {kind} at the best point bounds the optimum from below by "
        f"{bound:.10f}, {relative_gap(best, bound):.1e} (relative) under the best "
        "objective reached. Gaps are given as `low – high`: `low` against the best "
        "objective reached (a lower bound of the true gap: the row that reached it "
        "shows 0), `high` against that lower bound on the optimum (an upper bound)."
        if bound is not None else
        f"At the best point {kind}: gaps are against the best objective reached only, "
        "lower bounds of the true gaps."
    )
    lines = [
        "# Convergence profile", "", *environment, "",
        f"{dataset.description}. Objective: C=1 penalised mean log-loss "
        f"(softmax for more than two classes), computed by "
        f"`gdestimators._reference.log_loss_objective` at coefficient snapshots taken about "
        f"{1 / np.log10(SNAPSHOT_GROWTH):.0f} times per decade of iterations; "
        f"best objective reached: {best:.10f} (by {best_row}). `T` = "
        f"{reference_seconds:.1f} s, the fit time of `LogisticRegression()`.",
        "", bracket, "",
        "A time to a gap is that of the first snapshot within it, so it is an upper "
        "bound by at most 5% of the iterations.",
        "", "## Goals", "", *goal_lines(rows, reference_seconds, best, bound),
        "", "## Relative gap at multiples of T", "",
    ]
    gap_rows = [
        [f"`{row['name']}`", f"{row['status']} after {row['seconds']:.1f} s",
         *(_gap_cell(row, multiple * reference_seconds, best, bound)
           for multiple in TIME_MULTIPLES)]
        for row in rows
    ]
    lines.append(markdown_table(
        ["estimator", "status", *(f"{m} T" for m in TIME_MULTIPLES)], gap_rows
    ))
    time_rows = []
    for row in rows:
        hits = (time_to_gap(row["curve"], gap, best) for gap in GAP_LEVELS)
        time_rows.append([f"`{row['name']}`", *(
            "not reached" if hit is None else f"{hit[0]:.1f} s ({hit[1]} it)"
            for hit in hits
        )])
    lines += ["", "## Time (s) and iterations to a relative gap (against the best reached)",
              "", markdown_table(["estimator", *(f"{gap:.0e}" for gap in GAP_LEVELS)],
                                 time_rows)]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds per fit (not for LogisticRegression())")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES),
                        help="comma-separated, from "
                             + ", ".join(c for c in CASES if c != "default"))
    parser.add_argument("--quick", action="store_true",
                        help="subsampled data set and a 20 s budget (smoke test)")
    parser.add_argument("--output", type=Path, default=HERE / "results_convergence.md")
    args = parser.parse_args()
    names = args.cases.split(",")
    unknown = set(names) - set(CASES) | ({"default"} & set(names))
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}")
    budget = 20.0 if args.quick else args.budget
    dataset = LOADERS[args.dataset](quick=args.quick)
    if dataset.task != "classification":
        parser.error(f"{args.dataset} is not a classification data set")
    command = "python benchmarks/convergence_profile.py " + " ".join(
        part for part in (f"--dataset {args.dataset}", f"--budget {budget:.0f}",
                          f"--cases {args.cases}", "--quick" if args.quick else "") if part
    )
    environment = environment_lines(command, budget)
    reference_seconds, rows = profile(dataset, budget, names)
    text = report(dataset, reference_seconds, rows, environment)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
