"""
=============================================
GPU arrays (PyTorch) and Dask arrays: one fit
=============================================

The estimators write their two gradient products against an array namespace
and read the data only through a small "samples" interface, so the same
fit runs on

1. **PyTorch tensors** (on a GPU when one is visible) through scikit-learn's
   array API dispatch: ``coef_`` and every prediction stay tensors on the
   input's device, float32 stays float32;
2. **Dask arrays** on a ``dask.distributed`` cluster: ``X`` is persisted on
   the workers once, each evaluation of the objective is one map-reduce of
   the gradient over its chunks, and predictions are lazy dask arrays.

Both fits are compared with the NumPy fit of the same data: they minimise
the same objective, so the coefficients agree to the solver's tolerance.
A backend whose library is not installed is skipped with a ``SKIP`` line
(``pip install -e ".[dask]"`` from a checkout, ``pip install torch``), and
the figure shows, and its title names, only the libraries that ran.

Figure: ``plot_gpu_and_dask.png``, the coefficients of each backend's fit
against NumPy's.

Run as ``python plot_gpu_and_dask.py [--out DIR]``: the figure goes to
``DIR``, else to ``$GDESTIMATORS_EXAMPLES_OUT``, else next to this script.
``GDESTIMATORS_SMOKE=1`` uses 20,000 rows instead of 400,000.
"""

# %%
# Setup
# -----
# scikit-learn's array API dispatch needs SciPy's own array API support,
# switched on by an environment variable read when SciPy is first imported.
import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import config_context  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

from gdestimators import GDLogisticRegression  # noqa: E402

SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
N_ROWS = 20_000 if SMOKE else 400_000
N_CHUNKS = 8


def figure_folder():
    """``--out DIR``, else ``$GDESTIMATORS_EXAMPLES_OUT``, else this script's folder."""
    parser = argparse.ArgumentParser(description="One fit on torch and dask arrays.")
    parser.add_argument("--out", type=Path, help="folder for the figure")
    folder = parser.parse_known_args()[0].out or os.environ.get("GDESTIMATORS_EXAMPLES_OUT")
    if not folder:  # a notebook has no __file__; its folder is the current one
        folder = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def make_data():
    """Three overlapping classes, features on scales from 0.01 to 100."""
    X, y = make_classification(
        n_samples=N_ROWS, n_features=12, n_informative=6, n_classes=3,
        class_sep=0.7, random_state=0,
    )
    return X * np.logspace(-2, 2, X.shape[1]), y


# %%
# PyTorch, on a GPU when one is visible
# -------------------------------------
def fit_torch(X, y):
    """Fit on torch tensors; return (coef as NumPy, seconds, description)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    X_torch = torch.asarray(X, device=device)
    y_torch = torch.asarray(y, device=device)
    with config_context(array_api_dispatch=True):
        start = time.perf_counter()
        estimator = GDLogisticRegression(tol=1e-10).fit(X_torch, y_torch)
        seconds = time.perf_counter() - start
        labels = estimator.predict(X_torch)
    assert isinstance(estimator.coef_, torch.Tensor)
    return estimator.coef_.cpu().numpy(), seconds, (
        f"coef_ is a torch tensor on {estimator.coef_.device}, predict returns "
        f"a {type(labels).__name__} on {labels.device}"
    )


# %%
# Dask, on a local cluster of two worker processes
# ------------------------------------------------
# Real data would be read by the workers themselves (``da.from_zarr``, say).
# Here the data are a NumPy array on the client, so we send each row block to
# a worker once with ``client.scatter`` and build the dask array from those
# blocks: every task graph then refers to the blocks by name instead of
# embedding the array (``da.from_array`` would put all of ``X`` into the graph
# of every computation, which dask warns about). The cluster could as well be
# remote (``Client("scheduler-address:8786")``): the estimator uses the active
# client.
def scatter_rows(client, X, n_chunks):
    """A dask array whose row blocks were sent to the workers once."""
    import dask.array as da

    bounds = list(pairwise(np.linspace(0, len(X), n_chunks + 1).astype(int)))
    blocks = client.scatter([X[start:stop] for start, stop in bounds])
    return da.concatenate([
        da.from_delayed(block, shape=(stop - start, X.shape[1]), dtype=X.dtype)
        for block, (start, stop) in zip(blocks, bounds, strict=True)
    ])


def fit_dask(X, y, reference):
    """Fit on a dask array on a LocalCluster; return (coef, seconds, description)."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        X_dask = scatter_rows(client, X, N_CHUNKS)
        start = time.perf_counter()
        estimator = GDLogisticRegression(tol=1e-10).fit(X_dask, y)
        seconds = time.perf_counter() - start
        probabilities = estimator.predict_proba(X_dask)
        # Compute the lazy predictions, then compare them on the client.
        labels = estimator.predict(X_dask).compute()
    agreement = float(np.mean(labels == reference.predict(X)))
    return estimator.coef_, seconds, (
        f"predict_proba is a lazy {type(probabilities).__name__} of "
        f"{probabilities.numblocks[0]} chunks; predictions agree with NumPy's "
        f"on {100 * agreement:.2f}% of the samples"
    )


