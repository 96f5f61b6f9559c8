"""Cross-validation in shared passes against one fit, GridSearchCV and scikit-learn's CV.

Usage::

    python benchmarks/cv.py [--quick] [--only flights,digits,...] [--budget 600]
                            [--output benchmarks/results_cv.md]

Every ratio is taken within this one run. For each classification set, 5
folds x 10 values of ``C`` (``np.logspace(-4, 4, 10)``, scikit-learn's
``Cs=10``), ``StratifiedKFold(5)`` and accuracy, as ``LogisticRegressionCV``'s
defaults:

* ``GDLogisticRegressionCV`` (all 50 models batched; and warm-started along
  the path, the other way of walking the grid, to choose between them; and
  with ``solver="bb"`` and ``solver="newton"`` against the default
  ``"auto"``, to choose how each model is solved);
* (a) one default ``GDLogisticRegression`` fit on all the data;
* (b) ``GridSearchCV(GDLogisticRegression(), {"C": Cs}, cv=5)``, whose fold
  models are kept (by its scorer) to check every batched model: its
  objective must be within 1e-6 (relative) of the single fit's, and the
  chosen ``C`` the same;
* (c) ``LogisticRegressionCV(Cs=10, cv=5)`` (lbfgs, its defaults).

For least squares, ``GDLinearRegressionCV`` against ``ElasticNetCV``,
``LassoCV`` (the same automatic grids of 10 alphas, 5 folds) and ``RidgeCV``
(its efficient leave-one-out on our ridge grid, in its sum-form units).
Peak memory of the CV fit is measured by ``tracemalloc`` in a separate fit.
"""

import argparse
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNetCV, LassoCV, LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from gdestimators import (
    GDLinearRegression,
    GDLinearRegressionCV,
    GDLogisticRegression,
    GDLogisticRegressionCV,
    _cv_grid,
)
from gdestimators._reference import least_squares_objective, log_loss_objective

sys.path.insert(0, str(Path(__file__).parent))
import datasets  # noqa: E402
from environment import environment_lines  # noqa: E402
from measure import BudgetExceeded, data_nbytes, time_limit  # noqa: E402

N_FOLDS = 5
CS = np.logspace(-4, 4, 10)
N_ALPHAS = 10
FASHION_ROWS = 10_000
OBJECTIVE_RTOL = 1e-6


def _timed(fit, budget):
    """``(seconds, result)`` of ``fit()``, or ``(None, None)`` past ``budget``."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            with time_limit(budget):
                result = fit()
    except BudgetExceeded:
        return None, None
    return time.perf_counter() - start, result


def _strategy_fit(estimator, X, y, strategy):
    previous = _cv_grid.STRATEGY
    _cv_grid.STRATEGY = strategy
    try:
        return estimator.fit(X, y)
    finally:
        _cv_grid.STRATEGY = previous


class _RecordingAccuracy:
    """Accuracy, as GridSearchCV's default, keeping each fold model's coefficients."""

    def __init__(self):
        self.models = []

    def __call__(self, estimator, X, y):
        self.models.append((estimator.C, np.asarray(estimator.coef_).copy(),
                            np.asarray(estimator.intercept_).copy()))
        return accuracy_score(y, estimator.predict(X))


def _objective_gaps(X, y, cv, recorded, folds):
    """Relative objective gap of every batched model to its single fit."""
    gaps = []
    order = list(range(len(recorded)))
    # GridSearchCV scores fold-major within each candidate: candidate c,
    # fold f is entry c * n_folds + f (its sequential loop).
    for position in order:
        C, coef, intercept = recorded[position]
        c_index, fold = divmod(position, len(folds))
        assert np.isclose(C, CS[c_index])
        mask = np.zeros(y.shape[0])
        mask[folds[fold][0]] = 1.0
        path = np.asarray(cv.coefs_paths_[fold, 0, c_index])
        ours = log_loss_objective(X, y, path[:, :-1], path[:, -1], C=C, sample_weight=mask)
        single = log_loss_objective(X, y, coef, intercept, C=C, sample_weight=mask)
        gaps.append((ours - single) / abs(single))
    return np.asarray(gaps)


def _peak_fraction(fit, X, paths_bytes):
    """Peak memory allocated during ``fit()`` beyond the coefficient paths, / X's size."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - paths_bytes) / data_nbytes(X)


