"""
================================================
Learning rate: too small, about right, too large
================================================

The note's gradient descent, :math:`w \\leftarrow w - \\eta \\nabla_w J`, has
one knob: the learning rate :math:`\\eta`. For least squares the cost is a
quadratic whose curvature is at most :math:`L`, the largest eigenvalue of
:math:`\\frac{1}{m} [X; 1][X; 1]^\\top`; then

- :math:`\\eta \\ll 1/L` converges, but slowly;
- :math:`\\eta = 1/L` is the textbook choice (``learning_rate="auto"`` of
  ``solver="gd"`` uses it, with ``L`` from a power iteration);
- :math:`\\eta > 2/L` makes the cost grow along the steepest direction, and
  the iterates diverge.

We fit :class:`~gdestimators.GDLinearRegression` with ``solver="gd"`` and
``precondition="none"`` (the note's algorithm in the note's coordinates) on
the standardised diabetes data with the three rates. With the too-large rate
the estimator does not return garbage: it stops at the first increase of the
cost and raises a ``ValueError`` that names the largest stable rate. We catch
it, print it, and show it in the figure, next to what the same rate does
when the note's loop is run by hand in NumPy without that safeguard.

Figure ``plot_learning_rate.png``: the objective gap :math:`F - F^*` per
iteration (log scale), :math:`F^*` from the closed form
(:class:`~sklearn.linear_model.LinearRegression`), and the error message.

Environment variables: ``GDESTIMATORS_EXAMPLES_OUT`` (folder for the figure,
default the current directory); ``GDESTIMATORS_SMOKE=1`` runs 60 iterations
instead of 1000.
"""

# %%
# Data, the curvature bound L and the optimum
# -------------------------------------------
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

SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = Path(os.environ.get("GDESTIMATORS_EXAMPLES_OUT", "."))
OUT.mkdir(parents=True, exist_ok=True)
MAX_ITER = 60 if SMOKE else 1000

X_raw, y = load_diabetes(scaled=False, return_X_y=True)
X = StandardScaler().fit_transform(X_raw)
m = len(y)

X1 = np.column_stack([X, np.ones(m)])
L = np.linalg.eigvalsh(X1.T @ X1 / m)[-1]
ols = LinearRegression().fit(X, y)
F_star = 0.5 * np.mean((ols.predict(X) - y) ** 2)
print(f"diabetes, standardised: m={m} samples, {X.shape[1]} features")
print(f"L = {L:.4f}: 1/L = {1 / L:.4f}, largest stable learning rate 2/L = {2 / L:.4f}")
print(f"optimum (closed form): F* = {F_star:.6f}")

# %%
# Three learning rates
# --------------------
# ``tol=0`` lets the two stable runs use all ``MAX_ITER`` iterations (they
# would otherwise stop at the default ``tol``), so we silence the warning that
# says so.
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
    curves[name] = np.asarray(estimator.loss_curve_)
    print(f"learning_rate={rate:.4g} ({name}): {estimator.n_iter_} iterations, "
          f"F - F* = {estimator.loss_curve_[-1] - F_star:.3e}")

assert error_message is not None, "the too-large learning rate was accepted"
assert "learning_rate" in error_message


# %%
# What the too-large rate does without the safeguard
# --------------------------------------------------
# The note's loop by hand, from the estimator's starting point (:math:`w = 0`,
# :math:`b = \bar y`): the component of the error along the steepest
# direction is multiplied by :math:`|1 - \eta L| = 1.2` at each step.
def note_gd_by_hand(rate, n_iter):
    w, b = np.zeros(X.shape[1]), y.mean()
    costs = []
    for _ in range(n_iter):
        residual = X @ w + b - y           # h - y, one entry per sample
        w = w - rate * (X.T @ residual) / m  # (1/m) X (h - y)^T in the note
        b = b - rate * residual.mean()       # (1/m) sum(h - y)
        costs.append(0.5 * np.mean((X @ w + b - y) ** 2))
    return np.array(costs)


N_HAND = 40
diverging = note_gd_by_hand(rates["too large"], N_HAND)
start_cost = 0.5 * np.mean((y.mean() - y) ** 2)
previous = np.concatenate([[start_cost], diverging[:-1]])
first_rise = int(np.argmax(diverging > previous)) + 1
print(f"by hand, the cost first rises at iteration {first_rise} and reaches "
      f"{diverging[-1]:.3g} after {N_HAND} iterations")

# %%
# The figure
# ----------
fig = plt.figure(figsize=(12, 8))
grid = fig.add_gridspec(2, 2, height_ratios=[3, 1.1], width_ratios=[3, 2])
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
                  label="the note's loop by hand (NumPy)")
ax_large.semilogy(first_rise, diverging[first_rise - 1] - F_star, "X", color="k",
                  ms=10, label=f"the estimator raises here (iteration {first_rise})")
ax_large.set_xlabel("iteration")
ax_large.set_ylabel("objective gap F - F*  (units of y squared, log scale)")
ax_large.set_title(f"too large: learning_rate={rates['too large']:.3g} = 2.2/L\n"
                   "the cost grows by about (1 - 2.2)^2 = 1.44 per step",
                   fontsize=10)
ax_large.grid(True, which="major", alpha=0.3)
ax_large.legend(fontsize=9)

text_ax.axis("off")
wrapped = textwrap.fill(error_message, width=120)
# The rate the message names comes from the estimator's own estimate of L
# (a power iteration, with a safety margin); compare it with NumPy's exact one.
named = re.search(r"2/L = ([0-9.eE+-]+)", error_message)
if named:
    named_rate = float(named.group(1))
    wrapped += (f"\n\n(exact 2/L from NumPy's eigenvalues: {2 / L:.6g}; the rate "
                f"named in the message is {100 * (1 - named_rate * L / 2):.1f}% "
                "lower: a safety margin on the estimator's estimate of L)")
    print(f"rate named by the error: {named_rate:.6g}; exact 2/L: {2 / L:.6g}")
text_ax.text(
    0.0, 1.0,
    f"GDLinearRegression(solver='gd', precondition='none', "
    f"learning_rate={rates['too large']:.3g}).fit(X, y) raised ValueError:\n\n"
    f"{wrapped}",
    va="top", ha="left", family="monospace", fontsize=8.5, color="C3",
    transform=text_ax.transAxes,
)
fig.suptitle(
    f"Learning rate of the note's gradient descent on the standardised diabetes "
    f"data (m={m}); F* from the closed form;\nL = {L:.3g} (largest eigenvalue of "
    f"the Hessian, computed with NumPy): stable rates are below 2/L = {2 / L:.3g}",
    fontsize=11,
)
fig.tight_layout()
path = OUT / "plot_learning_rate.png"
fig.savefig(path, dpi=100)
print(f"\nsaved {path}")
