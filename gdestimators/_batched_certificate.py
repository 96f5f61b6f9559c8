"""The duality gap of many models at once: the stop test of every (fold, penalty) model.

Each model's certificate is that of a single fit
(:meth:`._problem.LinearModelProblem.certify`, :mod:`._certificate`): the
duality gap at its coefficients with the intercept moved to its best value,
the dual point being the residuals there. Only the passes over ``X`` are
shared: one pass gives every certified model's logits (kept, for a block of
models whose logits fit :data:`CERTIFICATE_MEMORY_FRACTION` of ``X``), the
intercept shifts are found from them without touching ``X`` (a Newton
iteration per model, all models evaluated together), and one more pass gives
the products ``X diag(s_j) r_j`` of the dual points.

A model without any penalty has no dual point; it has no certificate, and
its stop test relies on the solver's prediction, as a single fit without a
certificate does.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import array_device, from_numpy, namespace, numpy_float_dtype, to_numpy
from ._blocks import BLOCK_BYTES
from ._certificate import (
    _MAX_SHIFT_STEPS,
    SUM_ROUNDING_ULPS,
    duality_gap,
    gradient_rounding_effect,
)

#: The logits kept for a certificate, at most, as a fraction of the bytes of
#: ``X`` (at least one model's, and at least CERTIFICATE_MIN_BYTES): models
#: are certified in blocks of that size.
CERTIFICATE_MEMORY_FRACTION = 0.05
#: Small data are certified in blocks of this size at least: each block
#: costs its own passes and intercept searches.
CERTIFICATE_MIN_BYTES = 8 * BLOCK_BYTES


@dataclass
class BatchedCertificate:
    """What the certificates of a block of models prove, one entry per model.

    Attributes
    ----------
    available : ndarray of bool of shape (A,)
        Whether the model has a certificate (it has a penalty).
    gap : ndarray of shape (A,)
        Upper bound on ``F_j - min F_j`` at ``theta[:, j]`` (solver units).
    objective : ndarray of shape (A,)
        ``F_j`` there.
    rounding : ndarray of shape (A,)
        How far rounding may have moved ``gap``.
    theta : array of shape (n_rows, A, k)
        The certified points: the models', intercepts moved to their best.
    n_passes : int
        Passes over ``X`` the certificates took.
    gradient_rounding : list of callable
        ``() -> float`` per model: how far the rounding of its gradient may
        move its gap (see :func:`._certificate.gradient_rounding_effect`).
    """

    available: np.ndarray
    gap: np.ndarray
    objective: np.ndarray
    rounding: np.ndarray
    theta: object
    n_passes: int
    gradient_rounding: list = None

    def at_precision_limit(self, j):
        """Whether model ``j``'s gap is within what rounding can account for.

        As :meth:`._certificate.Certificate.at_precision_limit`: the rounding
        of the gap's own sums, then (evaluated only when needed) that of the
        gradient it is computed from.
        """
        if self.gap[j] <= self.rounding[j]:
            return True
        extra = 0.0 if self.gradient_rounding is None else self.gradient_rounding[j]()
        return self.gap[j] <= self.rounding[j] + extra


def _side_by_side(z):
    """``(A, k, rows)`` as ``(k, A rows)``: the models as extra samples of one loss call."""
    xp = namespace(z)
    n_models, k, rows = z.shape
    return xp.reshape(xp.permute_dims(z, (1, 0, 2)), (k, n_models * rows))


def _per_model(values, n_models):
    """Inverse of :func:`_side_by_side` for ``(j, A rows)``: ``(A, j, rows)``."""
    xp = namespace(values)
    j = values.shape[0]
    return xp.permute_dims(xp.reshape(values, (j, n_models, -1)), (1, 0, 2))


def _shifted(z, shift):
    """Every model's logits moved by its shift ``(A, k)`` (numpy)."""
    xp = namespace(z)
    return z + xp.astype(from_numpy(shift, like=z), z.dtype)[:, :, None]


def _broadcast_targets(Y, n_models):
    xp = namespace(Y)
    k, rows = Y.shape
    return xp.reshape(xp.broadcast_to(Y[:, None, :], (k, n_models, rows)),
                      (k, n_models * rows))


