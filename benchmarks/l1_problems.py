"""L1 and elastic-net fits with default settings, against coordinate descent and glum.

Usage::

    python benchmarks/l1_problems.py [--only NAME[,NAME...]] [--budget SECONDS]
                                     [--repeats N] [--quick] [--output PATH]

Sections (``--only``), each on raw, unscaled data from ``datasets.py``:

* ``lasso``: the flights arrival delay in minutes (``load_flights_delay``,
  327,346 x 155), ``GDLinearRegression(alpha, l1_ratio=1)`` at ``alpha`` =
  1e-2, 1e-3 and 1e-4 times ``alpha_max`` (the smallest ``alpha`` whose
  solution is all zeros), against ``Lasso(alpha, tol=1e-10)``;
* ``elastic_net``: diamonds (``load_diamonds``, 53,940 x 26, target
  log(price)) with ``l1_ratio=0.5`` at the same fractions of its
  ``alpha_max``, against ``ElasticNet(alpha, l1_ratio=0.5, tol=1e-10)``;
* ``l1_logistic``: the flights late-arrival label, ``GDLogisticRegression(C,
  l1_ratio=1)`` at ``C`` = 1 (the default) and where the L1 strength
  ``1 / (C S)`` is 1e-2 and 1e-3 times its ``lambda_max``, against
  ``LogisticRegression(C, l1_ratio=1, solver="saga", tol=1e-10)``;
* ``tall_narrow``: a synthetic 250,000 x 7 table of binary and integer
  columns (``load_tall_narrow``), ``GDLogisticRegression()`` against
  ``LogisticRegression(solver="newton-cholesky")``, at its default ``tol``
  and at ``tol=1e-12``.

The L1 sections also fit glum's ``GeneralizedLinearRegressor`` (same
objective: ``alpha`` for least squares, ``alpha = 1 / (C S)`` for the
logistic loss) with ``gradient_tol=1e-10``, when glum is installed
(``pip install -e .[bench]``); otherwise its rows say so.

Each fit runs once with its memory traced, then is timed ``--repeats`` times
(default 3) and the fastest time is kept; a fit still running after
``--budget`` seconds (default 300) is stopped and has no objective.
Objectives are computed by ``Dataset.objective`` (``gdestimators._reference``
with the problem's penalty), never by the estimators. The goals checked
for the L1 sections: the default fit is no slower than scikit-learn's,
within 1.5x of glum's, has the same objective to 1e-8 (relative) as the
best of them, and the same zero pattern; for ``tall_narrow``: no slower than
Newton-Cholesky.

Writes ``benchmarks/results_l1_problems.md``. Takes about 30 minutes on two
cores, most of it saga, which on the raw flights data runs to the budget.
"""

import argparse
import dataclasses
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import relative_gap

# benchmarks/ is on sys.path when run as a script.
from cases import case
from datasets import PROBLEM_LOADERS, load_diamonds, load_flights
from environment import REPO, environment_lines
from measure import measure
from report import fmt, markdown_table, result_line, write_report

try:
    from glum import GeneralizedLinearRegressor
except ImportError:  # an optional reference
    GeneralizedLinearRegressor = None

HERE = Path(__file__).resolve().parent
SECTIONS = ("lasso", "elastic_net", "l1_logistic", "tall_narrow")
#: Penalties as fractions of the smallest one whose solution is all zeros.
FRACTIONS = (1e-2, 1e-3, 1e-4)
LOGISTIC_FRACTIONS = (1e-2, 1e-3)
#: Tolerances of the references: as tight as each goes.
CD_TOL = 1e-10
GLUM_TOL = 1e-10
REFERENCE_MAX_ITER = 100_000
#: saga's epochs run in compiled code that the budget cannot interrupt: its
#: ``max_iter`` is set from the time of this many epochs, so that its fit
#: takes about ``SAGA_SHARE`` of the budget.
SAGA_PILOT_EPOCHS = 5
SAGA_SHARE = 0.8
#: Goals: time over scikit-learn's (and glum's), objective agreement.
SKLEARN_RATIO_GOAL = 1.0
GLUM_RATIO_GOAL = 1.5
OBJECTIVE_GOAL = 1e-8
DEFAULT_BUDGET_S = 300.0
DEFAULT_REPEATS = 3