def classification_rows(dataset, budget):
    """Measurements of one classification set."""
    X, y = dataset.X, dataset.y
    folds = list(StratifiedKFold(N_FOLDS).split(X, y))
    row = {"data": f"{dataset.name} {X.shape[0]:,} x {X.shape[1]}"}
    estimator = GDLogisticRegressionCV(Cs=10, cv=N_FOLDS)
    row["cv_s"], cv = _timed(lambda: _strategy_fit(estimator, X, y, "batch"), budget)
    row["passes"] = None if cv is None else cv.n_passes_
    row["path_s"], path = _timed(
        lambda: _strategy_fit(GDLogisticRegressionCV(Cs=10, cv=N_FOLDS), X, y, "path"), budget
    )
    row["path_passes"] = None if path is None else path.n_passes_
    for solver in ("bb", "newton"):
        row[f"{solver}_s"], other = _timed(
            lambda s=solver: _strategy_fit(GDLogisticRegressionCV(Cs=10, cv=N_FOLDS, solver=s),
                                           X, y, "batch"), budget,
        )
        row[f"{solver}_passes"] = None if other is None else other.n_passes_
    row["a_s"], _ = _timed(lambda: GDLogisticRegression().fit(X, y), budget)
    recorder = _RecordingAccuracy()
    row["b_s"], search = _timed(
        lambda: GridSearchCV(GDLogisticRegression(), {"C": CS}, cv=N_FOLDS,
                             scoring=recorder, error_score="raise").fit(X, y), budget,
    )
    row["c_s"], sklearn_cv = _timed(
        lambda: LogisticRegressionCV(Cs=10, cv=N_FOLDS, l1_ratios=(0.0,), scoring="accuracy",
                                     use_legacy_attributes=False).fit(X, y), budget,
    )
    row["C_ours"] = None if cv is None else cv.C_
    row["C_b"] = None if search is None else search.best_params_["C"]
    row["C_c"] = None if sklearn_cv is None else sklearn_cv.C_
    if search is not None and cv is not None:
        gaps = _objective_gaps(X, y, cv, recorder.models, folds)
        row["max_gap"] = float(np.max(np.abs(gaps)))
    return row


def regression_rows(dataset, budget):
    """Measurements of one least-squares set, one row per competitor."""
    X, y = dataset.X, dataset.y
    rows = []
    n = X.shape[0]
    for label, l1_ratio, reference in (
        ("ElasticNetCV(l1_ratio=0.5)", 0.5,
         lambda: ElasticNetCV(l1_ratio=0.5, alphas=N_ALPHAS, cv=N_FOLDS)),
        ("LassoCV", 1.0, lambda: LassoCV(alphas=N_ALPHAS, cv=N_FOLDS)),
        ("RidgeCV (leave-one-out)", 0.0, None),
    ):
        estimator = GDLinearRegressionCV(alphas=N_ALPHAS, l1_ratio=l1_ratio, cv=N_FOLDS)
        seconds, ours = _timed(lambda e=estimator: _strategy_fit(e, X, y, "batch"), budget)
        if ours is None:
            rows.append({"data": f"{dataset.name} {n:,} x {X.shape[1]}", "reference": label,
                         "cv_s": None, "passes": None, "path_s": None, "path_passes": None,
                         "ref_s": None, "single_s": None, "alpha_ours": None,
                         "alpha_ref": None, "ref_gap": None})
            continue
        path_estimator = GDLinearRegressionCV(alphas=N_ALPHAS, l1_ratio=l1_ratio, cv=N_FOLDS)
        path_seconds, path = _timed(
            lambda e=path_estimator: _strategy_fit(e, X, y, "path"), budget)
        if reference is None:
            # Ridge(alpha * n) is our alpha: RidgeCV's sum-form units.
            grid = np.asarray(ours.alphas_) * n
            reference = lambda grid=grid: RidgeCV(alphas=grid)  # noqa: E731
        ref_seconds, fitted = _timed(lambda r=reference: r().fit(X, y), budget)
        ref_alpha = None if fitted is None else (
            fitted.alpha_ / n if l1_ratio == 0.0 else fitted.alpha_
        )
        single = GDLinearRegression(alpha=ours.alpha_, l1_ratio=l1_ratio)
        single_seconds, _ = _timed(lambda e=single: e.fit(X, y), budget)
        gap = None
        if fitted is not None:
            ours_objective = least_squares_objective(
                X, y, ours.coef_, ours.intercept_, alpha=ours.alpha_, l1_ratio=l1_ratio)
            theirs = least_squares_objective(
                X, y, fitted.coef_, fitted.intercept_, alpha=ours.alpha_, l1_ratio=l1_ratio)
            gap = (theirs - ours_objective) / abs(ours_objective)
        rows.append({
            "data": f"{dataset.name} {n:,} x {X.shape[1]}", "reference": label,
            "cv_s": seconds, "passes": ours.n_passes_, "path_s": path_seconds,
            "path_passes": None if path is None else path.n_passes_, "ref_s": ref_seconds,
            "single_s": single_seconds, "alpha_ours": ours.alpha_, "alpha_ref": ref_alpha,
            "ref_gap": gap,
        })
    return rows


