"""The memory size of ``solver="lbfgs"``: passes over X to ``tol=1e-8``, against ``"bb"``.

Usage::

    python benchmarks/lbfgs_memory.py [--memory 10,20,50] [--data NAME[,NAME...]]
                                      [--fashion-rows ROWS] [--max-iter N]
                                      [--output PATH]

Fits ``GDLogisticRegression(C=C, tol=1e-8)`` on raw, unscaled data with
``solver="bb"`` and with ``solver="lbfgs"`` keeping ``m`` pairs, and counts
the evaluations: passes over ``X`` by the solver (objective and gradient
together, plus the power iterations of the curvature bound where a solver
asks for them). The set-up passes that build the change of variables are
the same for every solver and are not counted, and neither are the stop
test's certificates (``tol`` bounds the certified relative objective gap;
both solvers share that test, which computes a certificate, a few passes,
once their own prediction of the gap is below ``tol``). Time is the whole
fit, certificates included, with BLAS limited to one thread (the matrices
are small, and on a shared machine BLAS threads measure the load more than
the code). The objective
is recomputed by :mod:`gdestimators._reference` and shown as the relative
gap to the lowest one of its data set, so that every row is seen to reach
the same optimum.

The memory size is set by replacing the ``"lbfgs"`` entry of ``SOLVERS``
for the fit: the estimators look their solver up there.

``--data`` chooses among ``digits``, ``breast_cancer``, ``wine`` (the
default, all three) and ``fashion_mnist``: a subsample of ``--fashion-rows``
rows (10,000 by default) of Fashion-MNIST's raw pixels, C=1 (Debian's
``dataset-fashion-mnist``). There neither solver reaches ``tol=1e-8`` in
half an hour on two cores: ``--max-iter`` then compares the objectives
reached with the same number of iterations (about as many passes).

Results are written to ``benchmarks/results_lbfgs_memory.md``; the choice
``MEMORY = 20`` in ``gdestimators/_solvers/_lbfgs.py`` follows from them.
"""

import argparse
import contextlib
import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from gdestimators import GDLogisticRegression
from gdestimators._problem import LinearModelProblem
from gdestimators._reference import log_loss_objective, relative_gap
from gdestimators._solvers import SOLVERS
from gdestimators._solvers._lbfgs import lbfgs

# benchmarks/ is on sys.path when run as a script.
from datasets import load_fashion_mnist
from environment import environment_lines
from report import markdown_table

HERE = Path(__file__).resolve().parent
TOL = 1e-8
MAX_ITER = 100_000

#: Data set -> ``(label, loader, values of C)``: the cases of the comparison, raw.
CASES = {
    "digits": ("digits (10 classes)", load_digits, (1.0, 100.0)),
    "breast_cancer": ("breast_cancer", load_breast_cancer, (1.0, 1e4)),
    "wine": ("wine (3 classes)", load_wine, (1.0,)),
}


class PassCounter:
    """Counts the passes over X of :class:`LinearModelProblem` while active."""

    def __init__(self):
        self.passes = 0

    @contextlib.contextmanager
    def counting(self):
        originals = {
            name: getattr(LinearModelProblem, name)
            for name in ("smooth", "curvature_bound_matvec")
        }

        def counted(method):
            @functools.wraps(method)
            def wrapper(*args, **kwargs):
                self.passes += 1
                return method(*args, **kwargs)
            return wrapper

        self.passes = 0
        for name, method in originals.items():
            setattr(LinearModelProblem, name, counted(method))
        try:
            yield self
        finally:
            for name, method in originals.items():
                setattr(LinearModelProblem, name, method)


@contextlib.contextmanager
def lbfgs_memory(memory):
    """``solver="lbfgs"`` keeps ``memory`` pairs inside the block."""
    original = SOLVERS["lbfgs"]
    SOLVERS["lbfgs"] = functools.partial(lbfgs, memory=memory)
    try:
        yield
    finally:
        SOLVERS["lbfgs"] = original