NOTE = (
    "Times are the fastest of the timings of each fit (the first traced by "
    "tracemalloc). `objective diff` is `(F - F_min) / F_min` for each estimator, "
    "`F_min` the lowest of the row, all computed by `gdestimators._reference` "
    "with the problem's penalty. `nonzero` counts coefficients that are not "
    "exactly 0; `zero-pattern mismatches` counts the coefficients that are zero "
    "in one fit and not in the other (GD against scikit-learn, GD against glum). "
    "`dual_gap_ / F` is the default fit's certificate relative to its objective."
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
                        help=f"comma-separated sections, from {', '.join(SECTIONS)}")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                        help=f"seconds one fit may take (default {DEFAULT_BUDGET_S:.0f})")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help=f"more timings per fit, the fastest kept (default {DEFAULT_REPEATS})")
    parser.add_argument("--quick", action="store_true",
                        help="subsampled data (a smoke test)")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown report (default benchmarks/results_l1_problems.md, "
                             "or results_l1_problems_quick.md with --quick)")
    args = parser.parse_args(argv)
    args.sections = list(SECTIONS) if args.only is None else args.only.split(",")
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    if args.output is None:
        suffix = "_quick" if args.quick else ""
        args.output = HERE / f"results_l1_problems{suffix}.md"
    return args


def largest_useful_strength(X, y):
    """The L1 strength at and above which every coefficient is 0.

    That is ``max_j |sum_i (x_ij - mean_j) (y_i - mean(y))| / m``, in the
    mean form with a fitted intercept. For least squares this is
    ``alpha * l1_ratio`` at the threshold; for the logistic loss (``y`` in
    {0, 1}) it is the threshold of ``1 / (C m)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)

    Returns
    -------
    strength : float
    """
    centred = y - y.mean()
    correlation = X.T @ centred - X.sum(axis=0) * centred.sum() / X.shape[0]
    return float(np.max(np.abs(correlation))) / X.shape[0]


def glum_case(family, alpha, l1_ratio):
    """glum's estimator on the same objective, or None when glum is missing."""
    if GeneralizedLinearRegressor is None:
        return None
    return case(GeneralizedLinearRegressor, family=family, alpha=alpha, l1_ratio=l1_ratio,
                gradient_tol=GLUM_TOL, max_iter=1000)


def saga_case(dataset, C, budget):
    """saga at ``C`` with as many epochs as fit in ``SAGA_SHARE`` of the budget.

    The epochs are counted from a pilot fit of ``SAGA_PILOT_EPOCHS``; a fit
    that reaches ``tol`` first stops there.
    """
    pilot = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=CD_TOL,
                               max_iter=SAGA_PILOT_EPOCHS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pilot.fit(dataset.X, dataset.y)
        per_epoch = (time.perf_counter() - start) / SAGA_PILOT_EPOCHS
    epochs = int(min(REFERENCE_MAX_ITER, max(SAGA_PILOT_EPOCHS,
                                             SAGA_SHARE * budget / per_epoch)))
    return case(LogisticRegression, C=C, l1_ratio=1.0, solver="saga", tol=CD_TOL,
                max_iter=epochs)


def _nonzero(result):
    return None if result.coef is None else int(np.count_nonzero(result.coef))


def _mismatches(ours, other):
    if ours.coef is None or other is None or other.coef is None:
        return None
    return int(np.count_nonzero((ours.coef.ravel() == 0) != (other.coef.ravel() == 0)))


def _ratio(ours, other):
    if ours.time is None or other is None or other.time is None:
        return None
    return ours.time / other.time


def _warnings(label, result):
    if result is None:
        return []
    parts = [f"ConvergenceWarning: {result.convergence_message[:160]}"] \
        if result.convergence_message else []
    return [f"{label}: {text}" for text in parts + result.notes]