def _fmt(value, spec=".2f"):
    return "—" if value is None else format(value, spec)


def _ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return "—"
    return f"{numerator / denominator:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", default="flights,flights_sparse,digits,fashion,diamonds,tall")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds allowed to each competitor fit")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results_cv.md"))
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    classification, regression, memory = [], [], []
    loaders = {
        "flights": lambda: datasets.load_flights(args.quick),
        "flights_sparse": lambda: datasets.load_flights_sparse(args.quick),
        "digits": _digits,
        "fashion": lambda: _fashion(args.quick),
    }
    for name, load in loaders.items():
        if name not in only:
            continue
        dataset = load()
        if dataset is None:
            continue
        print(f"[cv] {dataset.name} ...", flush=True)
        classification.append(classification_rows(dataset, args.budget))
        print(classification[-1], flush=True)
        Path(args.output).write_text(_report(args, classification, regression, memory))
        if name.startswith("flights"):
            X, y = dataset.X, dataset.y
            estimator = GDLogisticRegressionCV(Cs=10, cv=N_FOLDS)
            paths_bytes = N_FOLDS * 10 * (X.shape[1] + 1) * 8
            fraction = _peak_fraction(lambda e=estimator, X=X, y=y: e.fit(X, y), X, paths_bytes)
            memory.append((dataset.name, data_nbytes(X), fraction))
    for name, load in (("diamonds", lambda: datasets.load_diamonds(args.quick)),
                       ("tall", lambda: datasets.load_tall(args.quick))):
        if name not in only:
            continue
        dataset = load()
        print(f"[cv] {dataset.name} ...", flush=True)
        regression.extend(regression_rows(dataset, args.budget))
        print(regression[-3:], flush=True)
        Path(args.output).write_text(_report(args, classification, regression, memory))
        if name == "tall":
            X, y = dataset.X, dataset.y
            estimator = GDLinearRegressionCV(alphas=N_ALPHAS, l1_ratio=0.5, cv=N_FOLDS)
            paths_bytes = N_FOLDS * N_ALPHAS * (X.shape[1] + 1) * 8
            fraction = _peak_fraction(lambda e=estimator, X=X, y=y: e.fit(X, y), X, paths_bytes)
            memory.append((dataset.name, data_nbytes(X), fraction))
    report = _report(args, classification, regression, memory)
    Path(args.output).write_text(report)
    print(report)


def _digits():
    X, y = load_digits(return_X_y=True)
    return datasets.Dataset("digits", "classification", X.astype(np.float64), y,
                            "load_digits, raw pixels 0..16")


def _fashion(quick):
    try:
        full = datasets.load_fashion_mnist(quick)
    except (FileNotFoundError, OSError):
        return None
    rows = np.random.default_rng(0).permutation(full.X.shape[0])[:FASHION_ROWS]
    rows.sort()
    return datasets.Dataset("fashion", "classification", full.X[rows], full.y[rows],
                            f"Fashion-MNIST raw pixels, {rows.size:,} random rows")


