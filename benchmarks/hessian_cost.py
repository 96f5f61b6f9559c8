"""What a Hessian costs against a pass over X: the measurement behind ``hessian_cost``.

``solver="auto"`` compares a Newton iteration with a gradient iteration in
passes over the data. This script times, on random dense data of several
shapes, one loss-and-gradient evaluation (a pass) and one loss, gradient and
Hessian evaluation, and prints their ratio next to the model the package
uses (``LinearModelProblem.hessian_cost``: a fixed cost for the blocks plus
the Hessian's flops, ``pairs * p / 50`` passes).

Run: ``python benchmarks/hessian_cost.py`` (about a minute on two cores).
"""

import time

import numpy as np

from gdestimators._losses import classification_loss
from gdestimators._problem import ObjectiveSettings, build_problem

#: (samples, features, classes): tall and narrow to short and wide, binary
#: and multinomial; the first is the flights set's shape.
SHAPES = [
    (327_346, 155, 2), (250_000, 7, 2), (100_000, 30, 2), (60_000, 100, 2),
    (20_000, 300, 2), (1_797, 64, 10), (10_000, 784, 10), (60_000, 50, 5),
]


def best_time(function, repeats=3):
    """The shortest of ``repeats`` wall-clock times of ``function()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(n_samples, n_features, n_classes, rng):
    """One row: pass time, Hessian time, their ratio and the model's cost."""
    X = rng.standard_normal((n_samples, n_features))
    y = rng.integers(0, n_classes, n_samples)
    loss = classification_loss(n_classes)
    settings = ObjectiveSettings(
        loss, loss.encode_targets(y, np.float64), 1.0 / n_samples, 0.0
    )
    problem, model = build_problem(
        X, settings, np.ones(n_samples), fit_intercept=True, precondition="diagonal"
    )
    theta = model.start()
    gradient_time = best_time(lambda: problem.smooth(theta))
    hessian_time = best_time(lambda: problem.second_order(theta), repeats=2)
    return gradient_time, hessian_time, problem.hessian_cost


def main():
    rng = np.random.default_rng(0)
    print("| m | p | outputs | pass (ms) | Hessian (ms) | ratio | model |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n_samples, n_features, n_classes in SHAPES:
        gradient_time, hessian_time, model_cost = measure(
            n_samples, n_features, n_classes, rng
        )
        outputs = 1 if n_classes == 2 else n_classes
        print(
            f"| {n_samples} | {n_features} | {outputs} | {gradient_time * 1e3:.1f} "
            f"| {hessian_time * 1e3:.1f} | {hessian_time / gradient_time:.1f} "
            f"| {model_cost:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