def l1_row(problem, setting, ours, sklearn_result, glum_result, name):
    """One row of an L1 table and its goals.

    Parameters
    ----------
    problem : str
        The data set.
    setting : str
        The penalty, as text.
    ours, sklearn_result : measure.Result
        The default fit and scikit-learn's.
    glum_result : measure.Result or None
        glum's, None when glum is not installed.
    name : str
        The row's short name in the verdict lines.

    Returns
    -------
    row : dict
        ``cells``, ``goals`` (name to bool or None when not measurable) and
        ``name``.
    """
    results = [r for r in (ours, sklearn_result, glum_result) if r is not None]
    objectives = [r.objective for r in results if r.objective is not None]
    best = min(objectives) if objectives else None

    def diff(result):
        if result is None or result.objective is None or best is None:
            return None
        return relative_gap(result.objective, best)

    certified = None
    if ours.objective is not None and "dual_gap_" in ours.attributes:
        certified = float(ours.attributes["dual_gap_"]) / abs(ours.objective)
    sklearn_ratio, glum_ratio = _ratio(ours, sklearn_result), _ratio(ours, glum_result)
    agree = [m for m in (_mismatches(ours, sklearn_result), _mismatches(ours, glum_result))
             if m is not None]
    goals = {
        "no warning": ours.objective is not None and not ours.convergence_warning
        and not ours.notes,
        "sklearn time": None if sklearn_ratio is None else sklearn_ratio <= SKLEARN_RATIO_GOAL,
        "glum time": None if glum_ratio is None else glum_ratio <= GLUM_RATIO_GOAL,
        "objective": None if diff(ours) is None else diff(ours) <= OBJECTIVE_GOAL,
        "zeros": None if not agree else max(agree) == 0,
    }
    glum_missing = "not installed" if GeneralizedLinearRegressor is None else "—"
    cells = [
        problem, setting,
        fmt(ours.time, ".3f"), fmt(sklearn_result.time, ".3f"),
        fmt(None if glum_result is None else glum_result.time, ".3f", glum_missing),
        fmt(sklearn_ratio, ".2f") + ("" if goals["sklearn time"] is not False else " ✗"),
        fmt(glum_ratio, ".2f") + ("" if goals["glum time"] is not False else " ✗"),
        " / ".join(fmt(diff(r), ".1e") for r in (ours, sklearn_result, glum_result))
        + ("" if goals["objective"] is not False else " ✗"),
        " / ".join(fmt(None if r is None else _nonzero(r), "d")
                   for r in (ours, sklearn_result, glum_result)),
        " / ".join(fmt(_mismatches(ours, r), "d") for r in (sklearn_result, glum_result))
        + ("" if goals["zeros"] is not False else " ✗"),
        fmt(certified, ".1e"),
        ours.attributes.get("solver_", "—"),
        " / ".join(fmt(None if r is None else r.n_iter, "d")
                   for r in (ours, sklearn_result, glum_result)),
        "; ".join(_warnings("GD", ours) + _warnings("sklearn", sklearn_result)
                  + _warnings("glum", glum_result)) or "none",
    ]
    return {"cells": cells, "goals": goals, "name": name,
            "numbers": {"sklearn time": sklearn_ratio, "glum time": glum_ratio,
                        "objective": diff(ours), "zeros": max(agree) if agree else None}}


L1_HEADER = [
    "problem", "penalty", "GD (s)", "sklearn (s)", "glum (s)", "GD / sklearn",
    "GD / glum", "objective diff GD / sklearn / glum", "nonzero GD / sklearn / glum",
    "zero-pattern mismatches vs sklearn / glum", "dual_gap_ / F", "solver_",
    "n_iter GD / sklearn / glum", "warnings",
]


def run_cases(dataset, items, budget, repeats, tag):
    """Measure each case (None: a missing reference) and print its line."""
    results = []
    for item in items:
        if item is None:
            results.append(None)
            continue
        results.append(measure(item, dataset, budget, repeats=repeats))
        print(result_line(tag, results[-1]), flush=True)
    return results


