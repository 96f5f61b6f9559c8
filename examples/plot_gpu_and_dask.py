"""
=====================================================
GPU arrays (PyTorch) and Dask arrays: a status check
=====================================================

The design of ``gdestimators`` writes the note's two products,
``W @ XT``-style predictions and ``XT @ R``-style gradients, against an array
namespace, so that the same code would run on PyTorch tensors on a GPU
(through scikit-learn's array API dispatch) and on Dask arrays too big for one
machine. **Neither is implemented yet**: this example is a placeholder that
checks, on the machine where it runs,

1. whether ``torch`` and ``dask.array`` can be imported, and
2. whether the estimators really *accept* them: a small fit is tried inside
   ``try``/``except``, and it only counts as support when the array type is
   kept (``coef_`` stays a torch tensor on the input's device; ``predict`` on
   a Dask array stays a lazy Dask array). Today scikit-learn's validation
   converts such inputs to NumPy with ``np.asarray`` (a CPU tensor, a Dask
   array) or refuses them (a CUDA tensor), and the script says which.

For each backend it prints either the comparison with a NumPy fit or a clear
``SKIP`` line with the reason, and it always exits with status 0.

Figure: ``plot_gpu_and_dask.png`` (coefficients from each supported backend
against NumPy's) is written **only when at least one backend is supported**;
while both are pending, no figure is written.

Environment variables: ``GDESTIMATORS_EXAMPLES_OUT`` (folder for the figure,
default the current directory); ``GDESTIMATORS_SMOKE=1`` is accepted for
symmetry with the other examples (the data are small either way).
"""

# %%
# Setup
# -----
# scikit-learn's array API dispatch needs SciPy's own array API support,
# switched on by an environment variable read when SciPy is first imported.
import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import config_context  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402

from gdestimators import GDLinearRegression  # noqa: E402

SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = Path(os.environ.get("GDESTIMATORS_EXAMPLES_OUT", "."))

X, y = load_diabetes(return_X_y=True)
reference = GDLinearRegression().fit(X, y)
print(f"NumPy fit on diabetes ({X.shape[0]} x {X.shape[1]}): "
      f"{reference.n_iter_} iterations")


# %%
# PyTorch (GPU when one is visible)
# ---------------------------------
def try_torch():
    """Return (coef as NumPy or None, a one-line status)."""
    if importlib.util.find_spec("torch") is None:
        return None, "torch is not installed"
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    X_torch = torch.asarray(X, device=device)
    y_torch = torch.asarray(y, device=device)
    try:
        with config_context(array_api_dispatch=True):
            estimator = GDLinearRegression().fit(X_torch, y_torch)
    except Exception as error:  # any failure means "not supported"
        return None, (f"fit on a torch tensor on {device!r} with "
                      f"array_api_dispatch=True raised {type(error).__name__}: "
                      f"{str(error).splitlines()[0][:200]}")
    coef = estimator.coef_
    if not isinstance(coef, torch.Tensor):
        return None, (f"fit on a torch tensor on {device!r} ran, but coef_ is a "
                      f"{type(coef).__module__}.{type(coef).__name__}: the input "
                      "was converted to NumPy, not used through the array API")
    if coef.device.type != device:
        return None, (f"coef_ is a torch tensor on {coef.device}, not on the "
                      f"input's device {device!r}")
    status = f"supported: coef_ is a torch tensor on {coef.device}"
    return coef.detach().cpu().numpy(), status


# %%
# Dask
# ----
def try_dask():
    """Return (coef as NumPy or None, a one-line status)."""
    if importlib.util.find_spec("dask") is None:
        return None, "dask is not installed"
    try:
        import dask.array as da
    except ImportError as error:  # dask without its array extra (no toolz, ...)
        return None, f"dask.array cannot be imported: {error}"

    X_dask = da.from_array(X, chunks=(100, X.shape[1]))
    y_dask = da.from_array(y, chunks=100)
    try:
        estimator = GDLinearRegression().fit(X_dask, y_dask)
        prediction = estimator.predict(X_dask)
    except Exception as error:
        return None, (f"fit/predict on a dask array raised {type(error).__name__}: "
                      f"{str(error).splitlines()[0][:200]}")
    if not isinstance(prediction, da.Array):
        return None, (f"fit on a dask array ran, but predict returned a "
                      f"{type(prediction).__module__}.{type(prediction).__name__}: "
                      "the data were converted to NumPy (loaded into memory), "
                      "not processed lazily")
    return np.asarray(estimator.coef_), "supported: predict stays a lazy dask array"


# %%
# Run the checks
# --------------
results = {}
for backend, check in [("torch", try_torch), ("dask", try_dask)]:
    coef, status = check()
    if coef is None:
        print(f"SKIP {backend}: {status}")
    else:
        difference = float(np.max(np.abs(coef - reference.coef_)))
        print(f"OK   {backend}: {status}; largest coefficient difference from "
              f"NumPy: {difference:.2e}")
        results[backend] = (coef, difference)

# %%
# A figure only when something is supported
# -----------------------------------------
if not results:
    print("No backend is supported yet (array API / torch and dask support are "
          "pending); no figure written.")
else:
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    positions = np.arange(X.shape[1])
    width = 0.8 / (len(results) + 1)
    ax.bar(positions, reference.coef_, width, label="NumPy")
    for offset, (backend, (coef, difference)) in enumerate(results.items(), start=1):
        ax.bar(positions + offset * width, coef, width,
               label=f"{backend} (largest difference {difference:.1e})")
    ax.set_xticks(positions + 0.4 - width / 2)
    ax.set_xticklabels(load_diabetes().feature_names)
    ax.set_xlabel("feature (diabetes data, scikit-learn's scaling)")
    ax.set_ylabel("coefficient (disease progression per unit of feature)")
    ax.set_title("GDLinearRegression fitted from each array library")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = OUT / "plot_gpu_and_dask.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")
