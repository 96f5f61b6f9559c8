"""
=====================================================
Convergence of each solver, with and without scaling
=====================================================

Every fitted estimator keeps ``loss_curve_``: the objective :math:`F`
(mean-form, penalty included) after each iteration. Here we compare that curve
with the optimum :math:`F^*` computed independently by scikit-learn, and plot
the **relative objective gap** :math:`(F_k - F^*) / F^*` on a log scale, for

- plain gradient descent with a fixed learning rate chosen by hand
  (``solver="gd", learning_rate=1.9 / L, precondition="none"``, with ``L`` the
  largest eigenvalue of the Hessian bound computed with NumPy; a fixed rate is
  stable below ``2 / L``);
- ``solver="gd"`` with its automatic step ``1 / L``;
- ``solver="nesterov"`` (accelerated, with backtracking and restart);
- ``solver="bb"`` (Barzilai–Borwein steps, the ``"auto"`` choice);

each of the last three with ``precondition="none"`` (the original coordinates),
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

Both the curves and the references are values of one function, the mean-form
objective of :mod:`gdestimators._reference` (plain NumPy, independent of the
solvers); the script checks that each ``loss_curve_`` ends on that function's
value at the fitted coefficients.

:math:`F^*` is the smaller of the reference's objective and the lowest
objective any run reached (L-BFGS stops a few 1e-9 above the optimum on the
raw breast-cancer data; the script prints by how much), so that no gap is
negative. Gaps below :math:`10^{-16}` (rounding level) are drawn at
:math:`10^{-16}`. A curve ends where its solver stopped, marked by a dot:
converged (``tol=1e-10``) or ``max_iter`` reached. Iterations do not cost the
same across solvers: ``nesterov`` evaluates the gradient about twice per
iteration, ``bb`` and ``nesterov`` sometimes more when backtracking, and
``"full"`` pays for one ``X^T X`` before the first iteration.

Figures: ``plot_convergence_linear.png`` and ``plot_convergence_logistic.png``
(rows: raw / standardised data; columns: the three preconditioners; each
panel's legend sits below it, clear of the curves).

Run as ``python plot_convergence.py [--out DIR]``: the figures go to ``DIR``,
else to ``$GDESTIMATORS_EXAMPLES_OUT``, else next to this script.
``GDESTIMATORS_SMOKE=1`` caps every solver at 60 iterations instead of 3000.
"""

# %%
# Setup
# -----
import argparse
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
from gdestimators._reference import least_squares_objective, log_loss_objective


def figure_folder():
    """``--out DIR``, else ``$GDESTIMATORS_EXAMPLES_OUT``, else this script's folder."""
    parser = argparse.ArgumentParser(description="Convergence of each solver.")
    parser.add_argument("--out", type=Path, help="folder for the figures")
    folder = parser.parse_known_args()[0].out or os.environ.get("GDESTIMATORS_EXAMPLES_OUT")
    if not folder:  # a notebook has no __file__; its folder is the current one
        folder = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = figure_folder()
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
# One objective function for everything
# --------------------------------------
# The estimators' mean form, computed by :mod:`gdestimators._reference`:
# :math:`\frac{1}{2m}\|Xw + b - y\|^2` for least squares, and
# :math:`\frac{1}{m}\sum_i l_i + \frac{1}{2Cm}\|w\|^2` for logistic
# regression (scikit-learn's objective divided by :math:`Cm`).
def objective(kind, X, y, coef, intercept):
    if kind == "linear":
        return least_squares_objective(X, y, coef, intercept)
    return log_loss_objective(X, y, coef, intercept, C=C)


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
        return objective(kind, X, y, ols.coef_, ols.intercept_), "closed form"
    lbfgs = LogisticRegression(C=C, tol=1e-10, max_iter=100_000).fit(X, y)
    return objective(kind, X, y, lbfgs.coef_, lbfgs.intercept_), "L-BFGS"


