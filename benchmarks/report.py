"""Formatting measurements: progress lines, markdown tables, the results report.

The tables' columns and number formats are those of the committed
``results*.md`` files, so that a new run compares with an old one row by row;
change them only together with every results file.
"""

import numpy as np

from gdestimators._reference import relative_gap

from cases import LOGISTIC_REFERENCE, LOGISTIC_STRICT, REGRESSION_REFERENCE
from environment import load_average

SCORING_NOTE = (
    "Columns are explained in `benchmarks/README.md`. Objectives are mean-form "
    "and computed by the benchmark, not by the estimators: regression rows are "
    "all scored on the unpenalised least-squares objective, classification rows "
    "on the C=1 penalised log-loss (sigmoid for two classes, softmax for more), "
    "SGD rows included although they minimise other objectives."
)


def fmt(value, spec, missing="—"):
    """``format(value, spec)``, or ``missing`` for None.

    Parameters
    ----------
    value : object or None
    spec : str
        A format specification, such as ``".3f"``.
    missing : str, default="—"

    Returns
    -------
    text : str
    """
    return missing if value is None else format(value, spec)


def _yes_no(flag):
    return "—" if flag is None else ("yes" if flag else "no")


def _notes_suffix(notes):
    return f"  [{'; '.join(notes)}]" if notes else ""


def _megabytes(n_bytes):
    return None if n_bytes is None else n_bytes / 2**20


def result_line(section, result):
    """One progress line for a finished :class:`measure.Result`.

    Parameters
    ----------
    section : str
        The data set's name.
    result : measure.Result

    Returns
    -------
    line : str
    """
    return (
        f"[{section}] {result.label:50s} time {fmt(result.time, '.3f')} s  "
        f"objective {fmt(result.objective, '.12g')}  n_iter {fmt(result.n_iter, 'd')}  "
        f"peak {fmt(_megabytes(result.peak_bytes), '.1f')} MB  "
        f"ConvergenceWarning {_yes_no(result.convergence_warning)}"
        + _notes_suffix(result.notes)
    )


def _per_iteration(result):
    if result.time is None or not result.n_iter:
        return None
    return result.time / result.n_iter


def streaming_line(result):
    """One progress line for a finished :class:`measure.StreamingResult`.

    Parameters
    ----------
    result : measure.StreamingResult

    Returns
    -------
    line : str
    """
    return (
        f"[streaming] {result.dtype}: X.sum() {fmt(result.read, '.4f')} s  "
        f"fit {fmt(result.time, '.3f')} s  n_iter {fmt(result.n_iter, 'd')}  "
        f"per iteration {fmt(_per_iteration(result), '.4f')} s  "
        f"marginal per iteration {fmt(result.marginal, '.4f')} s"
        + _notes_suffix(result.notes)
    )


def relative_gaps(objectives):
    """Relative gap of each objective to the lowest finite one.

    Parameters
    ----------
    objectives : sequence of float or None
        None, or a value that is not finite, for a row without an objective.

    Returns
    -------
    gaps : list of float or None
        None where the objective is missing or not finite.
    """
    finite = [f for f in objectives if f is not None and np.isfinite(f)]
    if not finite:
        return [None] * len(objectives)
    best = min(finite)
    return [
        relative_gap(f, best) if f is not None and np.isfinite(f) else None
        for f in objectives
    ]


def _cell(text):
    return str(text).replace("|", "\\|")


def markdown_table(header, rows):
    """A markdown table; ``|`` inside cells is escaped.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : iterable of sequence
        Cells, converted with ``str``.

    Returns
    -------
    table : str
        Lines joined by newlines, without a final one.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _ratio(time, reference):
    if time is None or reference is None or reference.time is None:
        return None
    return time / reference.time


def results_table(task, results, x_bytes):
    """The markdown table of one data set's results.

    Parameters
    ----------
    task : {"regression", "classification"}
        Which reference rows the ratio columns divide by.
    results : list of measure.Result
        In row order.
    x_bytes : int
        Size of ``X``, for the peak / X column.

    Returns
    -------
    table : str
    """
    by_label = {r.label: r for r in results}
    if task == "regression":
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
    gaps = relative_gaps([r.objective for r in results])
    rows = []
    for result, gap in zip(results, gaps, strict=True):
        peak = result.peak_bytes
        rows.append([
            f"`{result.label}`",
            fmt(result.time, ".3f"),
            *(fmt(_ratio(result.time, ref), ".2f") for _, ref in references),
            fmt(result.objective, ".10g"),
            fmt(gap, ".1e"),
            fmt(result.n_iter, "d"),
            fmt(_megabytes(peak), ".1f"),
            fmt(None if peak is None else peak / x_bytes, ".2f"),
            _yes_no(result.convergence_warning),
            "; ".join(result.notes),
        ])
    return markdown_table(header, rows)


def _over_read(seconds, result):
    if seconds is None or not result.read:
        return None
    return seconds / result.read


def streaming_table(results):
    """The markdown table of the streaming comparison.

    Parameters
    ----------
    results : list of measure.StreamingResult
        One per dtype of ``X``.

    Returns
    -------
    table : str
    """
    header = [
        "X dtype", "X.sum() (s)", "GDLinearRegression() fit (s)", "n_iter",
        "fit / n_iter (s)", "÷ read", "marginal s / iteration", "÷ read",
        "coef_ dtype", "objective", "ConvergenceWarning", "notes",
    ]
    rows = []
    for result in results:
        per_iteration = _per_iteration(result)
        rows.append([
            result.dtype, fmt(result.read, ".4f"), fmt(result.time, ".3f"),
            fmt(result.n_iter, "d"),
            fmt(per_iteration, ".4f"), fmt(_over_read(per_iteration, result), ".1f"),
            fmt(result.marginal, ".4f"), fmt(_over_read(result.marginal, result), ".1f"),
            result.coef_dtype or "—", fmt(result.objective, ".10g"),
            _yes_no(result.convergence_warning), "; ".join(result.notes),
        ])
    return markdown_table(header, rows)


def write_report(path, environment, sections, elapsed, finished,
                 title="gdestimators benchmark results", note=SCORING_NOTE):
    """Rewrite the whole markdown report from the sections done so far.

    Parameters
    ----------
    path : pathlib.Path
        The report.
    environment : list of str
        Header lines, from :func:`environment.environment_lines`.
    sections : list of tuple
        ``(title, description, table)`` per section, in order.
    elapsed : float
        Seconds since the run started.
    finished : bool
        Whether every section is done.
    title : str, default="gdestimators benchmark results"
        The report's heading.
    note : str, default=SCORING_NOTE
        A paragraph after the header: how the tables are scored.
    """
    status = "complete" if finished else "in progress"
    progress = "so far" if not finished else "in total"
    parts = [
        f"# {title}", "", *environment,
        f"- run {status}: {elapsed / 60:.1f} min {progress}; load average now "
        f"{load_average()}",
        "", note,
    ]
    for title, description, table in sections:
        parts += ["", f"## {title}", "", description, "", table]
    path.write_text("\n".join(parts) + "\n")