def _curvature_weight(loss, z):
    """``tr d^2 l/dz^2`` per sample, ``(A, rows)``, as :func:`._problem._curvature_weight`."""
    xp = namespace(z)
    n_models = z.shape[0]
    diagonal, low_rank = loss.curvature(_side_by_side(z))
    weight = xp.sum(diagonal, axis=0) * (z.shape[1] if diagonal.shape[0] == 1 else 1)
    if low_rank is not None:
        weight = weight - xp.sum(low_rank * low_rank, axis=0)
    weight = xp.clip(weight, min=0.0) + float(np.finfo(np.float64).tiny)
    return xp.reshape(weight, (n_models, -1))


def _shift_sums(loss, z, Y, S):
    """Each model's ``sum s l``, ``sum s r`` ``(A, k)``, ``sum s d^2 l`` and ``sum s |r|``."""
    xp = namespace(z)
    n_models, k, _ = z.shape
    flat = _side_by_side(z)
    per_sample, residual = loss.loss_and_residual(flat, _broadcast_targets(Y, n_models))
    per_sample = xp.reshape(per_sample, (n_models, -1))
    residual = _per_model(residual, n_models)
    diagonal, low_rank = loss.curvature(flat)
    diagonal = _per_model(diagonal, n_models)
    value = xp.sum(per_sample * S, axis=1)
    residual_sum = xp.sum(residual * S[:, None, :], axis=2)
    magnitude = xp.sum(xp.abs(residual) * S[:, None, :], axis=(1, 2))
    diagonal_sum = xp.sum(diagonal * S[:, None, :], axis=2)
    if low_rank is None:
        coupling = xp.zeros((n_models, k, k), dtype=z.dtype, device=array_device(z))
    else:
        u = _per_model(low_rank, n_models)
        coupling = (u * S[:, None, :]) @ xp.permute_dims(u, (0, 2, 1))
    return value, residual_sum, diagonal_sum, coupling, magnitude


def optimal_intercept_shifts(samples, z, model_folds, loss, n_models, n_outputs):
    """Each model's :func:`._certificate.optimal_intercept_shift`, all evaluated together.

    The same Newton steps and halvings, model by model; each evaluation of
    the shift's objective reads every model's kept logits once (no pass over
    ``X``). Models whose search has ended keep their shift. A search gives
    up after three refused halvings where values tie (rounding), where the
    single search would try down to ``1e-10``; the gap pays for what is left
    of the intercept's optimality (its ``intercept_residual``).

    Returns
    -------
    shift : ndarray of shape (A, k)
    """
    k = n_outputs

    def sums(delta):
        value, gradient, diagonal, coupling, magnitude = (
            np.asarray(to_numpy(total), dtype=np.float64)
            for total in samples.reduce_logits(
                z, model_folds, lambda z_, Y, S: _shift_sums(loss, _shifted(z_, delta), Y, S)
            )
        )
        eye = np.eye(k)
        curvature = diagonal[:, :, None] * eye if diagonal.shape[1] == k else (
            diagonal[:, :1, None] * eye
        )
        return value, gradient, curvature - coupling, magnitude

    delta = np.zeros((n_models, k))
    value, gradient, curvature, magnitude = sums(delta)
    eps = float(np.finfo(numpy_float_dtype(samples.like)).eps)
    active = np.ones(n_models, dtype=bool)
    for _ in range(_MAX_SHIFT_STEPS):
        # A residual sum within the rounding of its own terms cannot shrink
        # further; the single search would go on stepping on rounding noise.
        active &= np.abs(gradient).max(axis=1) > SUM_ROUNDING_ULPS * eps * magnitude
        step = np.zeros((n_models, k))
        for j in np.flatnonzero(active):
            step[j] = -np.linalg.lstsq(curvature[j], gradient[j], rcond=None)[0]
        if loss.shift_invariant:
            step = step - np.mean(step, axis=1, keepdims=True)
        slope = np.sum(gradient * step, axis=1)
        active &= slope < 0
        if not active.any():
            break
        size = np.ones(n_models)
        searching = active.copy()
        moved = np.zeros(n_models, dtype=bool)
        new = (delta.copy(), value.copy(), gradient.copy(), curvature.copy(), magnitude.copy())
        while searching.any():
            trial = np.where(searching[:, None], delta + size[:, None] * step, delta)
            trial_value, trial_gradient, trial_curvature, trial_magnitude = sums(trial)
            decreases = trial_value <= value + 1e-4 * size * slope
            ties = trial_value <= value + 1e-13 * np.abs(value)
            smaller = np.abs(trial_gradient).max(axis=1) < np.abs(gradient).max(axis=1)
            taken = searching & (decreases | (ties & smaller))
            for array, source in zip(new, (trial, trial_value, trial_gradient,
                                           trial_curvature, trial_magnitude), strict=True):
                array[taken] = source[taken]
            moved |= taken
            searching &= ~taken
            size = np.where(searching, 0.5 * size, size)
            # A step whose value ties and whose gradient does not shrink
            # at 1, 1/2 and 1/4 of itself is at the rounding floor: the
            # shorter steps the single search would still try (down to
            # 1e-10) are refused in turn, each costing a read of the logits.
            searching &= (size >= 1e-10) & ~(ties & (size < 0.125))
        delta, value, gradient, curvature, magnitude = new
        active &= moved
    return delta