def fit(kind, X, y, **params):
    Estimator = GDLinearRegression if kind == "linear" else GDLogisticRegression
    estimator = Estimator(max_iter=MAX_ITER, tol=TOL, **params)
    with warnings.catch_warnings():
        # Several of these runs are *meant* to stop at max_iter.
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    # loss_curve_ must be the same function as the references: its last value
    # is the objective at the returned coefficients.
    final = objective(kind, X, y, estimator.coef_, estimator.intercept_)
    assert np.isclose(estimator.loss_curve_[-1], final, rtol=1e-9, atol=0), (
        estimator.loss_curve_[-1], final)
    return estimator


# %%
# Fit every solver and plot its gap
# ---------------------------------
# One legend for the whole figure, outside the panels, so that no curve end
# and no stop marker is hidden; each panel's title gives its iteration counts.
FIXED_STYLE = dict(color="0.45", ls="--", label="gd, fixed learning_rate=1.9/L")
SHORT_NAME = {"fixed": "fixed", "gd": "gd", "nesterov": "nesterov", "bb": "bb"}


def plot_kind(kind):
    rows = problems[kind]
    fig, axes = plt.subplots(
        len(rows), 3, figsize=(15, 4.8 * len(rows) + 1.2), sharex=True, sharey="row",
        squeeze=False, layout="constrained",
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
                entries.insert(0, ("fixed", FIXED_STYLE))
            counts = []
            for solver, style in entries:
                curve = curves[precondition, solver]
                gap = np.maximum((curve - F_star) / abs(F_star), GAP_FLOOR)
                iterations = np.arange(1, len(curve) + 1)
                ax.loglog(iterations, gap, lw=1.8, **style)
                # Mark where the solver stopped (visible even for 1 iteration).
                ax.plot(iterations[-1], gap[-1], "o", color=style["color"], ms=5)
                counts.append(f"{SHORT_NAME[solver]} {len(curve)}")
                print(f"  precondition={precondition!r:11} {solver:9s}: "
                      f"{len(curve):5d} iterations, final gap {gap[-1]:.1e}")
            ax.axhline(GAP_FLOOR, color="k", lw=0.8, ls=":")
            rate = f", 1.9/L={fixed_rate:.3g}" if precondition == "none" else ""
            ax.set_title(f"{title}, precondition={precondition!r}{rate}\n"
                         f"iterations: {', '.join(counts)}", fontsize=10)
            ax.grid(True, which="major", alpha=0.3)
            if column == 0:
                ax.set_ylabel(f"relative gap (F_k - F*) / F*, log scale\n"
                              f"F* = min(F of {ref_name}, lowest F_k)")
            if row == len(rows) - 1:
                ax.set_xlabel("iteration k (log scale)")
    handles = [plt.Line2D([], [], lw=1.8, **style)
               for style in [FIXED_STYLE, *SOLVER_STYLE.values()]]
    handles.append(plt.Line2D([], [], color="k", lw=0.8, ls=":",
                              label=f"gap floor {GAP_FLOOR:g} (rounding level)"))
    handles.append(plt.Line2D([], [], color="0.3", ls="", marker="o", ms=5,
                              label="where the solver stopped"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9)
    model = ("GDLinearRegression (least squares, alpha=0)" if kind == "linear"
             else f"GDLogisticRegression (C={C:g})")
    fig.suptitle(f"{model}: relative objective gap per iteration "
                 f"(tol={TOL:g}, max_iter={MAX_ITER})")
    path = OUT / f"plot_convergence_{kind}.png"
    fig.savefig(path, dpi=90)
    print(f"saved {path}")


plot_kind("linear")
plot_kind("logistic")

# %%
# Reading the figures
# -------------------
# On raw features plain gradient descent (and any solver in the original
# coordinates) crawls: the features' scales differ by orders of magnitude, so
# the cost surface is a narrow valley and the largest stable step is tiny
# along every other direction. Centring and scaling the features
# (``"diagonal"``) removes most of that; decorrelating them as well
# (``"full"``) turns least squares into a problem that one Barzilai–Borwein
# step solves. Standardising the data by hand has the same effect on the
# ``"none"`` column, which is why the estimators precondition by default.