def lasso_like_rows(dataset, l1_ratio, budget, repeats):
    """Rows of a least-squares problem at each of ``FRACTIONS`` of ``alpha_max``."""
    alpha_max = largest_useful_strength(dataset.X, dataset.y) / l1_ratio
    rows = []
    for fraction in FRACTIONS:
        alpha = fraction * alpha_max
        problem = dataclasses.replace(dataset, alpha=alpha, l1_ratio=l1_ratio)
        reference = (case(Lasso, alpha=alpha, tol=CD_TOL, max_iter=REFERENCE_MAX_ITER)
                     if l1_ratio == 1 else
                     case(ElasticNet, alpha=alpha, l1_ratio=l1_ratio, tol=CD_TOL,
                          max_iter=REFERENCE_MAX_ITER))
        items = [case(GDLinearRegression, alpha=alpha, l1_ratio=l1_ratio), reference,
                 glum_case("normal", alpha, l1_ratio)]
        ours, sklearn_result, glum_result = run_cases(
            problem, items, budget, repeats, f"{dataset.name} alpha={fraction:g} alpha_max")
        rows.append(l1_row(dataset.name, f"alpha = {fraction:g} alpha_max "
                                         f"({alpha:.4g}), l1_ratio={l1_ratio:g}",
                           ours, sklearn_result, glum_result,
                           f"{dataset.name} {fraction:g} alpha_max"))
    return rows, f"alpha_max = {alpha_max:.6g}"


def l1_logistic_rows(dataset, budget, repeats):
    """Rows of the L1-penalised logistic problem at C=1 and near ``lambda_max``."""
    n_samples = dataset.X.shape[0]
    strength_max = largest_useful_strength(dataset.X, dataset.y.astype(np.float64))
    settings = [(1.0, "C = 1")] + [
        (1.0 / (fraction * strength_max * n_samples),
         f"1/(C S) = {fraction:g} lambda_max") for fraction in LOGISTIC_FRACTIONS
    ]
    rows = []
    for C, text in settings:
        problem = dataclasses.replace(dataset, C=C, l1_ratio=1.0)
        items = [
            case(GDLogisticRegression, C=C, l1_ratio=1.0),
            saga_case(problem, C, budget),
            glum_case("binomial", 1.0 / (C * n_samples), 1.0),
        ]
        ours, sklearn_result, glum_result = run_cases(
            problem, items, budget, repeats, f"{dataset.name} {text}")
        rows.append(l1_row(dataset.name, f"{text} (C = {C:.4g}), l1_ratio=1",
                           ours, sklearn_result, glum_result, f"{dataset.name} {text}"))
    return rows, f"lambda_max = {strength_max:.6g}"


TALL_HEADER = [
    "estimator", "fit (s)", "× GD", "objective", "rel. gap", "n_iter", "solver_",
    "dual_gap_ / F", "warnings",
]


def tall_narrow_table(dataset, budget, repeats):
    """The default fit against Newton-Cholesky, and the goal's verdict line."""
    items = [
        case(GDLogisticRegression),
        case(LogisticRegression, solver="newton-cholesky"),
        case(LogisticRegression, solver="newton-cholesky", tol=1e-12),
    ]
    results = run_cases(dataset, items, budget, repeats, dataset.name)
    objectives = [r.objective for r in results if r.objective is not None]
    best = min(objectives) if objectives else None
    ours = results[0]
    rows = []
    for result in results:
        certified = None
        if result.objective is not None and "dual_gap_" in result.attributes:
            certified = float(result.attributes["dual_gap_"]) / abs(result.objective)
        rows.append([
            f"`{result.label}`", fmt(result.time, ".3f"),
            fmt(_ratio(result, ours), ".2f"), fmt(result.objective, ".12g"),
            fmt(None if result.objective is None or best is None
                else relative_gap(result.objective, best), ".1e"),
            fmt(result.n_iter, "d"), result.attributes.get("solver_", "—"),
            fmt(certified, ".1e"), "; ".join(_warnings("", result)) or "none",
        ])
    ratio = _ratio(ours, results[1])
    met = ratio is not None and ratio <= 1
    line = (f"- default fit / Newton-Cholesky (default tol): {fmt(ratio, '.2f')}x — goal "
            f"(at most 1x) {'met' if met else 'not met'}; against tol=1e-12: "
            f"{fmt(_ratio(ours, results[2]), '.2f')}x.")
    return markdown_table(TALL_HEADER, rows), line