def fit(X, y, C, solver, memory=None, max_iter=MAX_ITER):
    """One fit: ``(passes, iterations, seconds, objective, converged)``."""
    counter = PassCounter()
    estimator = GDLogisticRegression(C=C, solver=solver, tol=TOL, max_iter=max_iter)
    setting = lbfgs_memory(memory) if memory else contextlib.nullcontext()
    with setting, counter.counting(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
    objective = log_loss_objective(X, y, estimator.coef_, estimator.intercept_, C=C)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # The classifier's n_iter_ is an array of shape (1,), as scikit-learn's.
    n_iter = int(np.max(estimator.n_iter_))
    return counter.passes, n_iter, seconds, objective, converged


def run_case(name, X, y, C, memories, max_iter):
    """The rows of one data set: bb, then lbfgs for each memory size."""
    configurations = [("bb", None)] + [("lbfgs", m) for m in memories]
    results = []
    for solver, memory in configurations:
        passes, n_iter, seconds, objective, converged = fit(X, y, C, solver, memory,
                                                           max_iter)
        results.append((solver if memory is None else f"lbfgs, m={memory}",
                        passes, n_iter, seconds, objective, converged))
        print(f"{name} C={C:g} {results[-1][0]}: {passes} passes, {n_iter} iterations, "
              f"{seconds:.2f} s, objective {objective:.12g}"
              + ("" if converged else " (not converged)"), flush=True)
    best = min(result[4] for result in results)
    bb_passes, bb_seconds = results[0][1], results[0][3]
    return [
        (name, f"{C:g}", label, passes, f"{passes / bb_passes:.2f}", n_iter,
         f"{seconds:.2f}", f"{seconds / bb_seconds:.2f}",
         f"{relative_gap(objective, best):.1e}", "yes" if converged else "**no**")
        for label, passes, n_iter, seconds, objective, converged in results
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", default="10,20,50",
                        help="comma-separated memory sizes (default 10,20,50)")
    parser.add_argument("--data", default="digits,breast_cancer,wine",
                        help="comma-separated data sets, among "
                        f"{', '.join([*CASES, 'fashion_mnist'])}")
    parser.add_argument("--fashion-rows", type=int, default=10_000,
                        help="rows of the Fashion-MNIST subsample (default 10,000)")
    parser.add_argument("--max-iter", type=int, default=MAX_ITER,
                        help=f"iteration limit of every fit (default {MAX_ITER:,})")
    parser.add_argument("--output", default=str(HERE / "results_lbfgs_memory.md"))
    args = parser.parse_args()
    memories = [int(value) for value in args.memory.split(",")]
    cases = []
    for name in args.data.split(","):
        if name == "fashion_mnist":
            data = load_fashion_mnist()
            keep = np.random.default_rng(0).choice(
                data.X.shape[0], size=args.fashion_rows, replace=False
            )
            cases.append((f"fashion_mnist, {args.fashion_rows:,} rows (10 classes)",
                          np.ascontiguousarray(data.X[keep]), data.y[keep], 1.0))
            continue
        label, loader, Cs = CASES[name]
        X, y = loader(return_X_y=True)
        cases += [(label, X, y, C) for C in Cs]
    rows = []
    with threadpool_limits(1):
        for name, X, y, C in cases:
            rows += run_case(name, X, y, C, memories, args.max_iter)
    header = ["data (raw)", "C", "solver", "passes over X", "× bb", "iterations",
              "time (s)", "× bb", "objective gap", "converged"]
    table = markdown_table(header, rows)
    print(table)
    command = "python " + " ".join(["benchmarks/lbfgs_memory.py", *sys.argv[1:]])
    Path(args.output).write_text(
        "# L-BFGS memory size against Barzilai–Borwein\n\n"
        + "\n".join(environment_lines(command)) + "\n\n"
        + f"`GDLogisticRegression(C=C, tol={TOL:g})`, raw features, default "
        "preconditioning, BLAS limited to one thread during the fits. Passes "
        "over X are the solver's evaluations (value and gradient together); "
        "the objective gap is relative to the lowest objective of the data "
        "set's rows. Times are of a shared two-core machine: the passes are "
        "the measure that does not depend on its load.\n\n" + table + "\n"
    )


if __name__ == "__main__":
    main()
