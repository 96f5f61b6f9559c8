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

The stop test is that of a single fit, model by model
(:class:`BatchedStopTest`, after :class:`._common.StopTest`): ``tol`` bounds
each model's relative objective gap ``(F_j - min F_j) / F_j``, certified by
its duality gap (:mod:`.._batched_certificate`) once its own prediction of
the gap says it may pass. The models due for a certificate are certified
together (two passes over ``X`` for all of them), and each passing model
stops at its certified point.
"""

import math
from dataclasses import dataclass

import numpy as np

from .._array_api import array_device, from_numpy, namespace, numpy_float_dtype, to_numpy
from ._barzilai_borwein import _ABB_SWITCH, _ABB_WINDOW, read_interval
from ._common import MAX_BACKTRACKS, SUFFICIENT_DECREASE, Rounding, StopTest, check_finite


class BatchedStopTest:
    """:class:`._common.StopTest` for every model of a grid, entries indexed by grid position.

    For each model tested: once its predicted gap (``|v|^2 / 2``, no pass
    over ``X``) is below ``tol |F_j|``, it is certified; it passes when the
    certified gap is below ``tol`` times the certified objective (or within
    the rounding of the certificate's own sums, or of the gradient it is
    computed from). After a certificate that fails, the next waits until
    the prediction has fallen to where the ratio of the certified to the
    predicted gap just seen says it would pass (tenfold at least), or for
    ``StopTest.RETRY_AFTER`` tests, doubled after each failure: a
    certificate costs two passes over ``X`` for the models it serves, and a
    model waiting keeps iterating. The floor ``n noise^2 |F_0|`` for exact
    fits (``n`` coordinates) is kept per model, as the single test's. A
    model without a certificate (no penalty) passes on its prediction.

    Parameters
    ----------
    problem : BatchedProblem
        Its ``certify`` gives the certificates.
    tol : float
        The relative gap to certify.
    theta : array
        An array of the working precision.
    n_models : int
        Models in the grid.
    """

    def __init__(self, problem, tol, theta, n_models):
        self._problem = problem
        self._tol = tol
        self._noise = Rounding(theta).noise
        self._floor = np.full(n_models, np.nan)
        self._retry_below = np.full(n_models, np.inf)
        self._waited = np.zeros(n_models, dtype=int)
        self._failures = np.zeros(n_models, dtype=int)
        #: The gap at each model's last test: certified, else predicted.
        self.gap = np.full(n_models, np.inf)
        #: ``gap`` relative to the objective there.
        self.relative_gap = np.full(n_models, np.inf)
        #: Whether ``gap`` is a certificate's.
        self.certified = np.zeros(n_models, dtype=bool)
        #: Passes over ``X`` the certificates took.
        self.n_passes = 0
        #: Blocks of models certified together.
        self.n_certifications = 0

    def __call__(self, theta, models, objective, predicted, tested):
        """Test the models at block positions where ``tested`` (host arrays of shape (A,)).

        Returns
        -------
        passed : ndarray of bool of shape (A,)
        replaced : tuple or None
            ``(positions, theta, objective)``: the block positions whose
            point moves to its certificate's (the certified point, intercept
            moved to its best), with those points and objectives.
        """
        grid = models.indices
        floor = self._floor[grid]
        first = tested & np.isnan(floor)
        # As the single test: a residual sums as many rounded products as
        # there are coordinates, and their errors add up.
        terms = max(self._problem.n_rows * self._problem.n_outputs, 1)
        floor[first] = terms * self._noise**2 * np.abs(objective[first])
        self._floor[grid] = floor
        tested_grid = grid[tested]
        self.gap[tested_grid] = predicted[tested]
        self.relative_gap[tested_grid] = _relative(predicted[tested], objective[tested])
        self.certified[tested_grid] = False
        self._waited[tested_grid] += 1
        target = np.maximum(self._tol * np.abs(objective), floor)
        due = tested & (predicted <= target)
        patience = StopTest.RETRY_AFTER * 2 ** self._failures[grid]
        due &= ~((predicted > self._retry_below[grid]) & (self._waited[grid] < patience))
        passed = np.zeros(objective.shape[0], dtype=bool)
        if not due.any():
            return passed, None
        local = np.flatnonzero(due)
        self._waited[grid[local]] = 0
        xp = namespace(theta)
        columns = xp.take(theta, xp.asarray(local, dtype=xp.int64, device=array_device(theta)),
                          axis=1)
        certificate = self._problem.certify(columns, self._problem.active(grid[local]))
        self.n_passes += certificate.n_passes
        self.n_certifications += 1
        available = certificate.available
        cert_target = np.maximum(self._tol * np.abs(certificate.objective), floor[local])
        passes = ~available | (certificate.gap <= cert_target)
        for j in np.flatnonzero(~passes):
            passes[j] = certificate.at_precision_limit(j)
        with_certificate = grid[local[available]]
        self.gap[with_certificate] = certificate.gap[available]
        self.relative_gap[with_certificate] = _relative(certificate.gap[available],
                                                        certificate.objective[available])
        self.certified[with_certificate] = True
        failed = local[~passes]
        with np.errstate(divide="ignore", invalid="ignore"):
            shortfall = np.where(certificate.gap > 0, cert_target / certificate.gap, 1.0)
        progress = np.minimum(StopTest.PROGRESS_BEFORE_RETRY, shortfall)[~passes]
        self._retry_below[grid[failed]] = progress * predicted[failed]
        self._failures[grid[failed]] += 1
        passed[local[passes]] = True
        moved = passes & available
        if not moved.any():
            return passed, None
        pieces = np.flatnonzero(moved)
        points = xp.take(certificate.theta,
                         xp.asarray(pieces, dtype=xp.int64, device=array_device(theta)), axis=1)
        return passed, (local[moved], points, certificate.objective[moved])


def _relative(gap, objective):
    """``gap / |objective|`` entry by entry (0 for ``0 / 0``, inf for ``x / 0``)."""
    gap, objective = np.asarray(gap, dtype=float), np.abs(np.asarray(objective, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = gap / objective
    return np.where(objective != 0, ratio, np.where(gap == 0, 0.0, math.inf))


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
    gap : ndarray of shape (M,)
        The bound on ``F_j - min F_j`` at its last test (solver units):
        certified where ``certified``, else predicted.
    relative_gap : ndarray of shape (M,)
        ``gap / |F_j|``.
    certified : ndarray of bool of shape (M,)
        Whether ``gap`` is a certificate's.
    objective : ndarray of shape (M,)
        Its objective at its last iterate (solver units).
    n_passes : int
        Passes over ``X`` to evaluate the objectives, shared by all models
        (the certificates' are counted by the stop test).
    """

    theta: object
    n_iter: np.ndarray
    converged: np.ndarray
    stalled: np.ndarray
    gap: np.ndarray
    relative_gap: np.ndarray
    certified: np.ndarray
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

    def read(self, iteration, n_active, n_models, relative_gap):
        """Print a line after a host read if one is due."""
        if self._every and (iteration == 1 or iteration % self._every == 0):
            worst = float(np.max(relative_gap)) if relative_gap.size else 0.0
            print(f"[{self.name}] iter {iteration:6d}  running {n_active:4d}/{n_models} "
                  f"models  largest relative gap~ {worst:.3e}", flush=True)

    def note(self, message):
        """Print a line about the fit (a hand-over between solvers) when verbose."""
        if self.verbose:
            print(f"[{self.name}] {message}", flush=True)

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
                "converged", "stalled", "n_iter", "predicted")

    def take(self, keep):
        """Keep the models at positions ``keep`` (an index array on the device)."""
        xp = namespace(self.step)
        for name in self._COLUMNS:
            setattr(self, name, xp.take(getattr(self, name), keep, axis=1))
        for name in self._VECTORS:
            setattr(self, name, xp.take(getattr(self, name), keep, axis=0))


