"""Ill-conditioned logistic problems: default fits against scikit-learn's exact solvers.

Usage::

    python benchmarks/hard_problems.py [--only NAME[,NAME...]] [--budget SECONDS]
                                       [--repeats N] [--blas-threads N] [--output PATH]

Raw, unscaled data on which first-order steps crawl: ``load_digits`` at
``C`` in {1, 100, 1e4}, ``load_breast_cancer`` and ``load_wine`` at {1, 1e4},
and a small table whose money-valued column almost separates the classes
(``datasets.load_near_separable``) at {1, 100}. On each, in one process:

* ``GDLogisticRegression(C=C)``, every other parameter at its default;
* ``LogisticRegression(C=C, tol=1e-12, max_iter=10000)`` (L-BFGS);
* ``LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
  max_iter=10000)``.

Each fit runs once with its memory traced (for its objective and warnings),
then is timed ``--repeats`` times (default 3) without, and the fastest time
is kept; fits longer than a tenth of ``--budget`` (default 120 s) are timed
once more only, fits longer than a quarter of it not again. A fit still
running after the budget is stopped and has no objective. Objectives are
computed by ``Dataset.objective`` (``gdestimators._reference.log_loss_objective``
at ``C``), never by the estimators. The goals checked: the default fit ends
without a warning, the package's certificate computed afresh at its
coefficients (and, for comparison, the ``dual_gap_`` it stored) is at most
1e-6 of its objective, its objective is within 1e-6 (relative) of the lower
of the two scikit-learn optima, and it takes at most twice the time of
Newton-Cholesky.

Writes ``benchmarks/results_hard_problems.md``. Takes about 15 minutes on two
idle cores, most of it scikit-learn's L-BFGS, which on these raw data runs
to ``max_iter`` or to the budget.
"""

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import threadpoolctl
from sklearn.linear_model import LogisticRegression

from gdestimators import GDLogisticRegression
from gdestimators._reference import relative_gap

# benchmarks/ is on sys.path when run as a script.
from cases import case
from datasets import PROBLEM_LOADERS
from environment import REPO, environment_lines
from measure import logistic_certificate, measure
from report import fmt, markdown_table, result_line, write_report

HERE = Path(__file__).resolve().parent
#: Data sets and the values of C each is fitted at.
PROBLEMS = {
    "digits": (1.0, 100.0, 1e4),
    "breast_cancer": (1.0, 1e4),
    "wine": (1.0, 1e4),
    "near_separable": (1.0, 100.0),
}
#: scikit-learn's tolerance and iteration limit: as far as each solver goes.
REFERENCE_TOL = 1e-12
REFERENCE_MAX_ITER = 10_000
#: The goals: relative gap (certified, and against scikit-learn's optimum)
#: and fit time over Newton-Cholesky's.
GAP_GOAL = 1e-6
RATIO_GOAL = 2.0
DEFAULT_BUDGET_S = 120.0
DEFAULT_REPEATS = 3

NOTE = (
    "One row per problem. Times are the fastest of the `timings` fits of each "
    "estimator (the first traced by tracemalloc; fits longer than a tenth of the "
    "budget are timed twice in all, longer than a quarter once). `gap vs sklearn` is "
    "`(F_GD - F_ref) / F_ref` with `F_ref` the lower of the two scikit-learn "
    "objectives, all computed by `gdestimators._reference.log_loss_objective` "
    "(negative: the default fit is lower); `L-BFGS gap` is L-BFGS's own gap to "
    "`F_ref`, and `N-C gap` Newton-Cholesky's. `dual_gap_ / F` is what the fit "
    "stored as its certificate, relative to its objective; `certificate / F` is "
    "the package's certificate (`problem.certify`, the stop test's) computed "
    "afresh by the benchmark at the fitted coefficients, relative to the "
    "objective there. Goals: no warning, `certificate / F <= 1e-6`, `gap vs "
    "sklearn <= 1e-6`, `GD / N-C <= 2`; ✗ marks a miss."
)