def _dual_rows(loss, z, Y, S):
    """Rows ``s r`` (``A k``) and ``s q`` (``A``) whose products with ``X`` the gap needs."""
    xp = namespace(z)
    n_models, k, _ = z.shape
    _, residual = loss.loss_and_residual(_side_by_side(z), _broadcast_targets(Y, n_models))
    residual = _per_model(residual, n_models) * S[:, None, :]
    weight = _curvature_weight(loss, z) * S
    return xp.concat([xp.reshape(residual, (n_models * k, -1)), weight], axis=0)


def _dual_sums(loss, z, Y, S):
    """Sums over samples per model: ``s l``, ``s r``, ``s q``, ``s q z``, ``s r^2``, ``s y^2``."""
    xp = namespace(z)
    n_models = z.shape[0]
    per_sample, residual = loss.loss_and_residual(_side_by_side(z),
                                                  _broadcast_targets(Y, n_models))
    per_sample = xp.reshape(per_sample, (n_models, -1))
    residual = _per_model(residual, n_models)
    weight = _curvature_weight(loss, z) * S
    return (xp.sum(per_sample * S, axis=1), xp.sum(residual * S[:, None, :], axis=2),
            xp.sum(weight, axis=1), xp.sum(z * weight[:, None, :], axis=2),
            xp.sum(residual * residual * S[:, None, :], axis=(1, 2)),
            xp.sum(xp.sum(Y * Y, axis=0)[None, :] * S, axis=1))