def batched_barzilai_borwein(problem, models, theta, *, max_iter, tol, log, memory=10,
                             stop=None):
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
        The relative objective gap each model certifies (:class:`BatchedStopTest`).
    log : BatchedLog
        Progress reporting.
    memory : int, default=10
        Accepted objectives the non-monotone line search compares against.
    stop : BatchedStopTest, default=None
        The stop test, when a later stage continues it; a new one otherwise.

    Returns
    -------
    result : BatchedResult
    """
    xp = namespace(theta)
    device = array_device(theta)
    rounding = Rounding(theta)
    switch = _ABB_SWITCH if numpy_float_dtype(theta) == np.float64 else 0.0
    n_models = models.size
    if stop is None:
        stop = BatchedStopTest(problem, tol, theta, problem.grid.n_models)

    def filled(shape, value, dtype=theta.dtype):
        return xp.full(shape, value, dtype=dtype, device=device)

    def positions(array):
        return xp.asarray(array, dtype=xp.int64, device=device)

    state = _ModelState()
    value, state.gradient = problem.smooth(theta, models)
    state.theta = theta
    state.objective = problem.objective(theta, value, models)
    state.step = problem.first_steps(models)
    state.short_steps = filled((n_models, _ABB_WINDOW), np.inf)
    state.refusals = filled((n_models,), 0.0)
    state.predicted = problem.predicted_gap(theta, state.gradient, models)
    state.converged = filled((n_models,), False, dtype=xp.bool)
    state.stalled = filled((n_models,), False, dtype=xp.bool)
    state.frozen = state.converged
    state.n_iter = filled((n_models,), 0, dtype=xp.int64)
    _test(stop, state, models, positions)
    state.recent = xp.concat(
        [state.objective[:, None], filled((n_models, memory - 1), -np.inf)], axis=1
    )
    n_passes = 1

    finished = []  # (grid positions, theta, vectors) of models dropped from the block
    every = read_interval(theta)
    iteration = 0
    models = _drop_frozen(state, models, finished, problem, positions)
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
        state.predicted = xp.where(
            running, problem.predicted_gap(state.theta, state.gradient, models),
            state.predicted,
        )
        # No step size gives a decrease: rounding errors of the working
        # precision exceed the remaining progress. Frozen at once; the stop
        # test at the next read may still pass it.
        stalled = (state.refusals >= MAX_BACKTRACKS) | ~(state.step > 0.0)
        state.stalled = state.stalled | (running & stalled)
        state.frozen = state.frozen | state.stalled
        log.iteration()
        if iteration % every and iteration != 1 and iteration < max_iter:
            continue
        _test(stop, state, models, positions)
        log.read(iteration, models.size, n_models,
                 stop.relative_gap[models.indices[~to_numpy(state.frozen)]])
        models = _drop_frozen(state, models, finished, problem, positions)
    if models is not None:
        finished.append(_snapshot(state, models, np.arange(models.size), positions))
    return _assemble(finished, n_models, n_passes, stop, xp)


def _test(stop, state, models, positions):
    """The stop test of the block's unconverged models, at a host read.

    Models that pass are frozen as converged (no longer stalled) at their
    certified point.
    """
    xp = namespace(state.step)
    converged = to_numpy(state.converged)
    tested = ~converged
    objective = np.asarray(to_numpy(state.objective), dtype=np.float64)
    for index in np.flatnonzero(tested):
        check_finite(float(objective[index]), int(to_numpy(state.n_iter)[index]))
    passed, replaced = stop(
        state.theta, models, objective,
        np.asarray(to_numpy(state.predicted), dtype=np.float64), tested,
    )
    if not passed.any():
        return
    like = state.step
    mask = from_numpy(passed, like=like)
    state.converged = state.converged | mask
    state.stalled = state.stalled & ~mask
    state.frozen = state.frozen | mask
    if replaced is None:
        return
    local, points, objectives = replaced
    moved = np.zeros(passed.shape[0], dtype=bool)
    moved[local] = True
    source = np.zeros(passed.shape[0], dtype=int)
    source[local] = np.arange(local.shape[0])
    moved = from_numpy(moved, like=like)
    gathered = xp.take(points, positions(source), axis=1)
    state.theta = xp.where(moved[None, :, None], gathered, state.theta)
    values = np.zeros(passed.shape[0])
    values[local] = objectives
    state.objective = xp.where(
        moved, xp.astype(from_numpy(values, like=like), like.dtype), state.objective
    )


def _snapshot(state, models, local, positions):
    """The final state of the models at block positions ``local`` (numpy ints)."""
    keep = positions(local)
    xp = namespace(state.step)
    vectors = {
        name: to_numpy(xp.take(getattr(state, name), keep, axis=0))
        for name in ("n_iter", "converged", "stalled", "objective")
    }
    return models.indices[local], xp.take(state.theta, keep, axis=1), vectors


def _drop_frozen(state, models, finished, problem, positions):
    """Move frozen models out of the block; return the remaining ones (None if none)."""
    frozen = to_numpy(state.frozen)
    if not frozen.any():
        return models
    finished.append(_snapshot(state, models, np.flatnonzero(frozen), positions))
    keep = np.flatnonzero(~frozen)
    if keep.size == 0:
        return None
    state.take(positions(keep))
    return problem.active(models.indices[keep])


def _assemble(finished, n_models, n_passes, stop, xp):
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
    grid = indices[order]
    return BatchedResult(
        theta, vectors["n_iter"].astype(int), vectors["converged"].astype(bool),
        vectors["stalled"].astype(bool), stop.gap[grid], stop.relative_gap[grid],
        stop.certified[grid], vectors["objective"], n_passes,
    )
