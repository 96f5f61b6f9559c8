"""
================================================
Learning rate: too small, about right, too large
================================================

Plain gradient descent, :math:`w \\leftarrow w - \\eta \\nabla_w J`, has one
knob: the learning rate :math:`\\eta`. For least squares the cost is a
quadratic whose curvature is at most :math:`L`, the largest eigenvalue of
:math:`\\frac{1}{m} [X; 1][X; 1]^\\top`; then

- :math:`\\eta \\ll 1/L` converges, but slowly;
- :math:`\\eta = 1/L` is the textbook choice (``learning_rate="auto"`` of
  ``solver="gd"`` uses it, with ``L`` from a power iteration);
- :math:`\\eta > 2/L` makes the cost grow along the steepest direction, and
  the iterates diverge.

We fit :class:`~gdestimators.GDLinearRegression` with ``solver="gd"`` and
``precondition="none"`` (plain gradient descent in the original coordinates)
on the standardised diabetes data with the three rates. With the too-large
rate the estimator does not return garbage: it stops at the first increase
of the cost and raises a ``ValueError`` that names the largest stable rate.
We catch it and show it next to what the same rate does when the
gradient-descent loop is run by hand in NumPy without that safeguard.

Every objective value in the figure, on its axes and in its text, is the
mean-form objective :math:`F = \\frac{1}{2m}\\lVert Xw + b - y \\rVert^2`
computed by one function, :func:`gdestimators._reference.least_squares_objective`;
the estimator's ``loss_curve_`` is checked against it.

Figure ``plot_learning_rate.png``: the objective gap :math:`F - F^*` per
iteration (log scale), :math:`F^*` from the closed form
(:class:`~sklearn.linear_model.LinearRegression`), and what the estimator
raised.

Run as ``python plot_learning_rate.py [--out DIR]``: the figure goes to
``DIR``, else to ``$GDESTIMATORS_EXAMPLES_OUT``, else next to this script.
``GDESTIMATORS_SMOKE=1`` runs 60 iterations instead of 1000.
"""

# %%
# Data, the curvature bound L and the optimum
# -------------------------------------------
import argparse
import os
import re
import textwrap
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from gdestimators import GDLinearRegression
from gdestimators._reference import least_squares_objective


def figure_folder():
    """``--out DIR``, else ``$GDESTIMATORS_EXAMPLES_OUT``, else this script's folder."""
    parser = argparse.ArgumentParser(description="Learning rates of gradient descent.")
    parser.add_argument("--out", type=Path, help="folder for the figure")
    folder = parser.parse_known_args()[0].out or os.environ.get("GDESTIMATORS_EXAMPLES_OUT")
    if not folder:  # a notebook has no __file__; its folder is the current one
        folder = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = figure_folder()
MAX_ITER = 60 if SMOKE else 1000

X_raw, y = load_diabetes(scaled=False, return_X_y=True)
X = StandardScaler().fit_transform(X_raw)
m = len(y)


def F(coef, intercept):
    """The one objective of this example: mean-form least squares."""
    return least_squares_objective(X, y, coef, intercept)


X1 = np.column_stack([X, np.ones(m)])
L = np.linalg.eigvalsh(X1.T @ X1 / m)[-1]
ols = LinearRegression().fit(X, y)
F_star = F(ols.coef_, ols.intercept_)
print(f"diabetes, standardised: m={m} samples, {X.shape[1]} features")
print(f"L = {L:.4f}: 1/L = {1 / L:.4f}, largest stable learning rate 2/L = {2 / L:.4f}")
print(f"optimum (closed form): F* = {F_star:.6f}")

