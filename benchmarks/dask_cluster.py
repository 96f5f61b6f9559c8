"""Logistic regression on a dask.distributed LocalCluster, against dask-ml.

Starts a ``LocalCluster`` of worker processes, each allowed less memory than
``X``, generates a binary problem with unequal feature scales on the workers
(``X`` never exists on the client), and measures on the same cluster:

* time per iteration: the marginal time of an iteration of plain gradient
  descent with a fixed step, ``(t(max_iter=N) - t(max_iter=n)) / (N - n)``,
  for ``GDLogisticRegression(solver="gd")`` and for dask-ml's
  ``LogisticRegression(solver="gradient_descent")`` (setup passes cancel);
  the time of one pass over ``X`` (``X.sum()``) is the floor;
* default fits: ``GDLogisticRegression()`` against dask-ml's default
  ``LogisticRegression()`` (ADMM) and its ``lbfgs``, with each model's
  objective computed on the cluster the same way, by
  ``gdestimators._reference``: the mean log-loss plus ``||w||^2 / (2 C m)``
  (our objective; dask-ml penalises the intercept too, which at this ``m``
  changes the optimum by far less than the gaps shown).

Usage::

    pip install -e .[bench]
    python benchmarks/dask_cluster.py            # 8,000,000 x 25, ~10 min
    python benchmarks/dask_cluster.py --rows 400000 --features 10 --workers 2 \
        --memory-limit 1e9 --output /tmp/quick.md      # smoke test

Writes ``benchmarks/results_dask.md`` (machine, versions, load average).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

from gdestimators import GDLogisticRegression
from gdestimators._reference import elastic_net_penalty, log_loss_objective, relative_gap

# benchmarks/ is on sys.path when run as a script.
from environment import environment_lines
from report import markdown_table

C = 1.0


def make_problem(n_rows, n_features, chunk_rows):
    """Binary labels from a logistic model on features of scales 1e-3..1e3."""
    rng = da.random.default_rng(0)
    scales = np.logspace(-3, 3, n_features)
    offsets = 5.0 * scales * np.random.default_rng(1).standard_normal(n_features)
    chunks = (chunk_rows, n_features)
    X = rng.standard_normal((n_rows, n_features), chunks=chunks) * scales + offsets
    beta = np.random.default_rng(2).standard_normal(n_features) / scales
    logits = (X - offsets) @ beta
    noise = rng.logistic(size=n_rows, chunks=chunk_rows)
    y = (logits + noise > 0).astype(np.int64)
    X, y = dask.persist(X, y)
    dask.compute(X.sum(), y.sum())  # materialised before any timing
    return X, y


def objective(X, y, coef, intercept):
    """Mean-form penalised log-loss (``gdestimators._reference``), computed on the cluster.

    Each worker scores its own chunks of rows without the penalty, so that
    ``X`` never travels to the client; the penalty, which the mean form
    divides by the number of all rows, is added once.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
        Chunked by rows only, like ``y``.
    y : dask array of shape (n_samples,)
        Labels 0 and 1.
    coef : ndarray of shape (n_features,)
    intercept : float

    Returns
    -------
    objective : float
    """
    if X.numblocks[1] != 1 or X.chunks[0] != y.chunks[0]:
        raise ValueError("X and y must share their row chunks, and X have one column chunk")

    def chunk_loss_sum(X_chunk, y_chunk):
        mean = log_loss_objective(X_chunk, y_chunk, coef, intercept, C=np.inf, classes=(0, 1))
        return X_chunk.shape[0] * mean

    sums = dask.compute(*(
        dask.delayed(chunk_loss_sum)(X_chunk, y_chunk)
        for X_chunk, y_chunk in zip(X.to_delayed().ravel(), y.to_delayed(), strict=True)
    ))
    n_samples = X.shape[0]
    return sum(sums) / n_samples + elastic_net_penalty(coef) / (C * n_samples)


def timed(fit):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit()
    return time.perf_counter() - start, model


def our_coefficients(model):
    return model.coef_[0], float(model.intercept_[0])


def dask_ml_coefficients(model):
    return np.asarray(model.coef_).ravel(), float(np.asarray(model.intercept_).ravel()[0])


def per_iteration(fit_with_max_iter, low, high):
    t_low, _ = timed(lambda: fit_with_max_iter(low))
    t_high, _ = timed(lambda: fit_with_max_iter(high))
    return (t_high - t_low) / (high - low)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--memory-limit", type=float, default=None,
                        help="bytes per worker (default 0.9 x the size of X; "
                             "a worker process needs about 200 MB of its own)")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "results_dask.md")
    args = parser.parse_args()
    x_bytes = args.rows * args.features * 8
    # Each worker may hold less than X, but enough for its share of it.
    memory_limit = int(args.memory_limit or 0.9 * x_bytes)
    chunk_rows = max(10_000, args.rows // (8 * args.workers))
    command = "python benchmarks/dask_cluster.py " + " ".join(sys.argv[1:])
    environment = environment_lines(command)
    rows = []
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=":0") as cluster, \
            Client(cluster):
        X, y = make_problem(args.rows, args.features, chunk_rows)
        read = min(timed(lambda: X.sum().compute())[0] for _ in range(3))
        print(f"X: {x_bytes / 2**30:.2f} GiB in {X.numblocks[0]} chunks; "
              f"{args.workers} workers, limit {memory_limit / 2**30:.2f} GiB each; "
              f"one read of X {read:.3f} s", flush=True)

        ours = per_iteration(
            lambda n: GDLogisticRegression(
                C=C, solver="gd", learning_rate=0.2, precondition="diagonal",
                max_iter=n, tol=0.0,
            ).fit(X, y), 5, 25,
        )
        rows.append(("per iteration", "GDLogisticRegression(solver='gd')", ours, ours / read))
        print(rows[-1], flush=True)
        try:
            from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
        except ImportError:
            DaskMLLogisticRegression = None
        if DaskMLLogisticRegression is not None:
            theirs = per_iteration(
                lambda n: DaskMLLogisticRegression(
                    C=C, solver="gradient_descent", max_iter=n, tol=0.0
                ).fit(X, y), 2, 7,
            )
            rows.append(("per iteration", "dask-ml LogisticRegression(solver='gradient_descent')",
                         theirs, theirs / read))
            print(rows[-1], flush=True)

        fits = [("GDLogisticRegression()",
                 lambda: GDLogisticRegression(C=C).fit(X, y), our_coefficients)]
        if DaskMLLogisticRegression is not None:
            fits += [
                ("dask-ml LogisticRegression() (admm)",
                 lambda: DaskMLLogisticRegression(C=C).fit(X, y), dask_ml_coefficients),
                ("dask-ml LogisticRegression(solver='lbfgs')",
                 lambda: DaskMLLogisticRegression(C=C, solver="lbfgs").fit(X, y),
                 dask_ml_coefficients),
            ]
        results = []
        for name, fit, coefficients in fits:
            seconds, model = timed(fit)
            value = objective(X, y, *coefficients(model))
            n_iter = getattr(model, "n_iter_", "—")
            if isinstance(n_iter, np.ndarray):  # LogisticRegression-style, shape (1,)
                n_iter = int(np.max(n_iter))
            results.append((name, seconds, value, n_iter))
            print(results[-1], flush=True)
    best = min(value for _, _, value, _ in results)
    lines = [
        "# gdestimators on a dask.distributed cluster", "", *environment,
        f"- data: {args.rows:,} x {args.features} float64 ({x_bytes / 2**30:.2f} GiB), "
        f"binary, feature scales 1e-3..1e3 with offsets, {X.numblocks[0]} chunks",
        f"- cluster: LocalCluster, {args.workers} worker processes x 1 thread, "
        f"memory limit {memory_limit / 2**30:.2f} GiB per worker "
        f"({'<' if memory_limit < x_bytes else '>='} X)",
        f"- one read of X (`X.sum()`, best of 3): {read:.3f} s",
        "",
        "## Time per iteration (plain gradient descent, fixed step)",
        "",
        markdown_table(
            ["estimator", "s / iteration", "× one read of X"],
            ([f"`{name}`", f"{sec:.3f}", f"{ratio:.2f}"] for _, name, sec, ratio in rows),
        ),
        "",
        "## Default fits (time to the end of the fit, objective on the same scale)",
        "",
        markdown_table(
            ["estimator", "fit (s)", "objective", "rel. gap to best", "n_iter"],
            ([f"`{name}`", f"{sec:.1f}", f"{value:.10f}", f"{relative_gap(value, best):.1e}",
              n_iter] for name, sec, value, n_iter in results),
        ),
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
