"""Report: fit both estimators on real data and compare them with scikit-learn.

Run ``python -m gdestimators`` (``--help`` for the options). Each row fits a
gradient-descent estimator with its default settings and its scikit-learn
reference on one of scikit-learn's bundled data sets, with raw (unscaled)
features, and compares

- the objective both fits reach, computed by :func:`objective` with
  :mod:`gdestimators._reference`, independently of the estimators;
- the coefficients;
- the iterations and the fit time of each.
"""

import argparse
import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from gdestimators import GDLinearRegression, GDLogisticRegression, __version__
from gdestimators._reference import least_squares_objective, log_loss_objective

#: Penalty of the ridge row, in the mean form: ``alpha / 2 * ||W||^2``.
RIDGE_ALPHA = 1.0

#: Settings of the logistic reference: L-BFGS run to a tight tolerance.
LOGISTIC_REFERENCE = {"tol": 1e-10, "max_iter": 10000}

#: A GD fit "matches" its reference when its relative objective gap is at most
#: this (a negative gap, GD below the reference, always matches).
GAP_TOLERANCE = 1e-6

#: Where non-positive gaps are drawn on the logarithmic convergence plot.
PLOT_FLOOR = 1e-16

DESCRIPTION = """\
Fit GDLinearRegression and GDLogisticRegression, with their default settings,
on data sets bundled with scikit-learn, and compare each fit with its
scikit-learn reference fitted on the same data:

  diabetes      GDLinearRegression()      vs LinearRegression()
  diabetes      GDLinearRegression(alpha) vs Ridge(alpha * n_samples)
  linnerud      GDLinearRegression()      vs LinearRegression()  (3 targets)
  breast_cancer, wine, digits, iris
                GDLogisticRegression()    vs LogisticRegression(tol=1e-10,
                                             max_iter=10000)  (L-BFGS)

Features are raw (unscaled; diabetes is load_diabetes(scaled=False)): the GD
estimators precondition internally, so no StandardScaler is used.
"""

EPILOG = """\
columns of the report:
  dataset, shape  data set, n_samples x n_features, and its targets
  estimator       the GD estimator (default settings unless shown)
  reference       the scikit-learn estimator it is compared with
  obj gap         (F_GD - F_ref) / |F_ref|, with F the mean-form objective
                  computed by gdestimators._reference, not by the
                  estimators' own code:
                    least squares  1/(2n) sum ||W x_i + b - y_i||^2
                                   + alpha/2 ||W||^2
                    logistic       (1/n) sum logloss_i + ||W||^2 / (2 C n)
                                   (= C sum logloss_i + ||W||^2 / 2,
                                    divided by C n)
                  negative means GD reached a lower objective
  max|dcoef|      largest absolute coefficient difference, GD - reference
  rel dcoef       max|dcoef| / max|coef_ref|
  iter GD, ref    iterations of each fit ("exact" for direct solvers);
                  '*' marks a fit that stopped with a ConvergenceWarning
  time GD, ref    fit time of each

--plot PATH saves the convergence of each GD fit: the relative objective gap
(loss_curve_ - F_ref) / |F_ref| per iteration, on a log scale, one line per
data set. It needs matplotlib.
"""


@dataclass(frozen=True)
class Case:
    """One comparison: a data set, a GD estimator and its reference.

    Attributes
    ----------
    dataset : str
        Name of the data set.
    targets : str
        Short description of the targets, such as ``"3 classes"``.
    X : ndarray of shape (n_samples, n_features)
        Raw features.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets or class labels.
    estimator : estimator
        Unfitted GD estimator.
    reference : estimator
        Unfitted scikit-learn reference.
    reference_label : str
        How the reference is named in the table.
    loss : {"squared", "logistic"}
        Loss of the objective (its penalty is the estimator's).
    """

    dataset: str
    targets: str
    X: np.ndarray
    y: np.ndarray
    estimator: object
    reference: object
    reference_label: str
    loss: str


