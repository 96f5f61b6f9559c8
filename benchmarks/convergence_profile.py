"""Objective gap against wall time on one classification data set.

Usage::

    python benchmarks/convergence_profile.py [--dataset NAME] [--budget SECONDS]
                                             [--quick] [--output PATH]

``run.py`` reports where each fit ends. On a hard problem (Fashion-MNIST on
raw pixels, C=1) no fit reaches the optimum within a useful budget, and the
question becomes how far each one gets in a given time. This script fits, in
one process:

* ``LogisticRegression()``, scikit-learn's default (its fit time ``T`` is the
  unit of the time axis),
* ``LogisticRegression(tol=1e-10, max_iter=10**6)``,
* ``GDLogisticRegression()`` (``bb``) and with ``solver="nesterov"`` (plain
  ``gd``, the note's baseline, is left out to keep a run under half an hour),
* a reference that is not an estimator: scipy's L-BFGS on the very objective
  ``GDLogisticRegression()`` minimises, in its preconditioned coordinates. It
  separates what the coordinates give (shared with our solvers) from what a
  quasi-Newton method adds on top,

and follows every fit through scikit-learn's callback API (both libraries
open one callback task per iteration): at geometrically spaced iterations it
keeps the wall time and a copy of the coefficients, and stops the fit by an
exception once the time budget is spent. The objectives of those snapshots
are computed afterwards, by the data set's ``objective`` (the C=1 mean-form
log-loss of ``gdestimators._reference``), outside the timed fits. The report
gives the relative gap to the best objective reached at multiples of ``T``,
and the time at which each gap was first reached.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.optimize
from sklearn.linear_model import LogisticRegression

from gdestimators import GDLogisticRegression
from gdestimators._losses import classification_loss
from gdestimators._problem import ObjectiveSettings, build_problem
from gdestimators._reference import relative_gap

# benchmarks/ is on sys.path when run as a script.
from datasets import LOADERS, C
from environment import environment_lines
from report import markdown_table

HERE = Path(__file__).resolve().parent
#: Snapshots are kept at iterations k with k >= next_snapshot, which then grows
#: by this factor: about 50 per decade of iterations.
SNAPSHOT_GROWTH = 1.05
#: Multiples of the default LogisticRegression() time at which gaps are read.
TIME_MULTIPLES = (1, 2, 5, 10, 30)
#: Relative gaps whose first time is reported.
GAP_LEVELS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)


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
            estimator.fit(X, y)
        except BudgetSpent:
            status = f"stopped at the {budget:.0f} s budget"
    seconds = time.perf_counter() - start
    if status == "converged" and any("converge" in str(w.message) for w in caught):
        status = "stopped with a ConvergenceWarning"
    if not status.startswith("stopped at"):
        # The solution itself, in case the last iteration fell between
        # snapshots.
        trace.add_snapshot(seconds, estimator.coef_, estimator.intercept_)
    return trace, seconds, status


def lbfgs_in_preconditioned_coordinates(X, y, budget):
    """scipy's L-BFGS on the objective and coordinates of ``GDLogisticRegression(C=C)``.

    Uses the library's private problem builder: the objective, its gradient
    and the change of variables are exactly those the solvers see. Returns
    its :class:`IterationTrace`, the fit time and its status.
    """
    trace = IterationTrace(budget)
    trace.start_clock()  # the set-up below is part of the fit time
    start = time.perf_counter()
    classes, y_index = np.unique(y, return_inverse=True)
    n_samples = X.shape[0]
    loss = classification_loss(classes.shape[0])
    settings = ObjectiveSettings(
        loss, loss.encode_targets(y_index, np.float64),
        l2_strength=1.0 / (C * n_samples), l1_strength=0.0,
    )
    problem, model = build_problem(
        X, settings, np.ones(n_samples), fit_intercept=True, precondition="auto",
    )
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

    result = scipy.optimize.minimize(
        value_and_gradient, theta.ravel(), jac=True, method="L-BFGS-B",
        callback=snapshot,
        options=dict(maxiter=10**6, maxfun=10**6, ftol=0.0, gtol=1e-8),
    )
    seconds = time.perf_counter() - start
    status = (f"stopped at the {budget:.0f} s budget" if seconds > budget
              else f"ended: {result.message}")
    w, b = model.coefficients(result.x.reshape(theta.shape))
    trace.add_snapshot(seconds, w.T, b)
    return trace, seconds, status


def profile(dataset, budget):
    """Fit every case; return ``(reference seconds, rows)`` with objective curves."""
    cases = [
        ("LogisticRegression()", LogisticRegression(), None),
        ("LogisticRegression(tol=1e-10, max_iter=10**6)",
         LogisticRegression(tol=1e-10, max_iter=10**6), budget),
        ("GDLogisticRegression()", GDLogisticRegression(), budget),
        ("GDLogisticRegression(solver='nesterov')",
         GDLogisticRegression(solver="nesterov"), budget),
    ]
    runs = [
        (name, lambda estimator=estimator, limit=limit:
         traced_fit(estimator, dataset.X, dataset.y, limit))
        for name, estimator, limit in cases
    ]
    runs.append((
        "reference: scipy L-BFGS in GDLogisticRegression's coordinates",
        lambda: lbfgs_in_preconditioned_coordinates(dataset.X, dataset.y, budget),
    ))
    rows = []
    for name, run_case in runs:
        trace, seconds, status = run_case()
        curve = [
            (elapsed, iteration, dataset.objective(coef, intercept))
            for elapsed, iteration, coef, intercept in trace.snapshots
        ]
        rows.append(dict(name=name, seconds=seconds, status=status, curve=curve))
        print(f"{name}: {seconds:.1f} s, {status}, last objective "
              f"{curve[-1][2]:.10f} at iteration {curve[-1][1]}", flush=True)
    return rows[0]["seconds"], rows


def gap_at(curve, seconds, best):
    """Relative gap of the best snapshot taken by ``seconds`` (None: none yet)."""
    reached = [objective for elapsed, _, objective in curve if elapsed <= seconds]
    return relative_gap(min(reached), best) if reached else None


def time_to_gap(curve, gap, best):
    """Seconds and iterations of the first snapshot within ``gap`` (None: never)."""
    for elapsed, iteration, objective in curve:
        if relative_gap(objective, best) <= gap:
            return elapsed, iteration
    return None


def report(dataset, reference_seconds, rows, environment):
    """The markdown report."""
    best, best_row = min(
        (objective, f"`{row['name']}`") for row in rows for _, _, objective in row["curve"]
    )
    lines = [
        "# Convergence profile", "", *environment, "",
        f"{dataset.description}. Objective: C=1 penalised mean log-loss "
        f"(softmax for more than two classes), computed by "
        f"`gdestimators._reference.log_loss_objective` at coefficient snapshots taken about "
        f"{1 / np.log10(SNAPSHOT_GROWTH):.0f} times per decade of iterations; "
        f"best objective reached: {best:.10f} (by {best_row}). `T` = "
        f"{reference_seconds:.1f} s, the fit time of `LogisticRegression()`.",
        "",
        "Gaps are `(f - f_best) / f_best` with `f_best` the best objective reached in "
        "this run, not the optimum, which is lower: every gap is a lower bound of the "
        "distance to the optimum, and the row that reached `f_best` is at gap 0 by "
        "definition (its small-gap times say nothing). A time to a gap is that of the "
        "first snapshot within it, so it is an upper bound by at most 5% of the "
        "iterations.",
        "", "## Relative gap at multiples of T", "",
    ]
    gap_rows = []
    for row in rows:
        cells = []
        for multiple in TIME_MULTIPLES:
            seconds = multiple * reference_seconds
            # A fit stopped by the budget says nothing about later times; one
            # that ended by itself keeps its final gap.
            unknown = row["status"].startswith("stopped at") and seconds > row["seconds"]
            gap = gap_at(row["curve"], seconds, best)
            cells.append("—" if unknown or gap is None else f"{gap:.1e}")
        gap_rows.append([f"`{row['name']}`",
                         f"{row['status']} after {row['seconds']:.1f} s", *cells])
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
    lines += ["", "## Time (s) and iterations to a relative gap", "", markdown_table(
        ["estimator", *(f"{gap:.0e}" for gap in GAP_LEVELS)], time_rows
    )]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds per fit (not for LogisticRegression())")
    parser.add_argument("--quick", action="store_true",
                        help="subsampled data set and a 20 s budget (smoke test)")
    parser.add_argument("--output", type=Path, default=HERE / "results_convergence.md")
    args = parser.parse_args()
    budget = 20.0 if args.quick else args.budget
    dataset = LOADERS[args.dataset](quick=args.quick)
    if dataset.task != "classification":
        parser.error(f"{args.dataset} is not a classification data set")
    command = "python benchmarks/convergence_profile.py " + " ".join(
        part for part in (f"--dataset {args.dataset}", f"--budget {budget:.0f}",
                          "--quick" if args.quick else "") if part
    )
    environment = environment_lines(command, budget)
    reference_seconds, rows = profile(dataset, budget)
    text = report(dataset, reference_seconds, rows, environment)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
