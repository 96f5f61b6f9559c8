"""Barzilai–Borwein for many independent models that share every pass over X.

The single-model solver (:mod:`._barzilai_borwein`) keeps its decisions in
0-d arrays and where-selections. Here each of those scalars becomes a
vector with one entry per model, and every decision is the same
where-selection taken entry by entry: each model has its own step size, its
own non-monotone line search, its own ABBmin window and its own stop test,
while one evaluation of the objective (one pass over ``X``, see
:mod:`.._batched_objective`) serves all models still running.

A model that has converged (or stalled) is frozen at once, on the device,
and dropped from the active block at the next host read: its columns then
cost no more flops. Reads come every iteration for numpy (a read costs
nothing there) and every ``DEVICE_READ_INTERVAL`` iterations for data on a
device, as in the single-model solver.

The stop test is :func:`model_converged`, one small function, so that a
different criterion (a certified bound on the relative objective gap, say)
replaces it in one place.
"""

from dataclasses import dataclass

import numpy as np

from .._array_api import array_device, namespace, numpy_float_dtype, to_numpy
from ._barzilai_borwein import _ABB_SWITCH, _ABB_WINDOW, read_interval
from ._common import MAX_BACKTRACKS, SUFFICIENT_DECREASE, Rounding, check_finite


def model_converged(violation, tol):
    """The stop test of every model: its scaled optimality violation below ``tol``.

    Parameters
    ----------
    violation : array of shape (A,)
        Each model's largest scaled entry of the minimal-norm subgradient
        (:meth:`.._batched_problem.BatchedProblem.violation`), where the data live.
    tol : float
        The tolerance of the single fits.

    Returns
    -------
    converged : boolean array of shape (A,)
    """
    return violation <= tol


@dataclass
class BatchedResult:
    """What the batched solver returns, one entry per model of the grid.

    Attributes
    ----------
    theta : array of shape (n_rows, M, k)
        Each model's last iterate.
    n_iter : ndarray of int of shape (M,)
        Iterations each model ran.
    converged : ndarray of bool of shape (M,)
        Whether its stop test passed.
    stalled : ndarray of bool of shape (M,)
        Its line search found no decrease (rounding noise).
    violation : ndarray of shape (M,)
        The stop test's quantity at its last iterate.
    objective : ndarray of shape (M,)
        Its objective at its last iterate (solver units).
    n_passes : int
        Evaluations of the objective (passes over ``X``), shared by all models.
    """

    theta: object
    n_iter: np.ndarray
    converged: np.ndarray
    stalled: np.ndarray
    violation: np.ndarray
    objective: np.ndarray
    n_passes: int


