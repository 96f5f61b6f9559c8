"""Logistic regression on a GPU through the Array API (torch), against the floor.

For each size (default 10,000,000 x 100 and 1,000,000 x 1,000, float32,
feature scales 1e-2..1e2 with offsets, labels from a logistic model), on the
same device in one process:

* the memory-bandwidth floor: the time of one read of ``X`` (``X.sum()``,
  best of 5, synchronised);
* time per iteration of plain gradient descent with a fixed step
  (``solver="gd"``), the marginal time ``(t(N) - t(n)) / (N - n)``, against
  that floor (the target is 1.3x);
* default ``GDLogisticRegression()`` on the device, scikit-learn's
  ``LogisticRegression()`` with ``array_api_dispatch=True`` on the same
  device, and our default fit on the CPU (numpy, the same float32 data):
  time, objective, and relative gap to the best objective reached, all
  objectives evaluated in float64 on the host by ``gdestimators._reference``.
  The target is a gap of 1e-6 in at most 0.2x scikit-learn's time on the
  same GPU.

Usage (the machine needs a CUDA build of torch)::

    SCIPY_ARRAY_API=1 python benchmarks/gpu.py                # both sizes
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --quick        # 200,000 x 100, any device

Writes ``benchmarks/results_gpu.md`` (``results_gpu_quick.md`` with
``--quick``), with the device, versions and the commit.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import gdestimators  # noqa: E402
from gdestimators import GDLogisticRegression  # noqa: E402
from gdestimators._reference import log_loss_objective, relative_gap  # noqa: E402

# benchmarks/ is on sys.path when run as a script.
from environment import git_state  # noqa: E402
from report import markdown_table  # noqa: E402

HERE = Path(__file__).resolve().parent
C = 1.0


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device):
    synchronize(device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function()
    synchronize(device)
    return time.perf_counter() - start, result


def make_problem(n_rows, n_features, device):
    generator = torch.Generator(device=device).manual_seed(0)
    scales = torch.logspace(-2, 2, n_features, device=device)
    offsets = 3.0 * scales
    X = torch.randn(n_rows, n_features, device=device, generator=generator,
                    dtype=torch.float32)
    beta = torch.randn(n_features, device=device, generator=generator) / n_features**0.5
    noise = torch.rand(n_rows, device=device, generator=generator).clamp(1e-7, 1 - 1e-7)
    y = (X @ beta + torch.log(noise / (1 - noise)) > 0).to(torch.int64)
    X.mul_(scales).add_(offsets)
    return X, y


def coefficients(model):
    coef, intercept = model.coef_, model.intercept_
    if isinstance(coef, torch.Tensor):
        coef, intercept = coef.cpu().numpy(), intercept.cpu().numpy()
    return coef, intercept


def n_iterations(model):
    """``n_iter_`` as an int (scikit-learn's is an array, on the device)."""
    value = model.n_iter_
    if isinstance(value, torch.Tensor):
        value = value.cpu().numpy()
    return int(np.max(value))


def fit_on_host(X_host, y_host):
    """Default fit on numpy copies of the device's data: (seconds, model)."""
    return timed(lambda: GDLogisticRegression(C=C).fit(X_host, y_host), torch.device("cpu"))


def run_size(n_rows, n_features, device, rows):
    X, y = make_problem(n_rows, n_features, device)
    read = min(timed(lambda: X.sum(), device)[0] for _ in range(5))
    bandwidth = X.numel() * X.element_size() / read
    print(f"{n_rows:,} x {n_features}: one read {1e3 * read:.2f} ms "
          f"({bandwidth / 1e12:.2f} TB/s)", flush=True)

    def fit_gd(max_iter):
        return GDLogisticRegression(
            C=C, solver="gd", learning_rate=0.2, precondition="diagonal",
            max_iter=max_iter, tol=0.0,
        ).fit(X, y)

    with sklearn.config_context(array_api_dispatch=True):
        timed(lambda: fit_gd(3), device)  # warm-up: kernels, allocator
        low, high = 10, 60
        t_low, _ = timed(lambda: fit_gd(low), device)
        t_high, _ = timed(lambda: fit_gd(high), device)
        per_iteration = (t_high - t_low) / (high - low)
        fits = {}
        fits["GDLogisticRegression() on the device"] = timed(
            lambda: GDLogisticRegression(C=C).fit(X, y), device)
        fits["LogisticRegression() on the device (array API)"] = timed(
            lambda: LogisticRegression(C=C).fit(X, y), device)
    # One host copy serves the CPU fit and every objective: the reference
    # objective is numpy code.
    X_host, y_host = X.cpu().numpy(), y.cpu().numpy()
    fits["GDLogisticRegression() on the CPU (numpy)"] = fit_on_host(X_host, y_host)
    values = {
        name: log_loss_objective(X_host, y_host, *coefficients(model), C=C, classes=(0, 1))
        for name, (_, model) in fits.items()
    }
    best = min(values.values())
    reference = fits["LogisticRegression() on the device (array API)"][0]
    rows.append((f"{n_rows:,} x {n_features}", "per iteration, solver='gd'",
                 1e3 * per_iteration, f"{per_iteration / read:.2f}x one read", "", ""))
    for name, (seconds, model) in fits.items():
        gap = relative_gap(values[name], best)
        rows.append((f"{n_rows:,} x {n_features}", name, 1e3 * seconds,
                     f"{seconds / reference:.3f}x LogisticRegression()",
                     f"{values[name]:.10f}", f"{gap:.1e} ({n_iterations(model)})"))
        print(rows[-1], flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = [(200_000, 100)] if args.quick else [(10_000_000, 100), (1_000_000, 1_000)]
    output = args.output or HERE / ("results_gpu_quick.md" if args.quick else "results_gpu.md")
    rows = []
    for n_rows, n_features in sizes:
        run_size(n_rows, n_features, device, rows)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or "CPU")
    lines = [
        "# gdestimators on a GPU (torch, Array API)", "",
        "- command: `SCIPY_ARRAY_API=1 python benchmarks/gpu.py"
        f"{' --quick' if args.quick else ''}`",
        f"- device: {device} ({name})",
        f"- torch {torch.__version__}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, gdestimators {gdestimators.__version__} (git {git_state()})",
        "- floor: one read of X (`X.sum()`, best of 5); objectives: mean log-loss "
        "+ ||w||^2/(2Cm) in float64 (`gdestimators._reference`, on the host); gap: "
        "relative to the best objective of the rows of the same size (n_iter in "
        "parentheses)",
        "",
        markdown_table(
            ["data", "fit", "time (ms)", "ratio", "objective", "rel. gap (n_iter)"],
            ([a, b, f"{c:.2f}", d, e, f] for a, b, c, d, e, f in rows),
        ),
    ]
    output.write_text("\n".join(lines) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