@dataclass(frozen=True)
class Comparison:
    """The outcome of fitting one :class:`Case`.

    Attributes
    ----------
    case : Case
        What was fitted.
    objective_gd, objective_ref : float
        Objective reached by each fit, from :func:`objective`.
    coef_diff : float
        Largest absolute coefficient difference.
    coef_scale : float
        Largest absolute reference coefficient.
    iter_gd, iter_ref : int or None
        Iterations of each fit; None for a direct solver.
    time_gd, time_ref : float
        Fit time of each, in seconds.
    warned_gd, warned_ref : bool
        Whether the fit raised a ConvergenceWarning.
    loss_curve : ndarray
        The GD estimator's ``loss_curve_``.
    """

    case: Case
    objective_gd: float
    objective_ref: float
    coef_diff: float
    coef_scale: float
    iter_gd: int
    iter_ref: object
    time_gd: float
    time_ref: float
    warned_gd: bool
    warned_ref: bool
    loss_curve: np.ndarray

    @property
    def gap(self):
        """Relative objective gap ``(F_GD - F_ref) / |F_ref|``."""
        return (self.objective_gd - self.objective_ref) / abs(self.objective_ref)

    @property
    def matches(self):
        """Whether GD is at most :data:`GAP_TOLERANCE` above the reference."""
        return self.gap <= GAP_TOLERANCE


def objective(case, coef, intercept):
    """Mean-form objective of a case's model, independent of the estimators.

    .. math::

        F(W, b) = \\frac{1}{n} \\sum_i \\ell(W x_i + b, y_i)
        + \\text{penalty}(W),

    with :math:`\\ell(h, y) = \\frac{1}{2} \\lVert h - y \\rVert^2` and the
    penalty ``alpha * (1 - l1_ratio) / 2 ||W||^2 + alpha * l1_ratio ||W||_1``
    for ``"squared"``, the log-loss (sigmoid for one coefficient row, softmax
    for several) and the same penalty with ``alpha = 1 / (C n)`` for
    ``"logistic"``; ``alpha``, ``C`` and ``l1_ratio`` are the case's GD
    estimator's. Computed by :mod:`gdestimators._reference`, which shares no
    code with the estimators. The same function scores the GD fit and its
    reference, so their objectives are on the same scale.

    Parameters
    ----------
    case : Case
        The data, the loss and the penalty.
    coef : ndarray of shape (n_features,) or (k, n_features)
        Coefficients ``W``.
    intercept : float or ndarray of shape (k,)
        Intercepts ``b``.

    Returns
    -------
    value : float
        The objective.
    """
    params = case.estimator.get_params()
    if case.loss == "squared":
        return least_squares_objective(case.X, case.y, coef, intercept,
                                       alpha=params["alpha"], l1_ratio=params["l1_ratio"])
    return log_loss_objective(case.X, case.y, coef, intercept, C=params["C"],
                              l1_ratio=params["l1_ratio"])


def regression_cases():
    """The least-squares cases: diabetes (plain and ridge) and linnerud.

    Returns
    -------
    cases : list of Case
    """
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    ridge_alpha = RIDGE_ALPHA * X.shape[0]
    cases = [
        Case("diabetes", "1 target", X, y, GDLinearRegression(),
             LinearRegression(), "LinearRegression()", "squared"),
        Case("diabetes", "1 target", X, y, GDLinearRegression(alpha=RIDGE_ALPHA),
             Ridge(alpha=ridge_alpha), f"Ridge(alpha={ridge_alpha:g})", "squared"),
    ]
    X, Y = datasets.load_linnerud(return_X_y=True)
    cases.append(Case("linnerud", f"{Y.shape[1]} targets", X, Y,
                      GDLinearRegression(), LinearRegression(),
                      "LinearRegression()", "squared"))
    return cases


def classification_cases():
    """The logistic cases: breast_cancer (binary), wine, digits, iris.

    Returns
    -------
    cases : list of Case
    """
    cases = []
    for name in ["breast_cancer", "wine", "digits", "iris"]:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        estimator = GDLogisticRegression()
        cases.append(Case(
            name, f"{np.unique(y).size} classes", X, y, estimator,
            LogisticRegression(C=estimator.C, **LOGISTIC_REFERENCE),
            "LogisticRegression", "logistic",
        ))
    return cases


