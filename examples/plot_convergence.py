"""
=====================================================
Convergence of each solver, with and without scaling
=====================================================

Every fitted estimator keeps ``loss_curve_``: the objective :math:`F`
(mean-form, penalty included) after each iteration. Here we compare that curve
with the optimum :math:`F^*` computed independently by scikit-learn, and plot
the **relative objective gap** :math:`(F_k - F^*) / F^*` on a log scale, for

- the note's plain gradient descent with a fixed learning rate chosen by hand
  (``solver="gd", learning_rate=1.9 / L, precondition="none"``, with ``L`` the
  largest eigenvalue of the Hessian bound computed with NumPy; a fixed rate is
  stable below ``2 / L``);
- ``solver="gd"`` with its automatic step ``1 / L``;
- ``solver="nesterov"`` (accelerated, with backtracking and restart);
- ``solver="bb"`` (Barzilai–Borwein steps, the ``"auto"`` choice);

each of the last three with ``precondition="none"`` (the note's coordinates),
``"diagonal"`` (centre and scale each feature) and ``"full"`` (also
decorrelate the features).

Problems and references:

- least squares (``alpha=0``) on the diabetes data
  (``load_diabetes(scaled=False)``: age in years, blood pressure in mm Hg, ...)
  raw and after :class:`~sklearn.preprocessing.StandardScaler`; the reference
  is the closed form of :class:`~sklearn.linear_model.LinearRegression`;
- logistic regression (``C=1``) on the breast-cancer data, raw (features from
  about 0.001 to 4000) and standardised; the reference is
  :class:`~sklearn.linear_model.LogisticRegression` with its L-BFGS solver and
  ``tol=1e-10``.

:math:`F^*` is the reference's objective, or the lowest objective any solver
reached if that is lower (L-BFGS stops a few 1e-9 above the optimum on the raw
breast-cancer data; the script prints by how much). Gaps below
:math:`10^{-16}` (rounding level) are drawn at :math:`10^{-16}`. A curve ends
where its solver stopped: converged (``tol=1e-10``) or ``max_iter`` reached.
Iterations do not cost the same across solvers: ``nesterov`` evaluates the
gradient about twice per iteration, ``bb`` and ``nesterov`` sometimes more when
backtracking, and ``"full"`` pays for one ``X^T X`` before the first iteration.

Figures: ``plot_convergence_linear.png`` and ``plot_convergence_logistic.png``
(rows: raw / standardised data; columns: the three preconditioners).

Environment variables: ``GDESTIMATORS_EXAMPLES_OUT`` (folder for the figures,
default the current directory); ``GDESTIMATORS_SMOKE=1`` caps every solver at
60 iterations instead of 3000.
"""

# %%
# Setup
# -----
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLinearRegression, GDLogisticRegression

SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = Path(os.environ.get("GDESTIMATORS_EXAMPLES_OUT", "."))
OUT.mkdir(parents=True, exist_ok=True)
MAX_ITER = 60 if SMOKE else 3000
TOL = 1e-10
C = 1.0
GAP_FLOOR = 1e-16
PRECONDITIONERS = ["none", "diagonal", "full"]
SOLVER_STYLE = {
    "gd": dict(color="C0", label="gd, automatic step 1/L"),
    "nesterov": dict(color="C1", label="nesterov"),
    "bb": dict(color="C2", label="bb (the 'auto' solver)"),
}


# %%
# The objectives, computed independently of the library
# ------------------------------------------------------
# The estimators' mean form: :math:`\frac{1}{2m}\|Xw + b - y\|^2` for least
# squares, and :math:`\frac{1}{m}\sum_i l_i + \frac{1}{2Cm}\|w\|^2` for
# logistic regression (scikit-learn's objective divided by :math:`Cm`).
def least_squares_objective(X, y, coef, intercept):
    return 0.5 * np.mean((X @ coef + intercept - y) ** 2)


def logistic_objective(X, y, coef, intercept):
    z = X @ np.ravel(coef) + np.ravel(intercept)[0]
    # log(1 + exp(z)) - y z is the note's cross-entropy without overflow.
    data_term = np.mean(np.logaddexp(0.0, z) - y * z)
    return data_term + 0.5 / (C * len(y)) * float(np.sum(np.ravel(coef) ** 2))


def largest_curvature(X, curvature):
    """L: largest eigenvalue of (curvature / m) [X, 1]^T [X, 1]."""
    X1 = np.column_stack([X, np.ones(len(X))])
    return curvature * np.linalg.eigvalsh(X1.T @ X1 / len(X))[-1]


# %%
# The problems
# ------------
X_diabetes, y_diabetes = load_diabetes(scaled=False, return_X_y=True)
X_cancer, y_cancer = load_breast_cancer(return_X_y=True)

problems = {
    "linear": [
        ("diabetes, raw features", X_diabetes, y_diabetes),
        ("diabetes, StandardScaler", StandardScaler().fit_transform(X_diabetes),
         y_diabetes),
    ],
    "logistic": [
        ("breast cancer, raw features", X_cancer, y_cancer),
        ("breast cancer, StandardScaler", StandardScaler().fit_transform(X_cancer),
         y_cancer),
    ],
}