def parse_args(argv=None):
    """Command-line options.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    args : argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None,
                        help=f"comma-separated data sets, from {', '.join(PROBLEMS)}")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                        help=f"seconds one fit may take (default {DEFAULT_BUDGET_S:.0f})")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help=f"timings per fit, the fastest kept (default {DEFAULT_REPEATS})")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS / OpenMP threads (default: as configured); "
                             "1 spares small problems the cost of threads fighting "
                             "other work for the cores")
    parser.add_argument("--output", type=Path, default=HERE / "results_hard_problems.md")
    args = parser.parse_args(argv)
    args.problems = list(PROBLEMS) if args.only is None else args.only.split(",")
    unknown = set(args.problems) - set(PROBLEMS)
    if unknown:
        parser.error(f"unknown data set(s) {sorted(unknown)}; choose from {list(PROBLEMS)}")
    return args


def problem_cases(C):
    """The default fit and the two references at ``C``, the default fit first.

    Parameters
    ----------
    C : float
        Inverse penalty strength.

    Returns
    -------
    cases : list of cases.Case
    """
    return [
        case(GDLogisticRegression, C=C),
        case(LogisticRegression, C=C, tol=REFERENCE_TOL, max_iter=REFERENCE_MAX_ITER),
        case(LogisticRegression, C=C, solver="newton-cholesky", tol=REFERENCE_TOL,
             max_iter=REFERENCE_MAX_ITER),
    ]


def _warnings(result):
    parts = []
    if result.convergence_message:
        parts.append(f"ConvergenceWarning: {result.convergence_message[:200]}")
    return parts + result.notes


def summarise(dataset, results):
    """The row of one problem, and whether each goal was met.

    Parameters
    ----------
    dataset : datasets.Dataset
        With ``C`` set.
    results : list of measure.Result
        The default fit, L-BFGS, Newton-Cholesky.

    Returns
    -------
    row : dict
        The table's cells by column, and ``goals``: goal name to bool.
    """
    ours, lbfgs, cholesky = results
    references = [r.objective for r in (lbfgs, cholesky) if r.objective is not None]
    reference = min(references) if references else None
    gap = (None if reference is None or ours.objective is None
           else relative_gap(ours.objective, reference))
    stored = None
    if ours.objective is not None and "dual_gap_" in ours.attributes:
        stored = float(ours.attributes["dual_gap_"]) / abs(ours.objective)
    certified = None
    if ours.coef is not None:
        certificate = logistic_certificate(dataset, ours.coef, ours.intercept)
        if certificate is not None:
            certified = certificate.gap / abs(certificate.objective)
    ratio = (None if ours.time is None or cholesky.time is None
             else ours.time / cholesky.time)
    goals = {
        "no warning": ours.objective is not None and not ours.convergence_warning
        and not ours.notes,
        "certified": certified is not None and certified <= GAP_GOAL,
        "gap": gap is not None and gap <= GAP_GOAL,
        "time": ratio is not None and ratio <= RATIO_GOAL,
    }
    lbfgs_gap, cholesky_gap = (
        None if reference is None or r.objective is None
        else relative_gap(r.objective, reference) for r in (lbfgs, cholesky)
    )
    sklearn_warnings = [f"{name}: {text}" for name, result in
                        (("L-BFGS", lbfgs), ("N-C", cholesky)) for text in _warnings(result)]
    cells = [
        f"{dataset.name} {dataset.X.shape[0]:,} x {dataset.X.shape[1]}",
        f"{dataset.C:g}",
        fmt(ours.time, ".3f"), fmt(lbfgs.time, ".3f"), fmt(cholesky.time, ".3f"),
        " / ".join(str(r.timings) for r in results),
        fmt(ratio, ".2f") + ("" if goals["time"] else " ✗"),
        fmt(gap, ".1e") + ("" if goals["gap"] else " ✗"),
        fmt(lbfgs_gap, ".1e"), fmt(cholesky_gap, ".1e"),
        fmt(stored, ".1e"),
        fmt(certified, ".1e") + ("" if goals["certified"] else " ✗"),
        ours.attributes.get("solver_", "—"),
        f"{fmt(ours.n_iter, 'd')} / {fmt(lbfgs.n_iter, 'd')} / {fmt(cholesky.n_iter, 'd')}",
        "; ".join(_warnings(ours)) or "none",
        "; ".join(sklearn_warnings) or "none",
    ]
    return {"cells": cells, "goals": goals, "ratio": ratio, "gap": gap,
            "certified": certified, "name": f"{dataset.name} C={dataset.C:g}"}


HEADER = [
    "problem", "C", "GD fit (s)", "L-BFGS (s)", "N-C (s)", "timings",
    "GD / N-C", "gap vs sklearn", "L-BFGS gap", "N-C gap", "dual_gap_ / F",
    "certificate / F", "solver_",
    "n_iter GD / L-BFGS / N-C", "GD warnings", "scikit-learn warnings",
]


def verdict(rows):
    """Markdown lines that count the goals met and name every miss, with numbers."""
    total = len(rows)
    lines = []
    for goal, words in (
        ("no warning", "end without a warning"),
        ("certified", f"have a certificate `<= {GAP_GOAL:g} F` at their coefficients"),
        ("gap", f"are within {GAP_GOAL:g} of scikit-learn's optimum"),
        ("time", f"take at most {RATIO_GOAL:g}x Newton-Cholesky's time"),
    ):
        missed = [row for row in rows if not row["goals"][goal]]
        line = f"- {total - len(missed)} of {total} default fits {words}"
        if missed:
            detail = {
                "no warning": lambda r: r["name"],
                "certified": lambda r: f"{r['name']} ({fmt(r['certified'], '.1e')})",
                "gap": lambda r: f"{r['name']} ({fmt(r['gap'], '.1e')})",
                "time": lambda r: f"{r['name']} ({fmt(r['ratio'], '.1f')}x)",
            }[goal]
            line += "; not: " + ", ".join(detail(row) for row in missed)
        lines.append(line + ".")
    return lines


def main(argv=None):
    """Fit every problem and write the report.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.
    """
    args = parse_args(argv)
    limits = (threadpoolctl.threadpool_limits(args.blas_threads)
              if args.blas_threads else None)
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
    environment = environment_lines(command, args.budget)
    print("\n".join(environment), flush=True)
    start = time.perf_counter()
    rows, descriptions = [], []
    for name in args.problems:
        values = PROBLEMS[name]
        base = PROBLEM_LOADERS[name]()
        descriptions.append(f"- `{name}`: {base.description}.")
        for C in values:
            dataset = dataclasses.replace(base, C=C)
            results = []
            for item in problem_cases(C):
                results.append(measure(item, dataset, args.budget, repeats=args.repeats))
                print(result_line(f"{name} C={C:g}", results[-1]), flush=True)
            rows.append(summarise(dataset, results))
            table = markdown_table(HEADER, [row["cells"] for row in rows])
            sections = [("Summary", "\n".join(verdict(rows)), table),
                        ("Data", "\n".join(descriptions), "")]
            write_report(args.output, environment, sections, time.perf_counter() - start,
                         False, title="Hard problems", note=NOTE)
    write_report(args.output, environment, sections, time.perf_counter() - start, True,
                 title="Hard problems", note=NOTE)
    print("\n".join(verdict(rows)), flush=True)
    print(f"\nwrote {args.output}", flush=True)
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
