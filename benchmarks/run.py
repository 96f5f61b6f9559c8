"""Benchmark gdestimators against scikit-learn on raw, unscaled data.

Usage::

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--budget SECONDS]
                             [--output PATH]

For every data set in ``datasets.py`` each estimator is fitted in this one
process (short fits a few times, keeping the fastest) and measured: fit time,
the objective it reached (computed by ``gdestimators._reference``, one
function per problem type, never by the estimators), the relative gap to the
best objective any of them reached, iterations, peak traced memory and
whether a ``ConvergenceWarning`` was raised. The ``streaming`` section
compares the time of one ``GDLinearRegression`` iteration with one read of
``X``. Rows are printed as they finish; ``results.md`` is rewritten after
every section so that a long run leaves partial results behind.

This script is the command line only; ``README.md`` lists the modules that
do the work.
"""

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

# benchmarks/ is on sys.path when run as a script.
from cases import call_arguments, classification_cases, regression_cases
from datasets import LOADERS
from environment import REPO, environment_lines
from measure import (
    MARGINAL_ITERATIONS,
    MARGINAL_PARAMS,
    MARGINAL_REPEATS,
    READ_REPEATS,
    data_nbytes,
    measure,
    measure_streaming,
)
from report import result_line, results_table, streaming_line, streaming_table, write_report

HERE = Path(__file__).resolve().parent
#: Sections in run order: the data sets, plus the streaming comparison.
SECTIONS = [*LOADERS, "streaming"]
#: Default seconds one fit may take, full run and quick run.
DEFAULT_BUDGET_S = 300.0
QUICK_BUDGET_S = 20.0


def parse_args(argv=None):
    """Command-line options.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    args : argparse.Namespace
        With ``sections`` (the names to run), ``budget`` and ``output``
        resolved to their defaults.
    """
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


def run_dataset(dataset, budget):
    """Measure every applicable case on ``dataset``, printing rows as they finish.

    Parameters
    ----------
    dataset : datasets.Dataset
    budget : float
        Seconds one fit may take.

    Returns
    -------
    results : list of measure.Result
    """
    cases = regression_cases() if dataset.task == "regression" else classification_cases()
    results = []
    for case in cases:
        results.append(measure(case, dataset, budget))
        print(result_line(dataset.name, results[-1]), flush=True)
    return results


def run_streaming(dataset, budget):
    """The streaming comparison with ``X`` in float64 and float32.

    Parameters
    ----------
    dataset : datasets.Dataset
        A regression data set.
    budget : float
        Seconds one fit may take.

    Returns
    -------
    results : list of measure.StreamingResult
    """
    results = []
    for dtype in (np.float64, np.float32):
        results.append(measure_streaming(dataset.X.astype(dtype, copy=False), dataset.y, budget))
        print(streaming_line(results[-1]), flush=True)
    return results


def run_section(name, quick, budget):
    """Load and run one section.

    Parameters
    ----------
    name : str
        One of ``SECTIONS``.
    quick : bool
        Load the small version of the data.
    budget : float
        Seconds one fit may take.

    Returns
    -------
    section : tuple of str
        ``(title, description, table)``.
    """
    if name == "streaming":
        dataset = LOADERS["tall"](quick)
        results = run_streaming(dataset, budget)
        description = (
            f"One `X.sum()` (fastest of {READ_REPEATS}) against the time of one "
            f"`GDLinearRegression()` iteration on the tall set "
            f"({dataset.X.shape[0]:,} x {dataset.X.shape[1]}), X as float64 and as "
            "float32: fit time / n_iter (set-up included), and the marginal cost "
            f"of an iteration (fit time difference between max_iter="
            f"{MARGINAL_ITERATIONS[1]} and {MARGINAL_ITERATIONS[0]} of "
            f"`GDLinearRegression({call_arguments(MARGINAL_PARAMS)})`, fastest of "
            f"{MARGINAL_REPEATS}, per iteration)."
        )
        return "streaming", description, streaming_table(results)
    dataset = LOADERS[name](quick)
    results = run_dataset(dataset, budget)
    table = results_table(dataset.task, results, data_nbytes(dataset.X))
    return dataset.name, dataset.description + ".", table


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