def reference(kind, X, y):
    """The independent optimum: closed form or L-BFGS, and its objective."""
    if kind == "linear":
        ols = LinearRegression().fit(X, y)
        return least_squares_objective(X, y, ols.coef_, ols.intercept_), "closed form"
    lbfgs = LogisticRegression(C=C, tol=1e-10, max_iter=100_000).fit(X, y)
    return logistic_objective(X, y, lbfgs.coef_, lbfgs.intercept_), "L-BFGS"


def fit(kind, X, y, **params):
    Estimator = GDLinearRegression if kind == "linear" else GDLogisticRegression
    estimator = Estimator(max_iter=MAX_ITER, tol=TOL, **params)
    with warnings.catch_warnings():
        # Several of these runs are *meant* to stop at max_iter.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


# %%
# Fit every solver and plot its gap
# ---------------------------------
def plot_kind(kind):
    rows = problems[kind]
    fig, axes = plt.subplots(
        len(rows), 3, figsize=(15, 4.6 * len(rows)), sharex=True, sharey="row",
        squeeze=False,
    )
    for row, (title, X, y) in enumerate(rows):
        F_ref, ref_name = reference(kind, X, y)
        L = largest_curvature(X, 1.0 if kind == "linear" else 0.25)
        fixed_rate = 1.9 / L
        curves = {}
        for precondition in PRECONDITIONERS:
            for solver in SOLVER_STYLE:
                est = fit(kind, X, y, solver=solver, precondition=precondition)
                curves[precondition, solver] = np.asarray(est.loss_curve_)
        est = fit(kind, X, y, solver="gd", precondition="none",
                  learning_rate=fixed_rate)
        curves["none", "fixed"] = np.asarray(est.loss_curve_)
        lowest = min(float(np.min(curve)) for curve in curves.values())
        F_star = min(F_ref, lowest)
        print(f"{kind}, {title}: F({ref_name}) = {F_ref:.12g}; lowest GD objective "
              f"{lowest:.12g} (relative difference {(F_ref - lowest) / F_ref:+.1e})")
        for column, precondition in enumerate(PRECONDITIONERS):
            ax = axes[row, column]
            entries = [(solver, SOLVER_STYLE[solver]) for solver in SOLVER_STYLE]
            if precondition == "none":
                entries.insert(0, ("fixed", dict(
                    color="0.45", ls="--",
                    label=f"gd, fixed learning_rate=1.9/L={fixed_rate:.3g}")))
            for solver, style in entries:
                curve = curves[precondition, solver]
                gap = np.maximum((curve - F_star) / abs(F_star), GAP_FLOOR)
                iterations = np.arange(1, len(curve) + 1)
                style = dict(style)
                label = f"{style.pop('label')} ({len(curve)} it.)"
                ax.loglog(iterations, gap, lw=1.8, label=label, **style)
                # Mark where the solver stopped (visible even for 1 iteration).
                ax.plot(iterations[-1], gap[-1], "o", color=style["color"], ms=5)
                print(f"  precondition={precondition!r:11} {solver:9s}: "
                      f"{len(curve):5d} iterations, final gap {gap[-1]:.1e}")
            ax.axhline(GAP_FLOOR, color="k", lw=0.8, ls=":")
            ax.set_title(f"{title}\nprecondition={precondition!r}", fontsize=10)
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, loc="best")
            if column == 0:
                ax.set_ylabel(f"relative gap (F_k - F*) / F*\n"
                              f"F* from {ref_name} (log scale)")
            if row == len(rows) - 1:
                ax.set_xlabel("iteration k (log scale)")
    model = ("GDLinearRegression (least squares, alpha=0)" if kind == "linear"
             else f"GDLogisticRegression (C={C:g})")
    fig.suptitle(
        f"{model}: relative objective gap per iteration "
        f"(tol={TOL:g}, max_iter={MAX_ITER})\n"
        f"gaps below {GAP_FLOOR:g} (rounding level) are drawn on the dotted line; "
        "a dot marks where each solver stopped"
    )
    fig.tight_layout()
    path = OUT / f"plot_convergence_{kind}.png"
    fig.savefig(path, dpi=90)
    print(f"saved {path}")


plot_kind("linear")
plot_kind("logistic")

# %%
# Reading the figures
# -------------------
# On raw features the note's plain gradient descent (and any solver in the
# note's coordinates) crawls: the features' scales differ by orders of
# magnitude, so the cost surface is a narrow valley and the largest stable
# step is tiny along every other direction. Centring and scaling the features
# (``"diagonal"``) removes most of that; decorrelating them as well
# (``"full"``) turns least squares into a problem that one Barzilai–Borwein
# step solves. Standardising the data by hand has the same effect on the
# ``"none"`` column, which is why the estimators precondition by default.