def timed_fit(estimator, X, y):
    """Fit a clone of ``estimator``, timing it and catching convergence warnings.

    Parameters
    ----------
    estimator : estimator
        Unfitted estimator.
    X, y : ndarray
        Training data.

    Returns
    -------
    fitted : estimator
        The fitted clone.
    seconds : float
        Fit time.
    warned : bool
        Whether a ConvergenceWarning was raised; other warnings pass through.
    """
    fitted = clone(estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        fitted.fit(X, y)
        seconds = time.perf_counter() - start
    warned = False
    for record in caught:
        if issubclass(record.category, ConvergenceWarning):
            warned = True
        else:
            warnings.warn_explicit(record.message, record.category,
                                   record.filename, record.lineno)
    return fitted, seconds, warned


def reference_iterations(fitted):
    """Iterations of a fitted reference, or None for a direct solver."""
    n_iter = getattr(fitted, "n_iter_", None)
    return None if n_iter is None else int(np.max(n_iter))


def compare(case):
    """Fit a case's GD estimator and its reference and compare them.

    Parameters
    ----------
    case : Case

    Returns
    -------
    comparison : Comparison
    """
    gd, time_gd, warned_gd = timed_fit(case.estimator, case.X, case.y)
    ref, time_ref, warned_ref = timed_fit(case.reference, case.X, case.y)

    def score(fitted):
        return objective(case, fitted.coef_, fitted.intercept_)

    coef_gd = np.reshape(gd.coef_, (-1, case.X.shape[1]))
    coef_ref = np.reshape(ref.coef_, (-1, case.X.shape[1]))
    return Comparison(
        case=case,
        objective_gd=score(gd),
        objective_ref=score(ref),
        coef_diff=float(np.max(np.abs(coef_gd - coef_ref))),
        coef_scale=float(np.max(np.abs(coef_ref))),
        iter_gd=int(np.max(gd.n_iter_)),  # an array of shape (1,) for the classifier
        iter_ref=reference_iterations(ref),
        time_gd=time_gd,
        time_ref=time_ref,
        warned_gd=warned_gd,
        warned_ref=warned_ref,
        loss_curve=np.asarray(gd.loss_curve_, dtype=float),
    )


def format_seconds(seconds):
    """``"12 ms"`` below a second, ``"1.23 s"`` above."""
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_iterations(n_iter, warned):
    """Iteration count, ``"exact"`` for None, ``'*'`` after a ConvergenceWarning."""
    text = "exact" if n_iter is None else str(n_iter)
    return text + ("*" if warned else " ")


def table_row(comparison):
    """The cells of one comparison's row in the report."""
    case = comparison.case
    n_samples, n_features = case.X.shape
    return [
        case.dataset,
        f"{n_samples}x{n_features}, {case.targets}",
        repr(case.estimator),
        case.reference_label,
        f"{comparison.gap:+.1e}",
        f"{comparison.coef_diff:.1e}",
        f"{comparison.coef_diff / comparison.coef_scale:.1e}",
        format_iterations(comparison.iter_gd, comparison.warned_gd),
        format_iterations(comparison.iter_ref, comparison.warned_ref),
        format_seconds(comparison.time_gd),
        format_seconds(comparison.time_ref),
    ]


HEADERS = ["dataset", "shape", "estimator", "reference", "obj gap", "max|dcoef|",
           "rel dcoef", "iter GD", "iter ref", "time GD", "time ref"]

#: Number of leading text columns (left-aligned); the rest are numbers.
TEXT_COLUMNS = 4


def format_table(rows):
    """Align the report's rows under :data:`HEADERS`.

    Parameters
    ----------
    rows : list of list of str

    Returns
    -------
    text : str
    """
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if i < TEXT_COLUMNS else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(HEADERS))
    return "\n".join([line(HEADERS), rule, *map(line, rows), rule])


def header_lines(threads):
    """Versions and the conventions of the report."""
    return [
        "gdestimators report: gradient-descent fits vs scikit-learn references",
        f"gdestimators {__version__} | scikit-learn {sklearn.__version__} | "
        f"numpy {np.__version__} | Python {platform.python_version()} | "
        f"BLAS threads: {threads}",
        "Features are raw (unscaled, no StandardScaler; diabetes is "
        "load_diabetes(scaled=False)); GD estimators use default settings.",
        "Logistic reference: LogisticRegression"
        f"(tol={LOGISTIC_REFERENCE['tol']:g}, "
        f"max_iter={LOGISTIC_REFERENCE['max_iter']}), L-BFGS, same C.",
        "",
    ]