def certify_block(problem, theta, models):
    """The certificates of the models ``models`` at ``theta`` ``(n_rows, A, k)``.

    Two passes over ``X`` for the whole block (the logits, then one product
    ``X^T``), as a single fit's duality gap, model by model the same
    formulas. See :class:`BatchedCertificate`.
    """
    xp = namespace(theta)
    loss, k, samples = problem.loss, problem.n_outputs, problem.samples
    n_models = models.size
    l1 = problem.grid.l1_strengths[models.indices]
    l2 = problem.grid.l2_strengths[models.indices]
    available = (l1 > 0) | (l2 > 0)
    folds = models.folds
    w, b = problem.to_original(theta, models)
    z = samples.logits(w, b)
    shift = np.zeros((n_models, k))
    if problem.fit_intercept:
        shift = optimal_intercept_shifts(samples, z, folds, loss, n_models, k)
        b = b + xp.astype(from_numpy(shift, like=b), b.dtype)
    S = np.asarray(to_numpy(samples.fold_totals), dtype=np.float64)[problem.grid.folds[
        models.indices]]
    products = to_numpy(samples.correlate_logits(
        z, folds, lambda z_, Y, S_: _dual_rows(loss, _shifted(z_, shift), Y, S_)
    ))
    gradient_w = products[:, : n_models * k].reshape(-1, n_models, k) / S[None, :, None]
    weighted_feature_sum = products[:, n_models * k:]
    loss_sum, residual_sum, weight_sum, weighted_logits, residual_power, target_power = (
        np.asarray(to_numpy(total), dtype=np.float64)
        for total in samples.reduce_logits(
            z, folds, lambda z_, Y, S_: _dual_sums(loss, _shifted(z_, shift), Y, S_)
        )
    )
    w_host = to_numpy(w)
    dtype = numpy_float_dtype(w_host)
    b_host = np.asarray(to_numpy(b), dtype=np.float64)
    gap = np.full(n_models, np.inf)
    rounding = np.zeros(n_models)
    objective = np.full(n_models, np.inf)
    for j in range(n_models):
        correlation, intercept_residual = gradient_w[:, j, :], 0.0
        if problem.fit_intercept:
            gradient_b = residual_sum[j] / S[j]
            reference_point = np.asarray(weighted_feature_sum[:, j], dtype=np.float64) / float(
                weight_sum[j])
            correlation = gradient_w[:, j, :] - np.outer(reference_point, gradient_b)
            intercept_residual = float(np.sum(weighted_logits[j] / float(weight_sum[j])
                                              * gradient_b))
        w_j = w_host[:, j, :]
        penalty = 0.5 * l2[j] * float(np.sum(np.asarray(w_j, np.float64) ** 2)) + l1[j] * float(
            np.sum(np.abs(np.asarray(w_j, np.float64))))
        objective[j] = float(loss_sum[j]) / S[j] + penalty
        if not available[j]:
            continue

        def loss_gap_at(t, j=j):
            (total,) = samples.reduce_logits(
                z, folds, lambda z_, Y, S_: (
                    namespace(z_).sum(
                        loss.fenchel_young(_shifted(z_, shift)[j, ...], Y, t) * S_[j, ...]
                    ),
                )
            )
            return float(total) / S[j]

        gap[j], rounding[j] = duality_gap(
            np.asarray(correlation, dtype=dtype), w_j, l1=float(l1[j]), l2=float(l2[j]),
            loss_gap_at=loss_gap_at, intercept_residual=intercept_residual,
        )
    certified = problem.from_original(w, b, models)
    eps = float(np.finfo(dtype).eps)

    def gradient_rounding(j):
        return gradient_rounding_effect(
            np.asarray(w_host[:, j, :], dtype=np.float64), b_host[j],
            float(np.sqrt(residual_power[j] / S[j])), float(np.sqrt(target_power[j] / S[j])),
            float(l1[j]), float(l2[j]), feature_rms=problem.feature_rms(), eps=eps,
            curvature_bound=loss.curvature_bound,
        )

    return BatchedCertificate(available, gap, objective, rounding, certified, 2,
                              [lambda j=j: gradient_rounding(j) for j in range(n_models)])


def certify(problem, theta, models):
    """:func:`certify_block` in blocks of models whose kept logits fit the memory budget.

    Returns a :class:`BatchedCertificate` of all the models of ``models``.
    """
    xp = namespace(theta)
    n_models = models.size
    per_model = problem.samples.n_rows * problem.n_outputs * np.dtype(
        numpy_float_dtype(problem.samples.like)).itemsize
    budget = max(CERTIFICATE_MEMORY_FRACTION * problem.samples.nbytes, CERTIFICATE_MIN_BYTES)
    block = max(1, int(budget // max(per_model, 1)))
    pieces = []
    for start in range(0, n_models, block):
        local = np.arange(start, min(start + block, n_models))
        sub = problem.active(models.indices[local])
        columns = xp.take(theta, xp.asarray(local, dtype=xp.int64,
                                            device=array_device(theta)), axis=1)
        pieces.append(certify_block(problem, columns, sub))
    if len(pieces) == 1:
        return pieces[0]
    return BatchedCertificate(
        *(np.concatenate([getattr(piece, name) for piece in pieces])
          for name in ("available", "gap", "objective", "rounding")),
        xp.concat([piece.theta for piece in pieces], axis=1),
        sum(piece.n_passes for piece in pieces),
        [function for piece in pieces for function in piece.gradient_rounding],
    )