def _report(args, classification, regression, memory):
    lines = ["# Cross-validation in shared passes", ""]
    lines += environment_lines("python benchmarks/cv.py" + (" --quick" if args.quick else ""),
                               budget=args.budget)
    lines += [
        "", "## Logistic regression: 5 folds x 10 values of C",
        "",
        "Times in seconds (`—`: past the budget). (a) one default `GDLogisticRegression` "
        "fit; (b) `GridSearchCV(GDLogisticRegression(), {'C': Cs}, cv=5)`; (c) "
        "`LogisticRegressionCV(Cs=10, cv=5)`. Goals: CV/(a) <= 5, CV/(b) <= 0.2, "
        "CV/(c) <= 0.1. *gap*: the largest relative objective gap between a batched "
        "model and its single fit in (b) (goal 1e-6). *path*: the same CV warm-started "
        "along C (strongest first), fold models batched. *bb*, *newton*: the batched CV "
        "with `solver='bb'` (Barzilai-Borwein steps only) and `solver='newton'` (every "
        "model's Hessian formed in each shared pass from the start); CV (batched) is the "
        "default `solver='auto'` (BB, then Newton for the models still running).",
        "",
        "| data | CV (batched) | passes | CV (path) | passes | CV (bb) | passes | "
        "CV (newton) | passes | (a) | (b) | (c) | CV/(a) | "
        "CV/(b) | CV/(c) | C chosen: CV, (b), (c) | gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in classification:
        lines.append(
            f"| {row['data']} | {_fmt(row['cv_s'])} | {_fmt(row['passes'], 'd')} | "
            f"{_fmt(row['path_s'])} | {_fmt(row['path_passes'], 'd')} | "
            f"{_fmt(row['bb_s'])} | {_fmt(row['bb_passes'], 'd')} | "
            f"{_fmt(row['newton_s'])} | {_fmt(row['newton_passes'], 'd')} | {_fmt(row['a_s'])} | "
            f"{_fmt(row['b_s'])} | {_fmt(row['c_s'])} | {_ratio(row['cv_s'], row['a_s'])} | "
            f"{_ratio(row['cv_s'], row['b_s'])} | {_ratio(row['cv_s'], row['c_s'])} | "
            f"{_fmt(row['C_ours'], '.3g')}, {_fmt(row['C_b'], '.3g')}, "
            f"{_fmt(row['C_c'], '.3g')} | "
            f"{_fmt(row.get('max_gap'), '.1e')} |"
        )
    lines += [
        "", "## Least squares: 5 folds x 10 alphas",
        "",
        "`GDLinearRegressionCV(alphas=10, l1_ratio=...)` against the scikit-learn "
        "estimator with the same automatic grid (RidgeCV: leave-one-out on our ridge "
        "grid). *single*: one `GDLinearRegression` fit at the chosen alpha. *gap*: the "
        "reference's refit objective above ours, relative, at our alpha.",
        "",
        "| data | reference | CV (batched) | passes | CV (path) | passes | reference | "
        "CV/reference | single | alpha: CV, reference | gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in regression:
        lines.append(
            f"| {row['data']} | {row['reference']} | {_fmt(row['cv_s'])} | "
            f"{_fmt(row['passes'], 'd')} | "
            f"{_fmt(row['path_s'])} | {_fmt(row['path_passes'], 'd')} | {_fmt(row['ref_s'])} | "
            f"{_ratio(row['cv_s'], row['ref_s'])} | {_fmt(row['single_s'])} | "
            f"{_fmt(row['alpha_ours'], '.4g')}, {_fmt(row['alpha_ref'], '.4g')} | "
            f"{_fmt(row['ref_gap'], '.1e')} |"
        )
    lines += [
        "", "## Peak memory of the CV fit",
        "",
        "Allocated during `fit` (tracemalloc) beyond the coefficient paths, as a fraction "
        "of the size of X (goal: 0.10).",
        "",
        "| data | X (MB) | peak / X |",
        "|---|---|---|",
    ]
    for name, nbytes, fraction in memory:
        lines.append(f"| {name} | {nbytes / 1e6:.0f} | {fraction:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