def footer_lines(comparisons):
    """Legend, any consistency notes, and the one-line summary."""
    lines = [
        "obj gap = (F_GD - F_ref) / |F_ref| with F the mean-form objective "
        "computed by this script; negative: GD is lower.",
        "rel dcoef = max|coef_GD - coef_ref| / max|coef_ref|.  "
        "* = stopped with a ConvergenceWarning (max_iter reached).",
    ]
    for comparison in comparisons:
        last = comparison.loss_curve[-1]
        mismatch = abs(last - comparison.objective_gd) / abs(comparison.objective_gd)
        if mismatch > 1e-8:
            lines.append(
                f"note: {comparison.case.dataset}: loss_curve_[-1] = {last:.10g} "
                f"but the objective at coef_ is {comparison.objective_gd:.10g}."
            )
    lines.append(summary_line(comparisons))
    return lines


def summary_line(comparisons):
    """One line: how many GD fits reach their reference's objective."""
    behind = [c for c in comparisons if not c.matches]
    worst_coef = max(comparisons, key=lambda c: c.coef_diff / c.coef_scale)
    text = (
        f"Summary: {len(comparisons) - len(behind)} of {len(comparisons)} GD fits "
        f"reach the reference objective (gap <= {GAP_TOLERANCE:g})"
    )
    if behind:
        text += "; behind: " + ", ".join(
            f"{c.case.dataset} {c.gap:+.1e}" + (" (max_iter)" if c.warned_gd else "")
            for c in behind
        )
    return text + (
        f"; largest rel dcoef {worst_coef.coef_diff / worst_coef.coef_scale:.1e} "
        f"({worst_coef.case.dataset})."
    )


def plot_label(case):
    """Legend entry of a case: the data set, and the penalty when it is not default."""
    alpha = getattr(case.estimator, "alpha", 0.0)
    return f"{case.dataset} (alpha={alpha:g})" if alpha else case.dataset


def import_figure(parser):
    """matplotlib's Figure, or a clear command-line error when it is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        parser.error(
            "--plot needs matplotlib, which is not installed; install it with "
            "`pip install matplotlib` (or, from a checkout, "
            "`pip install -e '.[examples]'`)."
        )
    return Figure


def save_convergence_plot(comparisons, path, Figure):
    """Save the relative objective gap of each GD fit per iteration.

    Parameters
    ----------
    comparisons : list of Comparison
    path : str
        Where to save the figure; the format follows the extension.
    Figure : type
        ``matplotlib.figure.Figure``.
    """
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.add_subplot()
    for comparison in comparisons:
        gap = (comparison.loss_curve - comparison.objective_ref) / abs(
            comparison.objective_ref)
        iterations = np.arange(1, gap.size + 1)
        axes.semilogy(iterations, np.maximum(gap, PLOT_FLOOR),
                      label=plot_label(comparison.case))
    axes.set_xlabel("iteration")
    axes.set_ylabel(r"$(F_{GD} - F_{ref}) / |F_{ref}|$"
                    f"  (values $\\leq$ 0 drawn at {PLOT_FLOOR:g})")
    axes.set_title(f"gdestimators {__version__}: convergence to the scikit-learn "
                   "optimum\n(default settings, raw features)")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    figure.savefig(path)


def positive_int(text):
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m gdestimators", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--plot", metavar="PATH",
        help="also save a convergence figure (objective gap per iteration, "
             "log scale) to PATH, e.g. convergence.png; needs matplotlib",
    )
    parser.add_argument(
        "--threads", type=positive_int, default=1, metavar="N",
        help="BLAS threads for the fits (default: 1; the data sets are small, "
             "so more threads only add overhead and noise to the timings)",
    )
    return parser


def main(argv=None):
    """Run the report.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.

    Returns
    -------
    comparisons : list of Comparison
        One per row of the report.
    """
    start = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    Figure = import_figure(parser) if args.plot else None
    print("\n".join(header_lines(args.threads)), flush=True)
    with threadpool_limits(limits=args.threads):
        comparisons = [compare(case)
                       for case in regression_cases() + classification_cases()]
    print(format_table([table_row(c) for c in comparisons]))
    print("\n".join(footer_lines(comparisons)))
    if args.plot:
        save_convergence_plot(comparisons, args.plot, Figure)
        print(f"Convergence figure saved to {args.plot}")
    print(f"Total wall time: {time.perf_counter() - start:.1f} s "
          "(data loading, fits and report; Python start-up and imports excluded)")
    return comparisons


if __name__ == "__main__":
    main()