# %%
# The coefficients of each fit against NumPy's
# --------------------------------------------
MARKERS = {
    "torch": dict(marker="o", facecolors="none", edgecolors="C0"),
    "dask": dict(marker="x", color="C1"),
}


def plot(reference, results, skipped, out):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    reference_values = reference.coef_.ravel()
    for backend, (coef, relative) in results.items():
        ax.scatter(reference_values, coef.ravel(), s=45, **MARKERS[backend],
                   label=f"{backend} (largest relative difference {relative:.0e})")
    limits = [reference_values.min(), reference_values.max()]
    ax.plot(limits, limits, color="gray", linewidth=0.8, label="equal")
    ax.set_xscale("symlog", linthresh=1e-2)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("coefficient, NumPy fit (symmetric log scale)")
    ax.set_ylabel("coefficient, fit on the backend's arrays")
    # The title names the libraries that ran, and only those.
    names = ["NumPy", *results]
    count = {2: "two", 3: "three"}.get(len(names), str(len(names)))
    title = (f"One estimator, {count} array libraries: "
             f"{', '.join(names[:-1])} and {names[-1]}")
    if skipped:
        title += f"\n(not installed, skipped: {', '.join(skipped)})"
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    path = out / "plot_gpu_and_dask.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


# %%
# Run
# ---
# Inside ``main()``: the cluster's worker processes import this script again.
def main():
    X, y = make_data()
    start = time.perf_counter()
    reference = GDLogisticRegression(tol=1e-10).fit(X, y)
    print(f"NumPy: {N_ROWS:,} x {X.shape[1]}, 3 classes, {reference.n_iter_[0]} "
          f"iterations, {time.perf_counter() - start:.2f} s")
    backends = [
        ("torch", "torch", "pip install torch", lambda: fit_torch(X, y)),
        ("dask", "distributed", 'pip install -e ".[dask]"',
         lambda: fit_dask(X, y, reference)),
    ]
    results, skipped = {}, []
    for backend, module, install, fit in backends:
        if importlib.util.find_spec(module) is None:
            print(f"SKIP {backend}: {module} is not installed ({install})")
            skipped.append(backend)
            continue
        coef, seconds, description = fit()
        relative = float(np.max(np.abs(coef - reference.coef_))
                         / np.max(np.abs(reference.coef_)))
        print(f"OK   {backend}: {description}; {seconds:.2f} s; largest "
              f"coefficient difference from NumPy {relative:.1e} (relative)")
        results[backend] = (coef, relative)
    if results:
        plot(reference, results, skipped, figure_folder())


if __name__ == "__main__":
    main()