class BatchedLog:
    """Progress across all models: lines for ``verbose``, one callback task per pass.

    Parameters
    ----------
    verbose : int
        0 is silent; ``v > 0`` prints a line at the first read, every
        ``max(1, 100 // v)`` iterations, and at the end.
    name : str
        Printed in front of each line.
    observer : callable, default=None
        Called as ``observer()`` after every iteration.
    """

    def __init__(self, verbose=0, name="cv", observer=None):
        self.verbose = verbose
        self.name = name
        self.observer = observer
        self._every = max(1, 100 // verbose) if verbose else 0

    def iteration(self):
        """One shared iteration has run."""
        if self.observer is not None:
            self.observer()

    def read(self, iteration, n_active, n_models, violation):
        """Print a line after a host read if one is due."""
        if self._every and (iteration == 1 or iteration % self._every == 0):
            worst = float(np.max(violation)) if violation.size else 0.0
            print(f"[{self.name}] iter {iteration:6d}  running {n_active:4d}/{n_models} "
                  f"models  largest max|grad| {worst:.3e}", flush=True)

    def finish(self, converged, n_iter, n_passes):
        """Print the outcome over all models (per-model arrays, shared passes)."""
        if not self.verbose:
            return
        print(f"[{self.name}] {int(converged.sum())}/{converged.size} models "
              f"converged; {n_passes} passes over X; iterations per model "
              f"{int(n_iter.min())}..{int(n_iter.max())}", flush=True)


class _ModelState:
    """Per-model vectors of the solver, where the data live (axis 0 or 1 = model)."""

    # Arrays with the model on axis 1 (theta-shaped), then those on axis 0.
    _COLUMNS = ("theta", "gradient")
    _VECTORS = ("step", "objective", "recent", "short_steps", "refusals", "frozen",
                "converged", "stalled", "n_iter", "violation")

    def take(self, keep):
        """Keep the models at positions ``keep`` (an index array on the device)."""
        xp = namespace(self.step)
        for name in self._COLUMNS:
            setattr(self, name, xp.take(getattr(self, name), keep, axis=1))
        for name in self._VECTORS:
            setattr(self, name, xp.take(getattr(self, name), keep, axis=0))


def batched_barzilai_borwein(problem, models, theta, *, max_iter, tol, log, memory=10):
    """Minimise every model of ``models`` from ``theta``: Barzilai–Borwein per model.

    Parameters
    ----------
    problem : BatchedProblem
        The objectives (:mod:`.._batched_problem`).
    models : ActiveModels
        The models to run (all of them at the start).
    theta : array of shape (n_rows, M, k)
        Their starting points.
    max_iter : int
        Iteration limit of every model.
    tol : float
        Tolerance of :func:`model_converged`.
    log : BatchedLog
        Progress reporting.
    memory : int, default=10
        Accepted objectives the non-monotone line search compares against.

    Returns
    -------
    result : BatchedResult
    """
    xp = namespace(theta)
    device = array_device(theta)
    rounding = Rounding(theta)
    switch = _ABB_SWITCH if numpy_float_dtype(theta) == np.float64 else 0.0
    n_models = models.size

    def filled(shape, value, dtype=theta.dtype):
        return xp.full(shape, value, dtype=dtype, device=device)

    def positions(array):
        return xp.asarray(array, dtype=xp.int64, device=device)

    state = _ModelState()
    value, state.gradient = problem.smooth(theta, models)
    state.theta = theta
    state.objective = problem.objective(theta, value, models)
    state.step = problem.first_steps(models)
    state.recent = xp.concat(
        [state.objective[:, None], filled((n_models, memory - 1), -np.inf)], axis=1
    )
    state.short_steps = filled((n_models, _ABB_WINDOW), np.inf)
    state.refusals = filled((n_models,), 0.0)
    state.violation = problem.violation(theta, state.gradient, models)
    state.converged = model_converged(state.violation, tol)
    state.stalled = filled((n_models,), False, dtype=xp.bool)
    state.frozen = state.converged
    state.n_iter = filled((n_models,), 0, dtype=xp.int64)
    n_passes = 1

    finished = []  # (grid positions, theta, vectors) of models dropped from the block
    every = read_interval(theta)
    iteration = 0
    done = _drop_frozen(state, models, finished, problem, positions)
    models = done
    while models is not None and iteration < max_iter:
        iteration += 1
        n_passes += 1
        smooth_only = xp.asarray(~models.has_l1, device=device)
        step = state.step
        # Trial: one proximal gradient step per model, valued with its gradient.
        theta_next = problem.prox(state.theta - step[None, :, None] * state.gradient, step, models)
        value_next, gradient_next = problem.smooth(theta_next, models)
        objective_next = problem.objective(theta_next, value_next, models)
        move = theta_next - state.theta
        change = gradient_next - state.gradient
        squared_move = xp.sum(move * move, axis=(0, 2))
        # Acceptance (non-monotone sufficient decrease, or certified descent).
        reference = xp.max(state.recent, axis=1)
        allowed = (reference - 0.5 * SUFFICIENT_DECREASE * squared_move / step
                   + rounding.slack * xp.abs(reference))
        certified = (
            (objective_next <= state.objective + rounding.noise * xp.abs(state.objective))
            & (xp.sum(gradient_next * move, axis=(0, 2)) <= 0.0)
        )
        accept = ((objective_next <= allowed) | (smooth_only & certified)) & (squared_move > 0)
        accept = accept & ~state.frozen
        # ABBmin step choice.
        curvature = xp.sum(move * change, axis=(0, 2))
        turning = curvature > 0
        one = xp.ones_like(curvature)
        long_step = squared_move / xp.where(turning, curvature, one)
        short_step = curvature / xp.where(turning, xp.sum(change * change, axis=(0, 2)), one)
        state.short_steps = xp.where(
            (accept & turning)[:, None],
            xp.concat([state.short_steps[:, 1:], short_step[:, None]], axis=1),
            state.short_steps,
        )
        chosen = xp.where(short_step < switch * long_step,
                          xp.min(state.short_steps, axis=1), long_step)
        next_step = xp.where(turning & xp.isfinite(chosen), chosen, step)
        # Where-selections, model by model; frozen models keep everything.
        running = ~state.frozen
        state.step = xp.where(accept, next_step, xp.where(running, 0.25 * step, step))
        state.theta = xp.where(accept[None, :, None], theta_next, state.theta)
        state.gradient = xp.where(accept[None, :, None], gradient_next, state.gradient)
        state.objective = xp.where(accept, objective_next, state.objective)
        state.recent = xp.where(
            accept[:, None],
            xp.concat([state.recent[:, 1:], state.objective[:, None]], axis=1),
            state.recent,
        )
        state.refusals = xp.where(accept, xp.zeros_like(state.refusals),
                                  xp.where(running, state.refusals + 1, state.refusals))
        state.n_iter = state.n_iter + xp.astype(running, xp.int64)
        state.violation = xp.where(
            running, problem.violation(state.theta, state.gradient, models), state.violation
        )
        # The stop test and the stall test, per model, frozen at once.
        state.converged = state.converged | (running & model_converged(state.violation, tol))
        stalled = (state.refusals >= MAX_BACKTRACKS) | ~(state.step > 0.0)
        state.stalled = state.stalled | (running & stalled & ~state.converged)
        state.frozen = state.frozen | state.converged | state.stalled
        log.iteration()
        if iteration % every and iteration != 1 and iteration < max_iter:
            continue
        violation = to_numpy(state.violation)
        log.read(iteration, models.size, n_models, violation[~to_numpy(state.frozen)])
        models = _drop_frozen(state, models, finished, problem, positions)
    if models is not None:
        finished.append(_snapshot(state, models, np.arange(models.size), positions))
    return _assemble(finished, n_models, n_passes, xp)


def _snapshot(state, models, local, positions):
    """The final state of the models at block positions ``local`` (numpy ints)."""
    keep = positions(local)
    xp = namespace(state.step)
    vectors = {
        name: to_numpy(xp.take(getattr(state, name), keep, axis=0))
        for name in ("n_iter", "converged", "stalled", "violation", "objective")
    }
    return models.indices[local], xp.take(state.theta, keep, axis=1), vectors


def _drop_frozen(state, models, finished, problem, positions):
    """Move frozen models out of the block; return the remaining ones (None if none)."""
    frozen = to_numpy(state.frozen)
    objective = to_numpy(state.objective)
    for index in np.flatnonzero(frozen):
        check_finite(float(objective[index]), int(to_numpy(state.n_iter)[index]))
    if not frozen.any():
        return models
    finished.append(_snapshot(state, models, np.flatnonzero(frozen), positions))
    keep = np.flatnonzero(~frozen)
    if keep.size == 0:
        return None
    state.take(positions(keep))
    return problem.active(models.indices[keep])


def _assemble(finished, n_models, n_passes, xp):
    """Put the models back in grid order."""
    indices = np.concatenate([piece[0] for piece in finished])
    order = np.argsort(indices)
    theta = xp.concat([piece[1] for piece in finished], axis=1)
    device = array_device(theta)
    theta = xp.take(theta, xp.asarray(order, dtype=xp.int64, device=device), axis=1)
    vectors = {
        name: np.concatenate([piece[2][name] for piece in finished])[order]
        for name in finished[0][2]
    }
    return BatchedResult(
        theta, vectors["n_iter"].astype(int), vectors["converged"].astype(bool),
        vectors["stalled"].astype(bool), vectors["violation"], vectors["objective"],
        n_passes,
    )