def verdict(rows):
    """Markdown lines counting the L1 goals met, naming every miss with its number."""
    lines = []
    words = {
        "no warning": "end without a warning",
        "sklearn time": f"take at most {SKLEARN_RATIO_GOAL:g}x scikit-learn's time",
        "glum time": f"take at most {GLUM_RATIO_GOAL:g}x glum's time",
        "objective": f"reach the lowest objective to {OBJECTIVE_GOAL:g} (relative)",
        "zeros": "have the zero pattern of both references",
    }
    for goal, text in words.items():
        judged = [row for row in rows if row["goals"][goal] is not None]
        missed = [row for row in judged if not row["goals"][goal]]
        line = f"- {len(judged) - len(missed)} of {len(judged)} default fits {text}"
        if len(judged) < len(rows):
            line += f" ({len(rows) - len(judged)} not measurable)"
        if missed:
            numbers = [
                row["name"] if goal == "no warning" else
                f"{row['name']} ({fmt(row['numbers'][goal], '.3g')})" for row in missed
            ]
            line += "; not: " + ", ".join(numbers)
        lines.append(line + ".")
    return lines


def run_section(name, quick, budget, repeats):
    """One section: ``(title, description, table)`` and its rows for the verdict."""
    if name == "tall_narrow":
        dataset = PROBLEM_LOADERS["tall_narrow"](quick)
        table, line = tall_narrow_table(dataset, budget, repeats)
        return (name, f"{dataset.description}.\n\n{line}", table), []
    if name == "lasso":
        dataset = PROBLEM_LOADERS["flights_delay"](quick)
        rows, extra = lasso_like_rows(dataset, 1.0, budget, repeats)
    elif name == "elastic_net":
        dataset = load_diamonds(quick)
        rows, extra = lasso_like_rows(dataset, 0.5, budget, repeats)
    else:
        dataset = load_flights(quick)
        rows, extra = l1_logistic_rows(dataset, budget, repeats)
    description = f"{dataset.description}; {extra}.\n\n" + "\n".join(verdict(rows))
    return (name, description, markdown_table(L1_HEADER, [r["cells"] for r in rows])), rows


def main(argv=None):
    """Run the selected sections and write the report.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.
    """
    args = parse_args(argv)
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
    environment = environment_lines(command, args.budget)
    if GeneralizedLinearRegressor is None:
        environment.append("- glum: not installed, its rows are empty")
    print("\n".join(environment), flush=True)
    start = time.perf_counter()
    sections, all_rows = [], []
    for name in (s for s in SECTIONS if s in args.sections):
        print(f"\n== {name} ==", flush=True)
        try:
            section, rows = run_section(name, args.quick, args.budget, args.repeats)
        except Exception as error:  # e.g. a data set that cannot be loaded
            message = f"{type(error).__name__}: {error}"
            print(f"[{name}] failed: {message}", flush=True)
            section, rows = (name, "Section failed.", f"`{message}`"), []
        sections.append(section)
        all_rows += rows
        summary = ("Summary", "All L1 and elastic-net rows together:\n\n"
                   + "\n".join(verdict(all_rows)), "")
        write_report(args.output, environment, [summary, *sections],
                     time.perf_counter() - start, False, title="L1 and elastic net",
                     note=NOTE)
    write_report(args.output, environment, [summary, *sections], time.perf_counter() - start,
                 True, title="L1 and elastic net", note=NOTE)
    print("\n".join(verdict(all_rows)), flush=True)
    print(f"\nwrote {args.output}", flush=True)


if __name__ == "__main__":
    main()