# %%
# Three learning rates
# --------------------
# ``tol=0`` lets the two stable runs use all ``MAX_ITER`` iterations (they
# would otherwise stop at the default ``tol``), so we silence the warning that
# says so. ``loss_curve_`` is the same objective :math:`F`: its last value is
# :math:`F` at the returned coefficients.
rates = {
    "too small": 0.02 / L,
    "about right (1/L)": 1.0 / L,
    "too large": 2.2 / L,
}
curves, error_message = {}, None
for name, rate in rates.items():
    estimator = GDLinearRegression(
        solver="gd", precondition="none", learning_rate=rate,
        max_iter=MAX_ITER, tol=0.0,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
    except ValueError as error:
        error_message = str(error)
        print(f"\nlearning_rate={rate:.4g} ({name}): fit raised ValueError:\n"
              f"  {error_message}")
        continue
    final = F(estimator.coef_, estimator.intercept_)
    assert np.isclose(estimator.loss_curve_[-1], final, rtol=1e-9, atol=0), (
        estimator.loss_curve_[-1], final)
    curves[name] = np.asarray(estimator.loss_curve_)
    print(f"learning_rate={rate:.4g} ({name}): {estimator.n_iter_} iterations, "
          f"F - F* = {final - F_star:.3e}")

assert error_message is not None, "the too-large learning rate was accepted"
assert "learning_rate" in error_message


# %%
# What the too-large rate does without the safeguard
# --------------------------------------------------
# The gradient-descent loop by hand, from the estimator's starting point
# (:math:`w = 0`, :math:`b = \\bar y`), with the gradients written column per
# sample: :math:`\\nabla_w J = \\frac{1}{m} X (h - y)^\\top` and
# :math:`\\nabla_b J = \\frac{1}{m} \\sum_i (h_i - y_i)`. The component of the
# error along the steepest direction is multiplied by
# :math:`|1 - \\eta L| = 1.2` at each step.
def gradient_descent_by_hand(rate, n_iter):
    w, b = np.zeros(X.shape[1]), y.mean()
    objectives = []
    for _ in range(n_iter):
        residual = X @ w + b - y             # h - y, one entry per sample
        w = w - rate * (X.T @ residual) / m  # (1/m) X (h - y)^T, columns as samples
        b = b - rate * residual.mean()       # (1/m) sum(h - y)
        objectives.append(F(w, b))
    return np.array(objectives)


N_HAND = 40
diverging = gradient_descent_by_hand(rates["too large"], N_HAND)
start = F(np.zeros(X.shape[1]), y.mean())
previous = np.concatenate([[start], diverging[:-1]])
first_rise = int(np.argmax(diverging > previous)) + 1
rise_from, rise_to = previous[first_rise - 1], diverging[first_rise - 1]
print(f"by hand, F first rises at iteration {first_rise}, from {rise_from:.6g} to "
      f"{rise_to:.6g}, and reaches {diverging[-1]:.3g} after {N_HAND} iterations")
# The estimator takes the same steps, so it stops at the same iteration.
raised_at = re.search(r"at iteration (\d+)", error_message)
if raised_at:
    assert int(raised_at.group(1)) == first_rise, (raised_at.group(1), first_rise)

# %%
# The figure
# ----------
# The text under the plots quotes :math:`F` as the axes do; the estimator's
# own message is printed above, in full.
fig = plt.figure(figsize=(12, 7.2), layout="constrained")
grid = fig.add_gridspec(2, 2, height_ratios=[3, 0.45], width_ratios=[3, 2])
ax = fig.add_subplot(grid[0, 0])
ax_large = fig.add_subplot(grid[0, 1])
text_ax = fig.add_subplot(grid[1, :])

colors = {"too small": "C0", "about right (1/L)": "C2"}
for name, curve in curves.items():
    iterations = np.arange(1, len(curve) + 1)
    ax.semilogy(iterations, curve - F_star, color=colors[name], lw=2,
                label=f"{name}: learning_rate={rates[name]:.3g} = "
                      f"{rates[name] * L:.2g}/L")
ax.set_xlabel("iteration")
ax.set_ylabel("objective gap F - F*  (units of y squared, log scale)")
ax.set_title("stable rates: the estimator's loss_curve_\n"
             "GDLinearRegression(solver='gd', precondition='none')", fontsize=10)
ax.grid(True, which="major", alpha=0.3)
ax.legend(fontsize=9)

iterations = np.arange(1, N_HAND + 1)
ax_large.semilogy(iterations, diverging - F_star, color="C3", lw=2, ls="--",
                  label="gradient descent by hand (NumPy)")
ax_large.semilogy(first_rise, rise_to - F_star, "X", color="k", ms=10,
                  label=f"the estimator raises here (iteration {first_rise})")
ax_large.set_xlabel("iteration")
ax_large.set_ylabel("objective gap F - F*  (units of y squared, log scale)")
ax_large.set_title(f"too large: learning_rate={rates['too large']:.3g} = 2.2/L\n"
                   "the gap grows by about (1 - 2.2)^2 = 1.44 per step",
                   fontsize=10)
ax_large.grid(True, which="major", alpha=0.3)
ax_large.legend(fontsize=9)

text_ax.axis("off")
message = (
    f"GDLinearRegression(solver='gd', precondition='none', "
    f"learning_rate={rates['too large']:.3g}).fit(X, y) raised ValueError at "
    f"iteration {first_rise}, where F rose from {rise_from:.6g} to {rise_to:.6g} "
    f"(the gap F - F* from {rise_from - F_star:.4g} to {rise_to - F_star:.4g}: "
    "the cross on the right)."
)
# The rate the message names comes from the estimator's own estimate of L
# (a power iteration, with a safety margin); compare it with NumPy's exact one.
named = re.search(r"2/L = ([0-9.eE+-]+)", error_message)
if named:
    named_rate = float(named.group(1))
    message += (
        f" It names 2/L = {named_rate:.6g} as the largest stable rate, "
        f"{100 * (1 - named_rate * L / 2):.1f}% below the exact 2/L = {2 / L:.6g} "
        "from NumPy's eigenvalues: a safety margin on its estimate of L."
    )
    print(f"rate named by the error: {named_rate:.6g}; exact 2/L: {2 / L:.6g}")
text_ax.text(0.0, 1.0, textwrap.fill(message, width=118), va="top", ha="left",
             family="monospace", fontsize=8.5, color="C3", transform=text_ax.transAxes)
fig.suptitle(
    f"Learning rate of plain gradient descent on the standardised diabetes data "
    f"(m={m}); F* from the closed form;\nL = {L:.3g} (largest eigenvalue of "
    f"the Hessian, computed with NumPy): stable rates are below 2/L = {2 / L:.3g}",
    fontsize=11,
)
path = OUT / "plot_learning_rate.png"
fig.savefig(path, dpi=100)
print(f"\nsaved {path}")
